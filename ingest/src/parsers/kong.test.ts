import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type ApiEvent, apiEventValidator } from '@apiwatch/core';
import { createIdentityContext } from '../identity/context.ts';
import { goldenEvents } from './golden/harness.ts';
import { kongParser, redactKongRecord } from './kong.ts';
import type { ParseContext, RawRecord } from './types.ts';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '../../..');
const fixtures = join(repo, 'test/fixtures/public/kong');
const identity = createIdentityContext(Buffer.from('0123456789abcdef0123456789abcdef'), 'test');
const ctx: ParseContext = { identity, gateway: null, now: 1_700_000_000_000 };

const golden = async (file: string) =>
  (await goldenEvents(kongParser, file, ctx, join(here, 'golden', `${basename(file)}.ndjson`))).events;

function parseOne(value: unknown): ApiEvent[] {
  const r = kongParser.parse({ text: JSON.stringify(value), json: value }, ctx);
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  return r.value;
}

const BASE = {
  request: {
    method: 'GET',
    uri: '/orders/7?expand=1',
    url: 'https://api.example.com:8443/orders/7?expand=1',
    size: 120,
    headers: { host: 'api.example.com', 'user-agent': 'curl/8' },
    querystring: { expand: '1' },
  },
  response: { status: 200, size: 512, headers: {} },
  latencies: { request: 12, proxy: 10, kong: 2 },
  client_ip: '203.0.113.9',
  started_at: 1_726_783_839_538,
};

describe('kong parser: golden fixtures', () => {
  it('3.8 docs sample: request id, route prefix not a template, no identity', async () => {
    const [e] = await golden(join(fixtures, 'log-serializer-3.8-docs-sample.json'));
    assert.ok(e);
    assert.equal(e.request.requestId, '2f6946328ffc4946b8c9120704a4a155');
    assert.equal(e.ts, 1_726_783_839_538);
    assert.equal(e.request.path, '/example-route');
    assert.equal(e.request.route, null);
    assert.equal(e.request.scheme, 'http');
    assert.equal(e.request.host, 'localhost:8000');
    assert.equal(e.response.latencyMs, 173);
    assert.equal(e.response.bytes, 9982);
    assert.equal(e.client.ip, '192.168.65.1');
    assert.equal(e.identity.credential.kind, 'none');
    assert.equal(e.identity.principal, 'anonymous');
  });

  it('2.2.1: consumer becomes the calling service, authenticated_entity the credential ref', async () => {
    const [e] = await golden(join(fixtures, 'log-serializer-2.2.1-docs-sample-consumer.json'));
    assert.ok(e);
    assert.equal(e.identity.service, 'foo');
    assert.equal(e.identity.credential.ref, 'c62c1455-9b1d-4f2d-8797-509ba83b8ae8');
    assert.equal(e.identity.credential.kind, 'api_key');
    assert.equal(e.identity.auth, 'success');
    assert.equal(e.request.bytes, 138);
  });

  it('1.0: string sizes, tls without a verified client cert, consumer', async () => {
    const [e] = await golden(join(fixtures, 'log-serializer-1.0-docs-sample-tls-consumer.json'));
    assert.ok(e);
    assert.equal(e.request.bytes, 75);
    assert.equal(e.response.bytes, 434);
    assert.equal(e.identity.service, 'demo');
    assert.notEqual(e.identity.credential.kind, 'mtls');
  });

  it('0.x legacy: the raw key in authenticated_entity.key is fingerprinted, never output', async () => {
    const [e] = await golden(join(fixtures, 'log-serializer-0.x-legacy-loggly-docs-sample-apikey.json'));
    assert.ok(e);
    assert.equal(e.identity.credential.kind, 'api_key');
    assert.equal(e.identity.credential.fingerprint, identity.fingerprint('2b64e2f0193851d4135a2e885cd08a65'));
    assert.equal(e.identity.credential.ref, 'eaa330c0-4cff-47f5-c79e-b2e4f355207e');
    assert.equal(e.identity.service, 'bar');
    assert.equal(e.request.path, '/get');
    assert.ok(!JSON.stringify(e).includes('2b64e2f0193851d4135a2e885cd08a65'));
  });
});

describe('kong parser: edge cases', () => {
  const cases: Array<{
    name: string;
    patch: (r: typeof BASE & Record<string, unknown>) => unknown;
    check: (e: ApiEvent) => void;
  }> = [
    {
      name: 'query string is split off the path and its keys kept, values dropped',
      patch: (r) => r,
      check: (e) => {
        assert.equal(e.request.path, '/orders/7');
        assert.deepEqual(e.request.queryKeys, ['expand']);
        assert.equal(e.request.scheme, 'https');
      },
    },
    {
      name: 'x-api-key header → fingerprinted api_key credential',
      patch: (r) => ({
        ...r,
        request: { ...r.request, headers: { ...r.request.headers, 'x-api-key': 'sk_live_header_key_1' } },
      }),
      check: (e) => {
        assert.equal(e.identity.credential.kind, 'api_key');
        assert.equal(e.identity.credential.fingerprint, identity.fingerprint('sk_live_header_key_1'));
      },
    },
    {
      name: 'apikey in the querystring → fingerprinted, key name kept, value not',
      patch: (r) => ({
        ...r,
        request: {
          ...r.request,
          uri: '/orders/7?apikey=qs_secret_9',
          querystring: { apikey: 'qs_secret_9' },
        },
      }),
      check: (e) => {
        assert.equal(e.identity.credential.fingerprint, identity.fingerprint('qs_secret_9'));
        assert.deepEqual(e.request.queryKeys, ['apikey']);
      },
    },
    {
      name: 'repeated header logged as an array: the first value is used',
      patch: (r) => ({
        ...r,
        request: { ...r.request, headers: { ...r.request.headers, 'user-agent': ['ua-one', 'ua-two'] } },
      }),
      check: (e) => assert.equal(e.client.userAgent, 'ua-one'),
    },
    {
      name: '3.x REDACTED authorization with an authenticated entity → session credential with ref',
      patch: (r) => ({
        ...r,
        request: { ...r.request, headers: { ...r.request.headers, authorization: 'REDACTED' } },
        authenticated_entity: { id: 'cred-1' },
        consumer: { id: 'c1', username: 'mobile-app' },
      }),
      check: (e) => {
        assert.equal(e.identity.credential.kind, 'session');
        assert.equal(e.identity.credential.ref, 'cred-1');
        assert.equal(e.identity.credential.fingerprint, null);
        assert.equal(e.identity.service, 'mobile-app');
        assert.equal(e.identity.auth, 'success');
      },
    },
    {
      name: 'pre-3.x clear bearer JWT → jwt credential with the sub as user',
      patch: (r) => ({
        ...r,
        request: {
          ...r.request,
          headers: {
            ...r.request.headers,
            authorization: `Bearer ${jwt({ sub: 'alice', iss: 'https://idp' })}`,
          },
        },
      }),
      check: (e) => {
        assert.equal(e.identity.credential.kind, 'jwt');
        assert.equal(e.identity.user, 'alice');
        assert.equal(e.identity.credential.issuer, 'https://idp');
      },
    },
    {
      name: 'gateway-answered 401 (source kong) → auth failure',
      patch: (r) => ({
        ...r,
        response: { status: 401, size: 80 },
        source: 'kong',
        latencies: { request: 1, proxy: -1, kong: 1 },
      }),
      check: (e) => {
        assert.equal(e.identity.auth, 'failure');
        assert.equal(e.response.status, 401);
      },
    },
    {
      name: 'mTLS verified and mtls-auth consumer → mtls credential naming the consumer',
      patch: (r) => ({
        ...r,
        request: { ...r.request, tls: { version: 'TLSv1.3', client_verify: 'SUCCESS' } },
        consumer: { id: 'c2', username: 'billing-svc' },
      }),
      check: (e) => {
        assert.equal(e.identity.credential.kind, 'mtls');
        assert.equal(e.identity.service, 'billing-svc');
        assert.equal(e.identity.principal, 'batch');
      },
    },
    {
      name: 'trace_id from the tracing plugin and a request id',
      patch: (r) => ({
        ...r,
        trace_id: { w3c: '4BF92F3577B34DA6A3CE929D0E0E4736' },
        request: { ...r.request, id: 'abc123' },
      }),
      check: (e) => {
        assert.equal(e.trace.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
        assert.equal(e.request.requestId, 'abc123');
      },
    },
    {
      name: 'no started_at → ingest time; numeric strings are coerced',
      patch: (r) => ({
        ...r,
        started_at: undefined,
        request: { ...r.request, size: '99' },
        response: { status: '204', size: '0' },
      }),
      check: (e) => {
        assert.equal(e.ts, ctx.now);
        assert.equal(e.request.bytes, 99);
        assert.equal(e.response.status, 204);
      },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const events = parseOne(c.patch(structuredClone(BASE) as typeof BASE & Record<string, unknown>));
      assert.equal(events.length, 1);
      assert.ok(apiEventValidator.check(events[0]), apiEventValidator.explain(events[0]));
      c.check(events[0]!);
    });
  }

  const rejects: Array<{ name: string; record: RawRecord; code: string }> = [
    { name: 'not JSON', record: { text: '{"request":' }, code: 'INGEST_PARSE_INVALID_JSON' },
    { name: 'a JSON scalar', record: { text: '42', json: 42 }, code: 'INGEST_PARSE_UNRECOGNISED' },
    {
      name: 'no response',
      record: { text: '{}', json: { request: { method: 'GET', uri: '/' } } },
      code: 'INGEST_PARSE_UNRECOGNISED',
    },
    {
      name: 'no method',
      record: { text: '{}', json: { request: { uri: '/' }, response: { status: 200 } } },
      code: 'INGEST_PARSE_UNRECOGNISED',
    },
    {
      name: 'status out of range',
      record: { text: '{}', json: { request: { method: 'GET', uri: '/' }, response: { status: 1200 } } },
      code: 'INGEST_PARSE_UNRECOGNISED',
    },
  ];
  for (const c of rejects) {
    it(`rejects ${c.name}`, () => {
      const r = kongParser.parse(c.record, ctx);
      assert.equal(r.ok, false);
      if (!r.ok) assert.equal(r.error.code, c.code);
    });
  }

  it('a whole http-log batch given as one record yields one event per entry', () => {
    const batch = [BASE, { ...BASE, request: { ...BASE.request, method: 'POST' } }];
    const r = kongParser.parse({ text: JSON.stringify(batch), json: batch }, ctx);
    assert.ok(r.ok);
    assert.deepEqual(
      r.value.map((e) => e.request.method),
      ['GET', 'POST'],
    );
  });

  it('redactKongRecord removes keys from headers, query values and the 0.x entity', () => {
    const legacy = JSON.parse(
      readFileSync(join(fixtures, 'log-serializer-0.x-legacy-loggly-docs-sample-apikey.json'), 'utf8'),
    );
    legacy.request.headers.apikey = 'hdr_secret_value';
    legacy.request.querystring = { apikey: 'qs_secret_value' };
    legacy.request.uri = '/get?apikey=qs_secret_value';
    const text = JSON.stringify(redactKongRecord(legacy));
    for (const secret of ['2b64e2f0193851d4135a2e885cd08a65', 'hdr_secret_value', 'qs_secret_value'])
      assert.ok(!text.includes(secret), secret);
    assert.ok(text.includes('"uri":"/get?[REDACTED]"'));
  });
});

describe('apiwatch parse --format kong with API keys', () => {
  it('one event per record, and the raw keys appear nowhere on stdout or stderr', () => {
    const keys = ['kx_live_0001_aaaaaaaaaaaa', 'kx_live_0002_bbbbbbbbbbbb', 'kx_live_0003_cccccccccccc'];
    const records = [
      { ...BASE, request: { ...BASE.request, headers: { ...BASE.request.headers, apikey: keys[0] } } },
      { ...BASE, request: { ...BASE.request, headers: { ...BASE.request.headers, 'x-api-key': keys[1] } } },
      {
        ...BASE,
        request: { ...BASE.request, uri: `/orders/7?apikey=${keys[2]}`, querystring: { apikey: keys[2] } },
      },
      // A record that cannot be read: its key must not leak through the error message either.
      { request: { uri: `/x?apikey=${keys[2]}`, headers: { apikey: keys[0] } }, response: { status: 200 } },
    ];
    const dir = mkdtempSync(join(tmpdir(), 'apiwatch-kong-'));
    const file = join(dir, 'kong.json');
    writeFileSync(file, JSON.stringify(records));
    const run = spawnSync(join(repo, 'cli/bin/apiwatch'), ['parse', '--format', 'kong', file], {
      encoding: 'utf8',
      env: {
        ...process.env,
        APIWATCH_FINGERPRINT_KEY: '00112233445566778899aabbccddeeff',
        APIWATCH_DATA_DIR: dir,
      },
      cwd: dir,
    });
    const lines = run.stdout.trim().split('\n').filter(Boolean);
    assert.equal(lines.length, 3, run.stderr);
    const events = lines.map((l) => JSON.parse(l) as ApiEvent);
    assert.deepEqual(
      events.map((e) => e.identity.credential.kind),
      ['api_key', 'api_key', 'api_key'],
    );
    assert.equal(new Set(events.map((e) => e.identity.credential.fingerprint)).size, 3);
    assert.match(run.stderr, /4 records → 3 events/);
    for (const k of keys) {
      assert.ok(!run.stdout.includes(k), `key on stdout: ${k}`);
      assert.ok(!run.stderr.includes(k), `key on stderr: ${k}`);
    }
  });
});

function jwt(claims: Record<string, unknown>): string {
  const b = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b({ alg: 'none' })}.${b(claims)}.sig`;
}
