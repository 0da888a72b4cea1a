/**
 * Hostile and oversized input on the push endpoints (issue 7 §2, issue 8 §A4): deep JSON is a coded
 * 4xx, never a 500; decompression is bounded per request; /v1/dlq enforces its limits, rate limit
 * and backpressure, redacts the reason and decodes gzip.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { otlpProtos } from '../proto/load.ts';
import { startPushHarness, TOKEN } from './push-harness.ts';

const kongRecord = (i: number) => ({
  request: { method: 'GET', uri: `/items/${i}`, headers: {}, size: 100 },
  response: { status: 200, size: 10 },
  latencies: { request: 5 },
  client_ip: '192.0.2.10',
  started_at: 1_700_000_000_000 + i,
});

const deepArray = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
/** The JSON text of an OTLP attribute nested `n` levels deep (built as text: JSON.stringify would recurse). */
function deepAttributeText(n: number): string {
  let v = '{"stringValue":"leaf"}';
  for (let i = 0; i < n; i++) v = `{"kvlistValue":{"values":[{"key":"k${i}","value":${v}}]}}`;
  return `{"key":"http.request.header.x-deep","value":${v}}`;
}
/** An OTLP attribute whose value is a kvlist nested `n` levels deep. */
function deepAttribute(n: number): unknown {
  let v: unknown = { stringValue: 'leaf' };
  for (let i = 0; i < n; i++) v = { kvlistValue: { values: [{ key: `k${i}`, value: v }] } };
  return { key: 'http.request.header.x-deep', value: v };
}
const otlpWith = (attribute: unknown) => ({
  resourceSpans: [
    {
      resource: { attributes: [] },
      scopeSpans: [
        {
          spans: [
            {
              traceId: '5b8efff798038103d269b633813fc60c',
              spanId: 'eee19b7ec3c1b174',
              name: 'GET /x',
              kind: 2,
              startTimeUnixNano: '1700000000000000000',
              endTimeUnixNano: '1700000000010000000',
              attributes: [
                { key: 'http.request.method', value: { stringValue: 'GET' } },
                { key: 'url.path', value: { stringValue: '/x' } },
                { key: 'http.response.status_code', value: { intValue: '200' } },
                attribute,
              ],
            },
          ],
        },
      ],
    },
  ],
});

const post = (base: string, path: string, body: string | Buffer, headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...headers },
    body,
  });

test('deep JSON is a 400 with INGEST_PARSE_TOO_DEEP on every JSON endpoint, never a 500', async () => {
  const h = await startPushHarness({ maxBodyBytes: 1 << 20 });
  try {
    // Kong http-log: a 100k-deep array body, and a record whose header value nests 100k deep.
    for (const body of [
      deepArray(100_000),
      `[${JSON.stringify(kongRecord(1)).replace('"headers":{}', `"headers":{"x":${deepArray(100_000)}}`)}]`,
    ]) {
      const r = await post(h.base, '/v1/kong/http-log', body);
      assert.equal(r.status, 400);
      assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'INGEST_PARSE_TOO_DEEP');
    }
    const ev = await post(h.base, '/v1/events', deepArray(50_000), {
      'content-type': 'application/x-ndjson',
    });
    assert.equal(ev.status, 400);
    assert.equal(((await ev.json()) as { error: { code: string } }).error.code, 'INGEST_PARSE_TOO_DEEP');
    const dlq = await post(h.base, '/v1/dlq', `{"reason":"x","raw":${deepArray(50_000)}}`);
    assert.equal(dlq.status, 400);
    const fh = await post(h.base, '/v1/aws/firehose', deepArray(50_000), {
      'x-amz-firehose-access-key': TOKEN,
    });
    assert.equal(fh.status, 400);
    assert.match(((await fh.json()) as { errorMessage: string }).errorMessage, /nests deeper than 64/);

    // OTLP/JSON: attributes 6000 levels deep → 400 google.rpc.Status INVALID_ARGUMENT.
    const otlpText = JSON.stringify(otlpWith('DEEP')).replace('"DEEP"', deepAttributeText(6000));
    const otlp = await post(h.base, '/v1/traces', otlpText);
    assert.equal(otlp.status, 400);
    const status = (await otlp.json()) as { code: number; message: string };
    assert.equal(status.code, 3);
    assert.match(status.message, /nests deeper than 64/);
    // OTLP protobuf: an attribute 25 kvlists deep (100 JSON levels; protobufjs encodes at most 100 messages) → 400 too.
    const TraceReq = otlpProtos().lookupType(
      'opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest',
    );
    const json = otlpWith(deepAttribute(25)) as unknown as {
      resourceSpans: [{ scopeSpans: [{ spans: [Record<string, unknown>] }] }];
    };
    const s = json.resourceSpans[0].scopeSpans[0].spans[0];
    s.traceId = Buffer.from(s.traceId as string, 'hex');
    s.spanId = Buffer.from(s.spanId as string, 'hex');
    const proto = Buffer.from(TraceReq.encode(TraceReq.fromObject(json)).finish());
    const p = await post(h.base, '/v1/traces', proto, { 'content-type': 'application/x-protobuf' });
    assert.equal(p.status, 400);

    // An attribute 5 kvlists deep is fine: the span is read.
    const fine = await post(h.base, '/v1/traces', JSON.stringify(otlpWith(deepAttribute(5))));
    assert.equal(fine.status, 200, await fine.text());
    await h.settle();
    assert.equal(h.events.length, 1);
    assert.equal(h.dlq.length, 0);
  } finally {
    await h.close();
  }
});

test('Firehose: gzip record data is bounded per request (413), not only per record', async () => {
  const h = await startPushHarness({ maxBodyBytes: 1 << 20, maxInflatedBytes: 4 << 20 });
  try {
    // Each record inflates to 1 MiB (of spaces): 3 fit in 4 MiB, 10 do not.
    const bomb = gzipSync(Buffer.alloc(1 << 20, 0x20)).toString('base64');
    const delivery = (n: number) =>
      JSON.stringify({
        requestId: 'r1',
        timestamp: 1,
        records: Array.from({ length: n }, () => ({ data: bomb })),
      });
    const over = await post(h.base, '/v1/aws/firehose', delivery(10), { 'x-amz-firehose-access-key': TOKEN });
    assert.equal(over.status, 413);
    const body = (await over.json()) as { requestId: string; errorMessage: string };
    assert.equal(body.requestId, 'r1');
    assert.match(body.errorMessage, /inflate to more than/);
    const under = await post(h.base, '/v1/aws/firehose', delivery(3), { 'x-amz-firehose-access-key': TOKEN });
    assert.equal(under.status, 200, await under.text());
    await h.settle();
    assert.equal(h.events.length, 0);

    // A real access-log line in gzip data is inflated (asynchronously) and read.
    const line = JSON.stringify({
      requestId: 'a1',
      ip: '198.51.100.1',
      requestTime: '10/Jun/2023:15:36:28 +0000',
      httpMethod: 'GET',
      path: '/pets/1',
      status: '200',
      protocol: 'HTTP/1.1',
      responseLength: '10',
    });
    const ok = await post(
      h.base,
      '/v1/aws/firehose',
      JSON.stringify({
        requestId: 'r2',
        timestamp: 1,
        records: [{ data: gzipSync(line).toString('base64') }],
      }),
      { 'x-amz-firehose-access-key': TOKEN },
    );
    assert.equal(ok.status, 200);
    await h.settle();
    assert.equal(h.events.length, 1);
    assert.equal(h.events[0]!.request.path, '/pets/1');
  } finally {
    await h.close();
  }
});

test('/v1/dlq: exactly maxRecordsPerRequest, 413 past it; redacted reason; gzip decoded; 429 when saturated or rate-limited', async () => {
  const h = await startPushHarness({
    maxRecordsPerRequest: 3,
    rateLimit: { eventsPerSecond: 1, burstEvents: 5 },
  });
  try {
    const rec = (i: number) =>
      JSON.stringify({
        source: 'nginx',
        code: 'INGEST_PARSE_UNRECOGNISED',
        reason: `line ${i}: Authorization: Bearer sekrit-token-${i} x-api-key: k3y-${i}`,
        raw: `GET /x?api_key=raw-secret-${i} HTTP/1.1`,
      });
    const body = (n: number) => Array.from({ length: n }, (_, i) => rec(i)).join('\n');
    const over = await post(h.base, '/v1/dlq', body(4), { 'content-type': 'application/x-ndjson' });
    assert.equal(over.status, 413);
    const exact = await post(h.base, '/v1/dlq', gzipSync(body(3)), {
      'content-type': 'application/x-ndjson',
      'content-encoding': 'gzip',
    });
    assert.equal(exact.status, 200, await exact.text());
    await h.settle();
    assert.equal(h.dlq.length, 3);
    for (const [i, d] of h.dlq.entries()) {
      assert.equal(d.source, 'nginx');
      assert.ok(!d.reason.includes(`sekrit-token-${i}`), d.reason);
      assert.ok(!d.reason.includes(`k3y-${i}`), d.reason);
      assert.ok(d.raw.startsWith('GET /x?api_key='), `decoded, not bytes: ${d.raw}`);
      assert.ok(!d.raw.includes('raw-secret'), d.raw);
    }
    // 3 of 5 tokens used: 3 more are over the collector's rate limit.
    const limited = await post(h.base, '/v1/dlq', body(3), { 'content-type': 'application/x-ndjson' });
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    const release = await h.saturate();
    const saturated = await post(h.base, '/v1/dlq', body(1), { 'content-type': 'application/x-ndjson' });
    assert.equal(saturated.status, 429);
    assert.equal(((await saturated.json()) as { error: { code: string } }).error.code, 'INGEST_BACKPRESSURE');
    await release();
  } finally {
    await h.close();
  }
});

test('POST /v1/events accepts gzip and zstd bodies, 413 past the inflated-size limit', async () => {
  const h = await startPushHarness({ maxBodyBytes: 64 * 1024, maxInflatedBytes: 256 * 1024 });
  try {
    const { buildEvent } = await import('@apiwatch/core');
    const ndjson = (n: number) =>
      Array.from({ length: n }, (_, i) =>
        JSON.stringify(
          buildEvent(
            {
              ts: 1_700_000_000_000 + i,
              method: 'GET',
              path: `/e/${i}`,
              status: 200,
              sourceKind: 'canonical',
              raw: `e${i}`,
            },
            1,
          ),
        ),
      ).join('\n');
    for (const [encoding, encode] of [
      ['gzip', gzipSync],
      ['zstd', zstdCompressSync],
    ] as const) {
      const r = await post(h.base, '/v1/events', encode(Buffer.from(ndjson(3))), {
        'content-type': 'application/x-ndjson',
        'content-encoding': encoding,
      });
      const text = await r.text();
      assert.equal(r.status, 200, `${encoding}: ${text}`);
      assert.equal((JSON.parse(text) as { accepted: number }).accepted, 3);
    }
    // Small on the wire (under maxBodyBytes), past maxInflatedBytes once inflated.
    const bomb = gzipSync(Buffer.from(`${ndjson(1)}\n${' '.repeat(512 * 1024)}`));
    assert.ok(bomb.length < 64 * 1024);
    const big = await post(h.base, '/v1/events', bomb, {
      'content-type': 'application/x-ndjson',
      'content-encoding': 'gzip',
    });
    assert.equal(big.status, 413);
    assert.equal(((await big.json()) as { error: { code: string } }).error.code, 'INGEST_BODY_TOO_LARGE');
    const br = await post(h.base, '/v1/events', Buffer.from('x'), { 'content-encoding': 'br' });
    assert.equal(br.status, 415);
    await h.settle();
    assert.equal(h.events.length, 6);
  } finally {
    await h.close();
  }
});
