import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { buildEvent, createLogger, loadConfig } from '@apiwatch/core';
import { sha256Hex } from '@apiwatch/ingest';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { startPipeline } from '../../cli/src/pipeline.ts';
import { KAFKA_BROKER, requireService, startRecorder, uniqueName, waitFor } from '../src/index.ts';

/**
 * Issue 11 §5: one trace follows an ingest batch across the bus. A brute force is pushed to
 * `POST /v1/events` of a pipeline running ingest, detect and alert in this process; the spans go
 * to an in-memory exporter, and the trace of the ingest span must hold the detect span (its
 * child, across the bus: the context came in the message headers), the alert span (child of
 * detect, across the findings topic) and the notification span of the webhook send (child of
 * alert). Once on the embedded bus with its journal, once on the real Kafka broker.
 */

const TOKEN = 'e2e-tracing-token';

/** The SDK's in-memory exporter, except that shutdown (pipeline close) keeps what it holds. */
class KeepingExporter extends InMemorySpanExporter {
  override shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

function bruteForce(n: number): string {
  const t0 = Date.now() - 120_000;
  return Array.from({ length: n }, (_, i) =>
    JSON.stringify(
      buildEvent({
        ts: t0 + i * 1000,
        method: 'POST',
        path: '/login',
        status: 401,
        sourceKind: 'tracing-test',
        raw: `tracing:${t0}:${i}`,
        clientIp: '203.0.113.77',
        user: 'alice',
        userAgent: 'hydra',
      }),
    ),
  ).join('\n');
}

async function runTraced(
  t: TestContext,
  bus: Record<string, unknown>,
  sampleRatio: number,
): Promise<{ spans: ReadableSpan[]; hookCalls: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-tracing-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const hook = await startRecorder(() => ({ status: 204 }));
  t.after(() => hook.close());
  const file = join(dir, 'apiwatch.yaml');
  writeFileSync(
    file,
    JSON.stringify({
      dataDir: join(dir, 'data'),
      logLevel: 'error',
      telemetry: { traces: { sampleRatio } },
      ingest: {
        listen: { host: '127.0.0.1', port: 0 },
        collectors: [{ id: 'e2e', tokenSha256: sha256Hex(TOKEN) }],
      },
      bus,
      detect: { baselines: { enabled: false } },
      alert: {
        receivers: [{ id: 'soc', kind: 'webhook', url: `${hook.url}/hook` }],
        route: { groupWaitSeconds: 0 },
      },
    }),
  );
  const exporter = new KeepingExporter();
  const pipeline = await startPipeline(
    loadConfig(file, {}),
    ['ingest', 'detect', 'alert'],
    createLogger('error'),
    {
      spanExporters: [exporter],
    },
  );
  let closed = false;
  t.after(async () => {
    if (!closed) await pipeline.close();
  });
  const res = await fetch(`${pipeline.ingestUrl}/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson' },
    body: bruteForce(15),
  });
  assert.equal(res.status, 200, await res.text());
  await waitFor('the webhook notification', () => (hook.requests.length > 0 ? true : undefined), 60_000);
  closed = true;
  await pipeline.close();
  return { spans: exporter.getFinishedSpans(), hookCalls: hook.requests.length };
}

/** The span named `name` whose parent is `parent` (same trace), exactly one. */
function childOf(spans: ReadableSpan[], parent: ReadableSpan, name: string): ReadableSpan {
  const found = spans.filter(
    (s) =>
      s.name === name &&
      s.spanContext().traceId === parent.spanContext().traceId &&
      s.parentSpanContext?.spanId === parent.spanContext().spanId,
  );
  assert.equal(
    found.length,
    1,
    `one ${name} span under ${parent.name}; spans: ${spans.map((s) => `${s.name}(${s.parentSpanContext?.spanId ?? '-'})`).join(', ')}`,
  );
  return found[0]!;
}

function assertOneTrace(spans: ReadableSpan[]): void {
  const ingest = spans.filter((s) => s.name === 'ingest canonical');
  assert.equal(ingest.length, 1, 'one ingest span for the one request');
  const root = ingest[0]!;
  assert.equal(root.parentSpanContext, undefined, 'the ingest span starts the trace');
  assert.equal(root.attributes['messaging.batch.message_count'], 15);
  const detect = childOf(spans, root, 'detect events');
  assert.ok(Number(detect.attributes['messaging.batch.message_count']) >= 1);
  const alert = childOf(spans, detect, 'alert findings');
  const notify = childOf(spans, alert, 'notify soc');
  assert.equal(notify.attributes['apiwatch.receiver'], 'soc');
  assert.equal(notify.status.code, 0, 'the send succeeded (unset status)');
  // Every span of the run is in that one trace: nothing was traced on its own.
  const traces = new Set(spans.map((s) => s.spanContext().traceId));
  assert.deepEqual([...traces], [root.spanContext().traceId]);
}

test('embedded bus (journaled): one trace links the ingest, detect, alert and notification spans', async (t) => {
  const { spans } = await runTraced(t, { kind: 'memory' }, 1);
  assertOneTrace(spans);
});

test('embedded bus: at sampleRatio 0 the pipeline runs and records no span', async (t) => {
  const { spans, hookCalls } = await runTraced(t, { kind: 'memory' }, 0);
  assert.ok(hookCalls > 0, 'the pipeline still ran');
  assert.deepEqual(
    spans.map((s) => s.name),
    [],
  );
});

test('Kafka: one trace links the ingest, detect, alert and notification spans across the broker', {
  timeout: 180_000,
}, async (t) => {
  if (!(await requireService(t, 'kafka'))) return;
  const id = uniqueName('tracing');
  const { spans } = await runTraced(
    t,
    {
      kind: 'kafka',
      kafka: {
        brokers: [KAFKA_BROKER],
        groupPrefix: id,
        topics: {
          events: `${id}.events`,
          findings: `${id}.findings`,
          dlq: `${id}.dlq`,
          rekeyed: `${id}.rekeyed`,
        },
      },
    },
    1,
  );
  assertOneTrace(spans);
});
