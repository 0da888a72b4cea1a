import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { otlpProtos } from '../proto/load.ts';
import { type PushHarness, startPushHarness, TOKEN } from './push-harness.ts';

const shared = join(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/public');
const stable = readFileSync(join(shared, 'otel/generated-otel-js-sdk2-stable-semconv.otlp.ndjson'), 'utf8')
  .trim()
  .split('\n');
const root = otlpProtos();
const TraceReq = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
const TraceRes = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse');
const Status = root.lookupType('google.rpc.Status');

let h: PushHarness;
before(async () => {
  h = await startPushHarness();
});
after(() => h.close());

const send = (path: string, body: string | Buffer, type: string, headers: Record<string, string> = {}) =>
  fetch(`${h.base}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': type, ...headers },
    body,
  });

/** OTLP/JSON (hex ids, decimal-string nanos) → protobuf, as an SDK's protobuf exporter would send it. */
function toProtobuf(json: Record<string, unknown>): Buffer {
  const walk = (v: unknown, key = ''): unknown => {
    if (Array.isArray(v)) return v.map((x) => walk(x, key));
    if (v && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, k)]));
    if ((key === 'traceId' || key === 'spanId' || key === 'parentSpanId') && typeof v === 'string')
      return Buffer.from(v, 'hex');
    return v;
  };
  return Buffer.from(TraceReq.encode(TraceReq.fromObject(walk(json) as Record<string, unknown>)).finish());
}

test('OTLP/JSON traces: every SDK export of the generated fixture; only server spans become events', async () => {
  h.reset();
  for (const body of stable) {
    const res = await send('/v1/traces', body, 'application/json');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {});
  }
  await h.settle();
  assert.deepEqual(
    h.events.map((e) => [e.request.method, e.request.route, e.response.status]),
    [
      ['GET', '/api/users/{userId}/orders/{orderId}', 200],
      ['GET', '/api/users/{userId}/orders/{orderId}', 403],
      ['POST', '/api/login', 401],
    ],
  );
});

test('OTLP protobuf (gzip) gives the same events as JSON, and a protobuf response', async () => {
  h.reset();
  const all = {
    resourceSpans: stable.flatMap((l) => (JSON.parse(l) as { resourceSpans: unknown[] }).resourceSpans),
  };
  const res = await send('/v1/traces', gzipSync(toProtobuf(all)), 'application/x-protobuf', {
    'content-encoding': 'gzip',
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/x-protobuf');
  const decoded = TraceRes.toObject(TraceRes.decode(new Uint8Array(await res.arrayBuffer())));
  assert.deepEqual(decoded, {});
  await h.settle();
  assert.equal(h.events.length, 3);
  const first = h.events[0]!;
  assert.equal(first.trace.traceId, 'd6d84d884658063073a553c6b09d890a');
  assert.equal(first.ts, 1_795_827_951_690);
  assert.equal(first.response.latencyMs, 8.061906);
  assert.equal(first.client.ip, '203.0.113.7');
});

test('partial success: a bad server span is rejected and dead-lettered, the good one kept', async () => {
  h.reset();
  const good = JSON.parse(stable.find((l) => l.includes('"kind":2'))!) as {
    resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<Record<string, unknown>> }> }>;
  };
  const span = good.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
  good.resourceSpans[0]!.scopeSpans[0]!.spans.push({
    ...span,
    spanId: '1111111111111111',
    startTimeUnixNano: 'soon',
  });
  const json = await send('/v1/traces', JSON.stringify(good), 'application/json');
  assert.equal(json.status, 200);
  const body = (await json.json()) as { partialSuccess: { rejectedSpans: string; errorMessage: string } };
  assert.equal(body.partialSuccess.rejectedSpans, '1');
  assert.match(body.partialSuccess.errorMessage, /spans\[1\]: HTTP server span has no startTimeUnixNano/);
  const proto = await send(
    '/v1/traces',
    toProtobuf(good as unknown as Record<string, unknown>),
    'application/x-protobuf',
  );
  const decoded = TraceRes.toObject(TraceRes.decode(new Uint8Array(await proto.arrayBuffer())), {
    longs: String,
  });
  assert.equal(decoded.partialSuccess.rejectedSpans, '1');
  await h.settle();
  assert.equal(h.events.length, 2);
  assert.equal(h.dlq.length, 2);
  assert.equal(h.dlq[0]!.source, 'otlp');
  assert.match(h.dlq[0]!.raw, /"spanId":"1111111111111111"/);
});

test('OTLP logs: Kong api-access records; application logs are reported as not API calls', async () => {
  h.reset();
  const kv = (key: string, value: Record<string, unknown>) => ({ key, value });
  const body = {
    resourceLogs: [
      {
        resource: { attributes: [kv('service.name', { stringValue: 'kong' })] },
        scopeLogs: [
          {
            scope: { name: 'api-access' },
            logRecords: [
              {
                timeUnixNano: '1765536433420526336',
                body: { stringValue: 'POST /anything 200 119ms' },
                attributes: [
                  kv('http.request.method', { stringValue: 'POST' }),
                  kv('url.path', { stringValue: '/anything' }),
                  kv('http.response.status_code', { intValue: '200' }),
                  kv('client.address', { stringValue: '192.168.107.1' }),
                  kv('kong.request.id', { stringValue: '319d1e4e7862095f704a7d6c60e63260' }),
                  kv('kong.latency.total', { doubleValue: 119 }),
                ],
              },
              { timeUnixNano: '1765536433420526336', body: { stringValue: 'worker started' } },
            ],
          },
        ],
      },
    ],
  };
  const res = await send('/v1/logs', JSON.stringify(body), 'application/json');
  assert.equal(res.status, 200);
  const answer = (await res.json()) as {
    partialSuccess: { rejectedLogRecords: string; errorMessage: string };
  };
  assert.equal(answer.partialSuccess.rejectedLogRecords, '0');
  assert.match(answer.partialSuccess.errorMessage, /1 log records are not HTTP access logs/);
  await h.settle();
  assert.equal(h.events.length, 1);
  assert.equal(h.events[0]!.request.requestId, '319d1e4e7862095f704a7d6c60e63260');
});

test('errors: google.rpc.Status bodies in the request encoding, 429 with Retry-After, never a 500', async () => {
  const badJson = await send('/v1/traces', '{"resourceSpans":', 'application/json');
  assert.equal(badJson.status, 400);
  assert.equal(((await badJson.json()) as { code: number }).code, 3);
  const badProto = await send(
    '/v1/traces',
    Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]),
    'application/x-protobuf',
  );
  assert.equal(badProto.status, 400);
  assert.equal(Status.decode(new Uint8Array(await badProto.arrayBuffer())).toJSON().code, 3);
  assert.equal((await send('/v1/traces', '{}', 'text/plain')).status, 415);
  assert.equal(
    (await send('/v1/logs', '{}', 'application/json', { authorization: 'Bearer nope' })).status,
    401,
  );
  assert.equal((await send('/v1/traces', 'x'.repeat(300 * 1024), 'application/json')).status, 413);
  const release = await h.saturate();
  try {
    const busy = await send('/v1/traces', stable[0]!, 'application/json');
    assert.equal(busy.status, 429);
    assert.equal(busy.headers.get('retry-after'), '1');
  } finally {
    await release();
  }
});
