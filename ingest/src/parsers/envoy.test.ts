import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { envoyParser } from './envoy.ts';
import { assertGolden, FIXTURES, goldenContext, parseEvent } from './golden/harness.ts';

const jwt = (claims: Record<string, unknown>) =>
  `${Buffer.from('{"alg":"RS256","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2lnbmF0dXJlLXNlY3JldA`;

describe('envoy parser: golden fixtures', () => {
  for (const fixture of [
    'envoy/text/envoy-docs-default-format.log',
    'envoy/json/envoy-gateway-default-json-500-direct-response.json',
    'envoy/json/gloo-gateway-json-extauth-user-id.json',
  ]) {
    it(fixture, async () => {
      const lines = await assertGolden(envoyParser, join(FIXTURES, fixture));
      assert.ok(lines.length > 0);
      assert.ok(
        lines.every((l) => !l.startsWith('{"error"')),
        'every fixture record is read',
      );
    });
  }
});

describe('envoy parser: default text format', () => {
  const cases: Array<{ name: string; line: string; expect: Record<string, unknown> }> = [
    {
      name: 'docs example',
      line: '[2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100 "10.0.35.28" "nsq2http" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "locations" "tcp://10.0.2.1:80"',
      expect: {
        ts: Date.UTC(2016, 3, 15, 20, 17, 0, 310),
        method: 'POST',
        path: '/api/v1/locations',
        status: 204,
        bytesIn: 154,
        bytesOut: 0,
        latency: 226,
        client: '10.0.35.28',
        requestId: 'cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2',
        host: 'locations',
        ua: 'nsq2http',
      },
    },
    {
      name: '"-" everywhere, status 0 (client went away)',
      line: '[2024-01-02T03:04:05.006Z] "- - -" 0 DC 0 0 1 - "-" "-" "-" "-" "-"',
      expect: {
        method: 'UNKNOWN',
        path: '/',
        status: 0,
        client: null,
        requestId: null,
        host: null,
        ua: null,
        latency: 1,
      },
    },
    {
      name: 'XFF list with IPv6 first hop, query keys, UA with spaces',
      line: '[2024-01-02T03:04:05.006Z] "GET /users/42/orders?limit=10&cursor=abc HTTP/1.1" 200 - 0 512 12 10 "2001:db8::7, 10.0.0.1" "Mozilla/5.0 (X11; Linux x86_64)" "r-1" "api.example.com" "10.0.2.1:8080"',
      expect: {
        path: '/users/42/orders',
        query: ['limit', 'cursor'],
        client: '2001:db8::7',
        ua: 'Mozilla/5.0 (X11; Linux x86_64)',
      },
    },
    {
      name: 'ext_authz denial (UAEX) is an auth failure',
      line: '[2024-01-02T03:04:05.006Z] "GET /admin HTTP/1.1" 403 UAEX 0 0 2 - "198.51.100.4" "curl/8" "r-2" "api" "-"',
      expect: { status: 403, auth: 'failure', client: '198.51.100.4' },
    },
    {
      name: 'START_TIME as epoch seconds (%START_TIME(%s.%3f)%)',
      line: '[1700000000.123] "GET / HTTP/1.1" 200 - 0 0 0 - "-" "-" "-" "-" "-"',
      expect: { ts: 1_700_000_000_123 },
    },
    {
      name: 'absolute-form target (forward proxy)',
      line: '[2024-01-02T03:04:05.006Z] "GET http://example.com/a/b?c=1 HTTP/1.1" 200 - 0 0 0 - "-" "-" "-" "-" "-"',
      expect: { path: '/a/b', query: ['c'] },
    },
    {
      name: 'garbage method',
      line: '[2024-01-02T03:04:05.006Z] "G<E>T / HTTP/1.1" 400 - 0 0 0 - "-" "-" "-" "-" "-"',
      expect: { method: 'UNKNOWN', status: 400 },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const e = parseEvent(envoyParser, c.line);
      const actual: Record<string, unknown> = {
        ts: e.ts,
        method: e.request.method,
        path: e.request.path,
        query: e.request.queryKeys,
        status: e.response.status,
        bytesIn: e.request.bytes,
        bytesOut: e.response.bytes,
        latency: e.response.latencyMs,
        client: e.client.ip,
        requestId: e.request.requestId,
        host: e.request.host,
        ua: e.client.userAgent,
        auth: e.identity.auth,
      };
      for (const [k, v] of Object.entries(c.expect)) assert.deepEqual(actual[k], v, k);
      assert.equal(e.source.kind, 'envoy');
    });
  }

  it('rejects lines that are not a known layout, with a typed error', () => {
    for (const line of [
      'hello world',
      '[2024-01-02T03:04:05.006Z] "GET / HTTP/1.1" 200',
      '[not a time] "GET / HTTP/1.1" 200 - 0 0 0 - "-" "-" "-" "-" "-"',
      '[2024-01-02T03:04:05.006Z] "GET / HTTP/1.1" 2000 - 0 0 0 - "-" "-" "-" "-" "-"',
      '[2024-01-02T03:04:05.006Z] "GET / HTTP/1.1 200 - 0 0 0 - "-" "-" "-" "-" "-',
    ]) {
      const r = envoyParser.parse({ text: line }, goldenContext());
      assert.equal(r.ok, false, line);
      if (!r.ok) assert.equal(r.error.code, 'INGEST_PARSE_UNRECOGNISED', line);
    }
  });
});

describe('envoy parser: JSON (old and new typing)', () => {
  it('older Envoy: every value a string, unset values "-"', () => {
    const e = parseEvent(envoyParser, {
      text: '',
      json: {
        start_time: '2020-11-25T21:26:18.409Z',
        method: 'GET',
        path: '/status/418?x=1',
        protocol: 'HTTP/1.1',
        response_code: '418',
        response_flags: '-',
        bytes_received: '0',
        bytes_sent: '135',
        duration: '4',
        upstream_service_time: '4',
        x_forwarded_for: '-',
        user_agent: 'curl/7.73.0-DEV',
        request_id: '84961386-6d84-929d-98bd-c5aee93b5c88',
        authority: 'httpbin:8000',
        downstream_remote_address: '10.44.1.23:46520',
        istio_policy_status: '-',
      },
    });
    assert.equal(e.response.status, 418);
    assert.equal(e.response.latencyMs, 4);
    assert.equal(e.response.bytes, 135);
    assert.equal(e.request.bytes, 0);
    assert.deepEqual(e.request.queryKeys, ['x']);
    assert.equal(e.client.ip, '10.44.1.23');
    assert.equal(e.client.peerIp, '10.44.1.23');
    assert.equal(e.request.requestId, '84961386-6d84-929d-98bd-c5aee93b5c88');
  });

  it('newer Envoy: numbers and null, hyphenated keys', () => {
    const e = parseEvent(envoyParser, {
      text: '',
      json: {
        ':authority': 'www.example.com',
        bytes_received: 17,
        bytes_sent: 2048,
        duration: 31,
        method: 'POST',
        response_code: 201,
        start_time: '2025-03-08T02:25:32.588Z',
        'user-agent': null,
        'x-envoy-origin-path': '/v1/orders',
        'x-forwarded-for': '203.0.113.50,10.0.0.2',
        'x-request-id': null,
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      },
    });
    assert.equal(e.ts, Date.UTC(2025, 2, 8, 2, 25, 32, 588));
    assert.equal(e.request.method, 'POST');
    assert.equal(e.request.host, 'www.example.com');
    assert.equal(e.request.bytes, 17);
    assert.equal(e.response.latencyMs, 31);
    assert.equal(e.client.ip, '203.0.113.50');
    assert.equal(e.client.userAgent, null);
    assert.equal(e.request.requestId, null);
    assert.equal(e.trace.traceId, '0af7651916cd43dd8448eb211c80319c');
    assert.equal(e.trace.spanId, 'b7ad6b7169203331');
  });

  it('a kept Authorization header becomes JWT claims and a fingerprint, never the token', () => {
    const token = jwt({
      sub: 'alice',
      iss: 'https://idp.example.com',
      client_id: 'web',
      scope: 'read write',
    });
    const record = {
      text: '',
      json: {
        start_time: '2025-01-01T00:00:00Z',
        method: 'GET',
        path: '/me',
        response_code: 200,
        authorization: `Bearer ${token}`,
      },
    };
    const e = parseEvent(envoyParser, record);
    assert.equal(e.identity.credential.kind, 'jwt');
    assert.equal(e.identity.user, 'alice');
    assert.equal(e.identity.service, 'web');
    assert.equal(e.identity.credential.issuer, 'https://idp.example.com');
    assert.deepEqual(e.identity.scopes, ['read', 'write']);
    assert.match(e.identity.credential.fingerprint ?? '', /^golden:/);
    assert.equal(e.identity.auth, 'success');
    const out = JSON.stringify(e);
    assert.ok(!out.includes(token.split('.')[2]!), 'no signature in the event');
    assert.ok(!out.includes(token.split('.')[1]!), 'no token payload in the event');
  });

  it('mTLS peer SPIFFE id becomes the calling service', () => {
    const e = parseEvent(envoyParser, {
      text: '',
      json: {
        start_time: '2025-01-01T00:00:00Z',
        method: 'GET',
        path: '/internal',
        response_code: 200,
        downstream_peer_uri_san: 'spiffe://cluster.local/ns/default/sa/productpage',
      },
    });
    assert.equal(e.identity.credential.kind, 'mtls');
    assert.equal(e.identity.service, 'spiffe://cluster.local/ns/default/sa/productpage');
    assert.equal(e.identity.principal, 'batch');
  });

  it('XFCC: the element of the nearest hop (the last) names the caller', () => {
    const e = parseEvent(envoyParser, {
      text: '',
      json: {
        start_time: '2025-01-01T00:00:00Z',
        method: 'GET',
        path: '/',
        response_code: 200,
        'x-forwarded-client-cert':
          'By=spiffe://cluster.local/ns/b/sa/b;Hash=abc;Subject="CN=a,O=x";URI=spiffe://cluster.local/ns/a/sa/a,By=spiffe://x;URI=spiffe://cluster.local/ns/z/sa/z',
      },
    });
    assert.equal(e.identity.service, 'spiffe://cluster.local/ns/z/sa/z');
    assert.equal(e.identity.credential.kind, 'mtls');
  });

  it('reads JSON given as text, and types its errors', () => {
    const e = parseEvent(
      envoyParser,
      '{"start_time":"2025-01-01T00:00:00Z","method":"DELETE","path":"/a","response_code":204}',
    );
    assert.equal(e.request.method, 'DELETE');
    const bad = envoyParser.parse({ text: '{"start_time":' }, goldenContext());
    assert.equal(bad.ok ? 'ok' : bad.error.code, 'INGEST_PARSE_INVALID_JSON');
    const noStatus = envoyParser.parse({ text: '', json: { method: 'GET', path: '/' } }, goldenContext());
    assert.equal(noStatus.ok ? 'ok' : noStatus.error.code, 'INGEST_PARSE_UNRECOGNISED');
    const arr = envoyParser.parse({ text: '', json: [1, 2] }, goldenContext());
    assert.equal(arr.ok ? 'ok' : arr.error.code, 'INGEST_PARSE_UNRECOGNISED');
  });
});
