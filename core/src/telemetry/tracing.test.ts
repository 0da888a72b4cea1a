import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { Value } from '@sinclair/typebox/value';
import { pino } from 'pino';
import { TelemetryTracesConfig, type TelemetryTracesConfigValue } from '../config/schema.ts';
import { headersOf, TRACEPARENT_HEADER, tracing } from './tracing.ts';

const traces = (o: Record<string, unknown> = {}) =>
  Value.Default(TelemetryTracesConfig, structuredClone(o)) as TelemetryTracesConfigValue;

test('off by default: no endpoint and no exporter records nothing and puts no header on a batch', async () => {
  const stop = await tracing.configure({ config: traces({ sampleRatio: 1 }) });
  assert.equal(tracing.enabled, false);
  const { span, headers } = tracing.startBatch('ingest canonical', {});
  assert.equal(span, null);
  assert.equal(headers, null);
  assert.equal(tracing.consume('detect events', [{ key: 'k', value: 1, headers: {} }], {}).active, false);
  await stop();
});

test('a consumer batch gets one child span per sampled trace; unsampled and malformed contexts start none', async () => {
  const exporter = new InMemorySpanExporter();
  const stop = await tracing.configure({ config: traces({ sampleRatio: 1 }), exporters: [exporter] });
  try {
    const a = tracing.startBatch('ingest canonical', {});
    const b = tracing.startBatch('ingest kong', {});
    assert.match(a.headers![TRACEPARENT_HEADER]!, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    a.span!.end();
    b.span!.end();
    const unsampled = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00' };
    const malformed = { traceparent: 'not-a-trace-context' };
    const batch = [
      { key: 'x', value: 1, headers: a.headers! },
      { key: 'y', value: 2, headers: a.headers! },
      { key: 'z', value: 3, headers: b.headers! },
      { key: 'u', value: 4, headers: unsampled },
      { key: 'm', value: 5, headers: malformed },
      { key: 'n', value: 6 },
    ];
    const spans = tracing.consume('detect events', batch, { 'messaging.destination.name': 'events' });
    assert.equal(spans.active, true);
    const ca = spans.contextOf(batch[0]!);
    assert.ok(ca);
    assert.equal(spans.contextOf(batch[1]!), ca, 'one span for the two messages of one trace');
    assert.notEqual(spans.contextOf(batch[2]!)?.spanId, ca.spanId);
    assert.equal(spans.contextOf(batch[3]!), undefined);
    assert.equal(spans.contextOf(batch[4]!), undefined);
    assert.equal(spans.contextOf(batch[5]!), undefined);
    spans.end();
    const done = exporter.getFinishedSpans();
    const detect = done.filter((s) => s.name === 'detect events');
    assert.equal(detect.length, 2);
    const ofA = detect.find((s) => s.spanContext().traceId === a.span!.spanContext().traceId)!;
    assert.equal(ofA.parentSpanContext?.spanId, a.span!.spanContext().spanId);
    assert.equal(ofA.attributes['messaging.batch.message_count'], 2);
    // The headers of a consumer span continue the same trace.
    assert.equal(headersOf(ca)![TRACEPARENT_HEADER]!.slice(3, 35), a.span!.spanContext().traceId);
  } finally {
    await stop();
  }
});

test('sampleRatio 0: no batch is sampled, so no header travels and no consumer span starts', async () => {
  const exporter = new InMemorySpanExporter();
  const stop = await tracing.configure({ config: traces({ sampleRatio: 0 }), exporters: [exporter] });
  try {
    for (let i = 0; i < 50; i++) {
      const { span, headers } = tracing.startBatch('ingest canonical', {});
      assert.equal(headers, null);
      span?.end();
    }
    assert.equal(exporter.getFinishedSpans().length, 0);
  } finally {
    await stop();
  }
});

test('with telemetry.traces.otlp.endpoint the spans are posted over OTLP/HTTP', async () => {
  const bodies: Array<{ url: string; body: string }> = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      bodies.push({ url: req.url ?? '', body });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
  const stop = await tracing.configure({ config: traces({ sampleRatio: 1, otlp: { endpoint } }) });
  try {
    assert.equal(tracing.enabled, true);
    tracing.startBatch('ingest canonical', { 'apiwatch.ingest.source': 'canonical' }).span!.end();
    await tracing.flush();
    assert.equal(bodies.length, 1);
    assert.equal(bodies[0]!.url, '/v1/traces');
    const sent = JSON.parse(bodies[0]!.body) as {
      resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<{ name: string }> }> }>;
    };
    assert.deepEqual(
      sent.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans.map((x) => x.name))),
      ['ingest canonical'],
    );
  } finally {
    await stop();
    server.close();
  }
});

test('a failed OTLP export is logged through the pipeline logger, not thrown', async () => {
  const lines: string[] = [];
  const log = pino(
    { level: 'warn' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    }),
  );
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(400, { 'content-type': 'text/plain' }).end('bad'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
  // A queue of one: the processor exports at once (no 5 s timer) and reports through the SDK's
  // global error handler, which is what the pipeline logger must receive.
  const stop = await tracing.configure({
    config: traces({ sampleRatio: 1, maxQueuedSpans: 1, otlp: { endpoint } }),
    log,
  });
  try {
    tracing.startBatch('ingest canonical', {}).span!.end();
    for (let i = 0; i < 100 && !lines.some((l) => /opentelemetry: /.test(l)); i++)
      await new Promise((r) => setTimeout(r, 20));
    assert.ok(
      lines.some((l) => /opentelemetry: /.test(l)),
      `the failed export is logged: ${lines.join('')}`,
    );
  } finally {
    await stop().catch(() => {});
    server.close();
  }
});
