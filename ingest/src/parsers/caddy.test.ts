import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { caddyParser } from './caddy.ts';
import { assertGolden, goldenContext, parseEvent, TESTDATA } from './golden/harness.ts';

const entry = (over: Record<string, unknown> = {}, request: Record<string, unknown> = {}) => ({
  level: 'info',
  ts: 1_700_000_001.5,
  logger: 'http.log.access.log0',
  msg: 'handled request',
  request: {
    remote_ip: '10.0.0.8',
    remote_port: '51234',
    proto: 'HTTP/2.0',
    method: 'GET',
    host: 'api.example.com',
    uri: '/v1/users/9?expand=orders',
    headers: { 'User-Agent': ['curl/8.5.0'], Accept: ['*/*'] },
    ...request,
  },
  user_id: '',
  duration: 0.25,
  size: 512,
  bytes_read: 0,
  status: 200,
  ...over,
});

describe('caddy parser: golden fixtures', () => {
  it('caddy-2.6-json-access.ndjson (real Caddy 2.6.2)', async () => {
    const lines = await assertGolden(caddyParser, join(TESTDATA, 'caddy-2.6-json-access.ndjson'));
    assert.ok(lines.length >= 8 && lines.every((l) => !l.startsWith('{"error"')));
    const jwt = lines.map((l) => JSON.parse(l)).find((e) => e.request.path === '/api/me');
    assert.equal(jwt.identity.credential.kind, 'jwt');
    assert.equal(jwt.identity.user, 'user-jwt-7');
  });
});

describe('caddy parser: fields and units', () => {
  it('ts is the end: the start is ts - duration (seconds)', () => {
    const e = parseEvent(caddyParser, { text: '', json: entry() });
    assert.equal(e.ts, 1_700_000_001_250);
    assert.equal(e.response.latencyMs, 250);
    assert.equal(e.request.path, '/v1/users/9');
    assert.deepEqual(e.request.queryKeys, ['expand']);
    assert.equal(e.client.peerIp, '10.0.0.8');
    assert.equal(e.client.userAgent, 'curl/8.5.0');
    assert.equal(e.response.bytes, 512);
    assert.equal(e.request.scheme, 'http');
  });

  it('duration in nanoseconds and as a Go duration string; ts as ISO 8601', () => {
    assert.equal(
      parseEvent(caddyParser, { text: '', json: entry({ duration: 1_500_000 }) }).response.latencyMs,
      1.5,
    );
    assert.equal(
      parseEvent(caddyParser, { text: '', json: entry({ duration: '2.5ms' }) }).response.latencyMs,
      2.5,
    );
    const iso = parseEvent(caddyParser, {
      text: '',
      json: entry({ ts: '2024-03-01T12:00:00.500Z', duration: 0.5 }),
    });
    assert.equal(iso.ts, Date.UTC(2024, 2, 1, 12, 0, 0));
  });

  it('older Caddy (remote_addr), TLS, X-Forwarded-For, user_id from basic_auth', () => {
    const e = parseEvent(caddyParser, {
      text: '',
      json: entry(
        { user_id: 'carol' },
        {
          remote_ip: undefined,
          remote_addr: '[2001:db8::9]:443',
          tls: { version: 772, server_name: 'api.example.com' },
          headers: { 'X-Forwarded-For': ['203.0.113.3, 10.0.0.1'], Authorization: ['REDACTED'] },
        },
      ),
    });
    assert.equal(e.client.peerIp, '2001:db8::9');
    assert.equal(e.client.ip, '203.0.113.3');
    assert.equal(e.request.scheme, 'https');
    assert.equal(e.identity.credential.kind, 'basic');
    assert.equal(e.identity.user, 'carol');
  });

  it('client_ip (v2.7+) wins over X-Forwarded-For; an API key header is fingerprinted, never kept', () => {
    const e = parseEvent(caddyParser, {
      text: '',
      json: entry(
        {},
        {
          client_ip: '192.0.2.44',
          headers: { 'X-Forwarded-For': ['6.6.6.6'], 'X-Api-Key': ['sk_live_abcdef123456'] },
        },
      ),
    });
    assert.equal(e.client.ip, '192.0.2.44');
    assert.equal(e.identity.credential.kind, 'api_key');
    assert.match(e.identity.credential.fingerprint ?? '', /^golden:/);
    assert.ok(!JSON.stringify(e).includes('sk_live_abcdef123456'));
  });

  it('types what it cannot read', () => {
    const cases: Array<[unknown, string]> = [
      [{ level: 'info', msg: 'serving initial configuration' }, 'INGEST_PARSE_UNRECOGNISED'],
      [entry({ status: 'abc' }), 'INGEST_PARSE_UNRECOGNISED'],
      [entry({ ts: 'not a time' }), 'INGEST_PARSE_UNRECOGNISED'],
      [entry({}, { method: 'GET /' }), 'INGEST_PARSE_UNRECOGNISED'],
    ];
    for (const [json, code] of cases) {
      const r = caddyParser.parse({ text: JSON.stringify(json), json }, goldenContext());
      assert.equal(r.ok ? 'ok' : r.error.code, code, JSON.stringify(json));
    }
    const bad = caddyParser.parse({ text: '{"ts":1' }, goldenContext());
    assert.equal(bad.ok ? 'ok' : bad.error.code, 'INGEST_PARSE_INVALID_JSON');
  });
});
