import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createIdentityContext } from '../identity/context.ts';
import { goldenEvents } from './golden/harness.ts';
import { normaliseRoute, otlpLogEvents, otlpParser, otlpTraceEvents } from './otlp.ts';
import { collectorDebugToOtlp, debugTimeToNanos } from './otlp-debug.ts';
import type { ParseContext } from './types.ts';

const here = dirname(fileURLToPath(import.meta.url));
const shared = join(here, '../../../test/fixtures/public');
const identity = createIdentityContext(Buffer.from('0123456789abcdef0123456789abcdef'), 'test');
const ctx: ParseContext = { identity, gateway: null, now: 1_700_000_000_000 };

const golden = async (file: string) =>
  (await goldenEvents(otlpParser, file, ctx, join(here, 'golden', `${basename(file)}.ndjson`))).events;

const kv = (key: string, value: unknown) => ({
  key,
  value:
    typeof value === 'number'
      ? Number.isInteger(value)
        ? { intValue: String(value) }
        : { doubleValue: value }
      : Array.isArray(value)
        ? { arrayValue: { values: value.map((v) => ({ stringValue: v })) } }
        : { stringValue: value },
});

function traceRequest(spans: Array<Record<string, unknown>>, service = 'orders-api') {
  return {
    resourceSpans: [
      {
        resource: { attributes: [kv('service.name', service)] },
        scopeSpans: [{ scope: { name: 't' }, spans }],
      },
    ],
  };
}

const SERVER = {
  traceId: '5B8EFFF798038103D269B633813FC60C',
  spanId: 'EEE19B7EC3C1B174',
  parentSpanId: 'EEE19B7EC3C1B173',
  name: 'GET /users/:id',
  kind: 2,
  startTimeUnixNano: '1544712660123456789',
  endTimeUnixNano: '1544712660223456789',
  attributes: [
    kv('http.request.method', 'GET'),
    kv('url.path', '/users/42'),
    kv('http.route', '/users/:id'),
    kv('http.response.status_code', 200),
  ],
};

describe('otlp parser: golden fixtures', () => {
  it('JS SDK 2 (stable semconv): the three server spans, templated routes, client address', async () => {
    const events = await golden(join(shared, 'otel/generated-otel-js-sdk2-stable-semconv.otlp.ndjson'));
    assert.deepEqual(
      events.map((e) => [e.request.method, e.request.path, e.response.status]),
      [
        ['GET', '/api/users/1001/orders/55', 200],
        ['GET', '/api/users/1002/orders/56', 403],
        ['POST', '/api/login', 401],
      ],
    );
    const first = events[0]!;
    assert.equal(first.request.route, '/api/users/{userId}/orders/{orderId}');
    assert.deepEqual(first.request.queryKeys, ['expand']);
    assert.equal(first.client.ip, '203.0.113.7');
    assert.equal(first.client.peerIp, '127.0.0.1');
    assert.equal(first.ts, 1_795_827_951_690);
    assert.equal(first.response.latencyMs, 8.061906);
    assert.equal(first.trace.traceId, 'd6d84d884658063073a553c6b09d890a');
    assert.equal(first.source.gateway, 'orders-api');
    assert.equal(events[2]!.identity.auth, 'failure');
  });

  it('JS SDK 1 (legacy semconv): http.target split, http.client_ip, net.peer.ip', async () => {
    const events = await golden(join(shared, 'otel/generated-otel-js-sdk1-legacy-semconv.otlp.ndjson'));
    assert.equal(events.length, 3);
    assert.equal(events[0]!.request.path, '/api/users/1001/orders/55');
    assert.deepEqual(events[0]!.request.queryKeys, ['expand']);
    assert.equal(events[0]!.client.ip, '203.0.113.7');
    assert.equal(events[2]!.client.ip, '127.0.0.1', 'no http.client_ip: the peer');
  });

  it('proto examples: a server span without HTTP attributes is an inbound call kept under its span name; an application log is not an API call', async () => {
    const spans = await golden(join(shared, 'otel/otlp-proto-example-trace.json'));
    assert.equal(spans.length, 1);
    assert.equal(spans[0]!.request.method, 'UNKNOWN');
    assert.equal(spans[0]!.request.path, "/I'm a server span");
    assert.equal(spans[0]!.response.status, 0, 'no HTTP or gRPC status: unknown');
    assert.equal(spans[0]!.response.latencyMs, 1000);
    assert.equal(spans[0]!.source.gateway, 'my.service');
    assert.equal((await golden(join(shared, 'otel/otlp-proto-example-logs.json'))).length, 0);
  });

  it('gRPC server spans: method and service from rpc.*, status from rpc.grpc.status_code', () => {
    const grpc = {
      ...SERVER,
      attributes: [
        { key: 'rpc.system', value: { stringValue: 'grpc' } },
        { key: 'rpc.service', value: { stringValue: 'shop.Orders' } },
        { key: 'rpc.method', value: { stringValue: 'GetOrder' } },
        { key: 'rpc.grpc.status_code', value: { intValue: '16' } },
      ],
    };
    const { events } = otlpTraceEvents(traceRequest([grpc]), ctx);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.request.method, 'POST');
    assert.equal(events[0]!.request.path, '/shop.Orders/GetOrder');
    assert.equal(events[0]!.response.status, 401, 'UNAUTHENTICATED');
    assert.equal(events[0]!.identity.auth, 'failure');
  });

  it('Kong 3.14 collector debug dump: the root server span and the api-access log record', async () => {
    const events = await golden(join(shared, 'kong/otel-plugin-3.14-collector-debug-output.txt'));
    assert.equal(events.length, 2);
    const [span, log] = events;
    assert.equal(span!.request.method, 'POST');
    assert.equal(span!.client.ip, '192.168.107.1');
    assert.equal(span!.trace.spanId, '7ddb4028163987aa');
    assert.equal(log!.request.requestId, '319d1e4e7862095f704a7d6c60e63260');
    assert.equal(log!.ts, 1_765_536_433_299, 'kong.request.started_at');
    assert.equal(log!.response.latencyMs, 119);
    assert.equal(log!.request.bytes, 131);
    assert.equal(log!.client.userAgent, 'curl/8.7.1');
    assert.equal(log!.trace.traceId, '111216d769f06a7486de78aaf6bb3056');
    // Both describe one request: the same request id and trace.
    assert.equal(span!.trace.traceId, log!.trace.traceId);
  });
});

describe('otlp parser: edge cases', () => {
  it('BigInt nanoseconds keep sub-ms precision that Number would lose', () => {
    const { events } = otlpTraceEvents(traceRequest([SERVER]), ctx);
    assert.equal(events[0]!.ts, 1_544_712_660_123);
    assert.equal(events[0]!.response.latencyMs, 100);
    assert.equal(events[0]!.trace.traceId, '5b8efff798038103d269b633813fc60c');
    assert.equal(events[0]!.request.route, '/users/{id}');
  });

  it('enum names are accepted for kind; client and internal spans are skipped', () => {
    const r = otlpTraceEvents(
      traceRequest([
        { ...SERVER, kind: 'SPAN_KIND_SERVER' },
        { ...SERVER, kind: 3 },
        { ...SERVER, kind: 1 },
      ]),
      ctx,
    );
    assert.equal(r.events.length, 1);
    assert.equal(r.skipped, 2);
  });

  it('the caller is the resource of the parent client span in the same request', () => {
    const request = {
      resourceSpans: [
        traceRequest([SERVER]).resourceSpans[0],
        {
          resource: { attributes: [kv('service.name', 'web-frontend')] },
          scopeSpans: [{ spans: [{ ...SERVER, spanId: 'EEE19B7EC3C1B173', parentSpanId: '', kind: 3 }] }],
        },
      ],
    };
    const { events } = otlpTraceEvents(request, ctx);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.identity.service, 'web-frontend');
  });

  it('_OTHER uses the original method; intValue as a number or string; captured header arrays', () => {
    const span = {
      ...SERVER,
      attributes: [
        kv('http.request.method', '_OTHER'),
        kv('http.request.method_original', 'PROPFIND'),
        kv('url.path', '/dav'),
        { key: 'http.response.status_code', value: { intValue: 207 } },
        kv('http.request.header.x-request-id', ['req-1']),
        kv('http.request.header.x-api-key', ['captured-key-1']),
      ],
    };
    const { events } = otlpTraceEvents(traceRequest([span]), ctx);
    assert.equal(events[0]!.request.method, 'PROPFIND');
    assert.equal(events[0]!.response.status, 207);
    assert.equal(events[0]!.request.requestId, 'req-1');
    assert.equal(events[0]!.identity.credential.fingerprint, identity.fingerprint('captured-key-1'));
    assert.ok(!JSON.stringify(events[0]).includes('captured-key-1'));
  });

  it('a server span with a method but no start time is rejected with where it was', () => {
    const r = otlpTraceEvents(traceRequest([{ ...SERVER, startTimeUnixNano: '0' }, SERVER]), ctx);
    assert.equal(r.events.length, 1);
    assert.deepEqual(r.rejected, [
      {
        where: 'resourceSpans[0].scopeSpans[0].spans[0]',
        reason: 'HTTP server span has no startTimeUnixNano',
      },
    ]);
  });

  it('Envoy OTel access logger: the text line in the body goes through the envoy parser', () => {
    const line =
      '[2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100 "10.0.35.28" "nsq2http" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "locations" "tcp://10.0.2.1:80"';
    const request = {
      resourceLogs: [
        {
          resource: { attributes: [kv('service.name', 'envoy')] },
          scopeLogs: [
            {
              logRecords: [
                {
                  timeUnixNano: '1460751420310000000',
                  body: { stringValue: line },
                  traceId: '5B8EFFF798038103D269B633813FC60C',
                },
              ],
            },
          ],
        },
      ],
    };
    const r = otlpLogEvents(request, ctx);
    assert.equal(r.events.length, 1, JSON.stringify(r.rejected));
    assert.equal(r.events[0]!.request.path, '/api/v1/locations');
    assert.equal(r.events[0]!.response.status, 204);
    assert.equal(r.events[0]!.trace.traceId, '5b8efff798038103d269b633813fc60c');
  });

  it('route templates: Express params become OpenAPI params, others are kept', () => {
    assert.equal(normaliseRoute('/a/:id/b/:name(\\d+)'), '/a/{id}/b/{name}');
    assert.equal(normaliseRoute('/pets/{petId}'), '/pets/{petId}');
    assert.equal(normaliseRoute(null), null);
  });

  it('collector debug times keep nanoseconds', () => {
    assert.equal(debugTimeToNanos('2025-12-12 10:47:13.299000064 +0000 UTC'), '1765536433299000064');
    assert.equal(debugTimeToNanos('2025-12-12 11:47:13 +0100 CET'), '1765536433000000000');
    const dump = collectorDebugToOtlp(
      readFileSync(join(shared, 'kong/otel-plugin-3.14-collector-debug-output.txt'), 'utf8'),
    );
    assert.equal(dump.traces?.resourceSpans.length, 1);
    assert.equal(dump.logs?.resourceLogs.length, 1);
  });

  it('rejects JSON that is not an OTLP request', () => {
    const r = otlpParser.parse({ text: '{"spans":[]}', json: { spans: [] } }, ctx);
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.error.code, 'INGEST_PARSE_UNRECOGNISED');
    const t = otlpParser.parse({ text: 'hello world' }, ctx);
    assert.equal(t.ok, false);
    if (!t.ok) assert.equal(t.error.code, 'INGEST_PARSE_INVALID_JSON');
  });
});
