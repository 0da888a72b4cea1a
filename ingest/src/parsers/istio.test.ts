import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { assertGolden, FIXTURES, goldenContext, parseEvent } from './golden/harness.ts';
import { istioParser } from './istio.ts';

describe('istio parser: golden fixtures', () => {
  for (const fixture of [
    'istio/text/istio-docs-default-format-sleep-httpbin.log',
    'istio/text/gloo-mesh-workshop-istio-egressgw-default-format.log',
    'istio/json/istio-ingressgw-custom-json-apikey-extauth-user.json',
  ]) {
    it(fixture, async () => {
      const lines = await assertGolden(istioParser, join(FIXTURES, fixture));
      assert.ok(lines.length > 0 && lines.every((l) => !l.startsWith('{"error"')));
    });
  }
});

describe('istio parser: text layouts', () => {
  const outbound =
    '[2020-11-25T21:26:18.409Z] "GET /status/418 HTTP/1.1" 418 - via_upstream - "-" 0 135 4 4 "-" "curl/7.73.0-DEV" "84961386-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" "10.44.1.27:80" outbound|8000||httpbin.foo.svc.cluster.local 10.44.1.23:37652 10.0.45.184:8000 10.44.1.23:46520 - default';
  const inbound =
    '[2020-11-25T21:26:18.409Z] "GET /status/418 HTTP/1.1" 418 - via_upstream - "-" 0 135 3 1 "-" "curl/7.73.0-DEV" "84961386-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" "127.0.0.1:80" inbound|8000|| 127.0.0.1:41854 10.44.1.27:80 10.44.1.23:37652 outbound_.8000_._.httpbin.foo.svc.cluster.local default';

  it('Istio >= 1.9 default (21 tokens): the client and server sidecar lines', () => {
    const out = parseEvent(istioParser, outbound);
    const inb = parseEvent(istioParser, inbound);
    assert.equal(out.response.status, 418);
    assert.equal(out.response.latencyMs, 4);
    assert.equal(inb.response.latencyMs, 3);
    assert.equal(out.client.peerIp, '10.44.1.23');
    assert.equal(inb.client.peerIp, '10.44.1.23');
    assert.equal(out.request.host, 'httpbin:8000');
    assert.equal(out.source.kind, 'istio');
    // Both sidecars saw one call: the same request id, two observations (two event ids).
    assert.equal(out.request.requestId, inb.request.requestId);
    assert.notEqual(out.id, inb.id);
  });

  it('Istio < 1.9 default (20 tokens, mixer status)', () => {
    const e = parseEvent(
      istioParser,
      '[2020-03-02T10:00:00.000Z] "POST /api/login?next=%2F HTTP/2" 401 - "-" "-" 120 30 7 6 "203.0.113.7, 10.0.0.9" "okhttp/4.9" "rid-1" "shop.example.com" "10.1.0.5:8080" outbound|8080||auth.shop.svc.cluster.local 10.1.0.9:40000 10.1.0.5:8080 10.1.0.7:50000 - -',
    );
    assert.equal(e.request.method, 'POST');
    assert.equal(e.request.path, '/api/login');
    assert.deepEqual(e.request.queryKeys, ['next']);
    assert.equal(e.response.status, 401);
    assert.equal(e.identity.auth, 'failure');
    assert.equal(e.request.bytes, 120);
    assert.equal(e.client.ip, '203.0.113.7');
    assert.equal(e.client.peerIp, '10.1.0.7');
  });

  it('a failure reason with spaces stays one token', () => {
    const e = parseEvent(
      istioParser,
      '[2023-05-11T20:10:30.274Z] "GET /x HTTP/1.1" 503 UF upstream_reset_before_response_started{connection_failure} - "delayed connect error: 111" 0 91 2 - "-" "curl/8" "rid-2" "svc:80" "10.0.0.3:80" outbound|80||svc.default.svc.cluster.local - 10.0.0.9:80 10.0.0.4:5000 - default',
    );
    assert.equal(e.response.status, 503);
    assert.equal(e.response.bytes, 91);
    assert.equal(e.response.latencyMs, 2);
  });

  it('istio JSON, newer typing, with an IPv6 downstream', () => {
    const e = parseEvent(istioParser, {
      text: '',
      json: {
        authority: 'reviews:9080',
        bytes_received: 0,
        bytes_sent: 358,
        downstream_remote_address: '[fd00::5]:43210',
        duration: 12,
        method: 'GET',
        path: '/reviews/0',
        protocol: 'HTTP/1.1',
        request_id: 'e1a3-…',
        response_code: 200,
        start_time: '2024-06-01T10:00:00.123Z',
        upstream_service_time: '11',
        user_agent: null,
        x_forwarded_for: null,
      },
    });
    assert.equal(e.client.ip, 'fd00::5');
    assert.equal(e.response.bytes, 358);
    assert.equal(e.ts, Date.UTC(2024, 5, 1, 10, 0, 0, 123));
  });

  it('types what it cannot read', () => {
    const r = istioParser.parse({ text: 'GET / 200' }, goldenContext());
    assert.equal(r.ok ? 'ok' : r.error.code, 'INGEST_PARSE_UNRECOGNISED');
  });
});
