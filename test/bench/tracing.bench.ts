import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  type ApiEvent,
  actorKey,
  type BusMessage,
  buildEvent,
  createLogger,
  endSpan,
  KafkaBus,
  loadConfig,
  MemoryBus,
  type TraceContext,
  tracing,
} from '@apiwatch/core';
import { chunkByKey } from '@apiwatch/core/bus/kafka.ts';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { startPipeline } from '../../cli/src/pipeline.ts';
import { KAFKA_BROKER, uniqueName } from '../src/index.ts';
import type { BenchResult } from './types.ts';

/**
 * What tracing costs (docs/decisions/0025-pipeline-tracing.md), as ratios of the same work
 * with tracing off, measured in one run:
 * 1. Embedded end to end (HTTP ingest → journaled memory bus → detect → alert): throughput with
 *    tracing off (no exporter: the default), at the default sampleRatio 0.01, and at 1 (every
 *    ingest batch traced: the worst case). Spans go to an exporter that only counts them, so the
 *    figure is the cost of recording and propagating, not of a collector. Rounds alternate
 *    between the modes and the median of each is kept (the machine is shared).
 * 2. The bus alone (memory bus, no journal, no detectors): publish 500-event batches and consume
 *    them with the tracing calls the roles make (startBatch per batch, consume + contextOf per
 *    consumer batch, the per-event WeakMap of traced events), off against every batch traced: the
 *    strictest ratio, since nothing else costs anything here.
 * 3. Kafka (real broker): publish + consume of the same events with every batch carrying a
 *    trace context (worst case) against none, and the records per event the bus's chunking
 *    sends in both cases.
 */
const EVENTS = Number(process.env.APIWATCH_BENCH_EVENTS ?? 60_000);
const BATCH = 500;
const ROUNDS = Number(process.env.APIWATCH_BENCH_ROUNDS ?? 3);
const ACTORS = 200;

class CountingExporter implements SpanExporter {
  spans = 0;
  export(spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    this.spans += spans.length;
    done({ code: 0 });
  }
  async shutdown(): Promise<void> {}
  async forceFlush(): Promise<void> {}
}

function events(n: number, start: number): ApiEvent[] {
  return Array.from({ length: n }, (_, i) =>
    buildEvent({
      ts: start + i * 10,
      method: i % 5 === 0 ? 'POST' : 'GET',
      path: `/api/items/${i % 997}`,
      status: i % 50 === 0 ? 401 : 200,
      sourceKind: 'bench-tracing',
      raw: `bench-tracing:${start}:${i}`,
      clientIp: `198.51.${(i % ACTORS) >> 8}.${i % ACTORS}`,
      userAgent: 'bench',
    }),
  );
}

async function embeddedRound(
  ratio: number | null,
  bodies: string[],
): Promise<{ rate: number; cpuPerEvent: number; spans: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-bench-tracing-'));
  const config = loadConfig(undefined, {
    APIWATCH__DATADIR: dir,
    APIWATCH__LOGLEVEL: 'warn',
    APIWATCH__INGEST__LISTEN__PORT: '0',
    APIWATCH__DETECT__BASELINES__ENABLED: 'false',
    ...(ratio !== null ? { APIWATCH__TELEMETRY__TRACES__SAMPLERATIO: String(ratio) } : {}),
  });
  const exporter = new CountingExporter();
  const pipeline = await startPipeline(config, ['ingest', 'detect', 'alert'], createLogger('warn'), {
    ...(ratio !== null ? { spanExporters: [exporter] } : {}),
  });
  try {
    const token = readFileSync(join(dir, 'collector-token'), 'utf8').trim();
    const url = `${pipeline.ingestUrl}/v1/events`;
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const worker = new Worker(new URL('./http-load.ts', import.meta.url), {
      workerData: { url, token, bodies, concurrency: 4 },
    });
    await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    await pipeline.bus.flush();
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    return {
      rate: (bodies.length * BATCH) / elapsed,
      cpuPerEvent: (cpu.user + cpu.system) / (bodies.length * BATCH),
      spans: exporter.spans,
    };
  } finally {
    await pipeline.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** CPU µs per event of publishing `all` in batches through a memory bus into a traced consumer. */
async function busRound(all: ApiEvent[]): Promise<number> {
  const bus = new MemoryBus(1 << 20);
  const traced = new WeakMap<ApiEvent, TraceContext>();
  let seen = 0;
  await bus.subscribe('events', 'bench', async (batch) => {
    const spans = tracing.consume('detect events', batch, {});
    for (const m of batch) {
      if (spans.active) {
        const sc = spans.contextOf(m);
        if (sc) traced.set(m.value, sc);
      }
      seen += m.value.response.status > 0 ? 1 : 0;
    }
    spans.end();
  });
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < all.length; i += BATCH) {
    const { span, headers } = tracing.startBatch('ingest bench', { 'messaging.batch.message_count': BATCH });
    await bus.publish(
      'events',
      all
        .slice(i, i + BATCH)
        .map((e) => (headers ? { key: actorKey(e), value: e, headers } : { key: actorKey(e), value: e })),
    );
    endSpan(span);
  }
  await bus.flush();
  const cpu = process.cpuUsage(cpu0);
  await bus.close();
  if (seen !== all.length) throw new Error(`consumed ${seen} of ${all.length}`);
  return (cpu.user + cpu.system) / all.length;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function kafkaRate(all: ApiEvent[], traced: boolean): Promise<{ rate: number; cpu: number }> {
  const id = uniqueName('bench-tracing');
  const config = {
    ...loadConfig(undefined, {}).bus.kafka,
    brokers: [KAFKA_BROKER],
    groupPrefix: id,
    topics: {
      events: `${id}.events`,
      findings: `${id}.findings`,
      dlq: `${id}.dlq`,
      rekeyed: `${id}.rekeyed`,
    },
  };
  const log = createLogger('warn');
  const producer = new KafkaBus(config, log);
  const consumer = new KafkaBus(config, log);
  await producer.start();
  try {
    let consumed = 0;
    const done = Promise.withResolvers<void>();
    await consumer.subscribe('events', 'bench', async (batch) => {
      consumed += batch.length;
      if (consumed >= all.length) done.resolve();
    });
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < all.length; i += BATCH) {
      const { span, headers } = traced
        ? tracing.startBatch('ingest bench', {})
        : { span: null, headers: null };
      await producer.publish(
        'events',
        all
          .slice(i, i + BATCH)
          .map((e) => (headers ? { key: actorKey(e), value: e, headers } : { key: actorKey(e), value: e })),
      );
      span?.end();
    }
    await done.promise;
    const cpu = process.cpuUsage(cpu0);
    return {
      rate: all.length / ((performance.now() - t0) / 1000),
      cpu: (cpu.user + cpu.system) / all.length,
    };
  } finally {
    await consumer.close();
    await producer.close();
  }
}

async function embedded(bodies: string[]): Promise<BenchResult[]> {
  const modes = [
    { name: 'off', ratio: null },
    { name: '0.01', ratio: 0.01 },
    { name: '1', ratio: 1 },
  ] as const;
  const rates = new Map<string, number[]>(modes.map((m) => [m.name, []]));
  const cpus = new Map<string, number[]>(modes.map((m) => [m.name, []]));
  const spans = new Map<string, number>();
  await embeddedRound(null, bodies.slice(0, 10)); // warm-up
  for (let r = 0; r < ROUNDS; r++) {
    for (const m of modes) {
      const out = await embeddedRound(m.ratio, bodies);
      rates.get(m.name)!.push(out.rate);
      cpus.get(m.name)!.push(out.cpuPerEvent);
      spans.set(m.name, out.spans);
    }
  }
  const off = median(rates.get('off')!);
  const cpuOff = median(cpus.get('off')!);
  const label = (name: string) => (name === 'off' ? 'off' : `sampleRatio ${name}`);
  return modes.flatMap((m) => {
    const v = median(rates.get(m.name)!);
    const c = median(cpus.get(m.name)!);
    return [
      {
        name: `embedded end to end, tracing ${label(m.name)}, CPU per event`,
        value: c,
        unit: 'µs',
        floor: cpuOff,
        ratio: c / cpuOff,
        lowerIsBetter: true,
        note: `all threads of this process (load thread included); floor = tracing off; ${spans.get(m.name) ?? 0} spans in the last round`,
      },
      {
        name: `embedded end to end, tracing ${label(m.name)}, events/s`,
        value: v,
        unit: 'events/s',
        floor: off,
        ratio: v / off,
        note: `${EVENTS.toLocaleString('en-US')} events in ${BATCH}-event bodies, median of ${ROUNDS} alternating rounds (wall clock: noisy on a shared machine)`,
      },
    ];
  });
}

export async function run(): Promise<BenchResult[]> {
  const all = events(EVENTS + BATCH, Date.now() - 3_600_000);
  const bodies: string[] = [];
  for (let i = BATCH; i < all.length; i += BATCH)
    bodies.push(
      all
        .slice(i, i + BATCH)
        .map((e) => JSON.stringify(e))
        .join('\n'),
    );
  const results: BenchResult[] = [];
  if (process.env.APIWATCH_BENCH_EMBEDDED !== 'off') results.push(...(await embedded(bodies)));
  {
    const slice = all.slice(0, 50_000);
    const ratios = ['0.01', '1'] as const;
    const runs = new Map<string, number[]>([
      ['off', []],
      ...ratios.map((r) => [r, []] as [string, number[]]),
    ]);
    const exported = new Map<string, number>();
    await busRound(slice); // warm-up
    for (let r = 0; r < ROUNDS * 2; r++) {
      runs.get('off')!.push(await busRound(slice));
      for (const ratio of ratios) {
        const exporter = new CountingExporter();
        const stop = await tracing.configure({
          config: loadConfig(undefined, { APIWATCH__TELEMETRY__TRACES__SAMPLERATIO: ratio }).telemetry.traces,
          exporters: [exporter],
        });
        try {
          runs.get(ratio)!.push(await busRound(slice));
        } finally {
          await stop();
        }
        exported.set(ratio, exporter.spans);
      }
    }
    const c0 = median(runs.get('off')!);
    for (const ratio of ratios) {
      const c = median(runs.get(ratio)!);
      results.push({
        name: `memory bus publish + consume, sampleRatio ${ratio}, CPU per event`,
        value: c,
        unit: 'µs',
        floor: c0,
        ratio: c / c0,
        lowerIsBetter: true,
        note: `${slice.length.toLocaleString('en-US')} events, ${BATCH}-event batches, median of ${ROUNDS * 2} alternating rounds; floor = tracing off (${c0.toPrecision(3)} µs); ${exported.get(ratio)} spans in the last round`,
      });
    }
  }

  // Chunking: the same 500-event batch, with one shared trace context and with none.
  const batch: BusMessage<ApiEvent>[] = all.slice(0, BATCH).map((e) => ({ key: actorKey(e), value: e }));
  const headers = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };
  const plain = chunkByKey(batch).length;
  const withTrace = chunkByKey(batch.map((m) => ({ ...m, headers }))).length;
  results.push({
    name: 'Kafka records per 500-event batch, traced',
    value: withTrace,
    unit: 'records',
    floor: plain,
    ratio: withTrace / plain,
    lowerIsBetter: true,
    note: `${ACTORS} actors; floor = the same batch untraced (chunking by key and headers)`,
  });

  if (process.env.APIWATCH_BENCH_KAFKA !== 'off') {
    const stop = await tracing.configure({
      config: loadConfig(undefined, { APIWATCH__TELEMETRY__TRACES__SAMPLERATIO: '1' }).telemetry.traces,
      exporters: [new CountingExporter()],
    });
    try {
      const plainRuns: Array<{ rate: number; cpu: number }> = [];
      const tracedRuns: Array<{ rate: number; cpu: number }> = [];
      const slice = all.slice(0, 50_000);
      for (let r = 0; r < ROUNDS; r++) {
        plainRuns.push(await kafkaRate(slice, false));
        tracedRuns.push(await kafkaRate(slice, true));
      }
      const c0 = median(plainRuns.map((x) => x.cpu));
      const c1 = median(tracedRuns.map((x) => x.cpu));
      const k0 = median(plainRuns.map((x) => x.rate));
      const k1 = median(tracedRuns.map((x) => x.rate));
      results.push(
        {
          name: 'Kafka publish + consume, every batch traced, client CPU per event',
          value: c1,
          unit: 'µs',
          floor: c0,
          ratio: c1 / c0,
          lowerIsBetter: true,
          note: `${slice.length.toLocaleString('en-US')} events, ${BATCH}-event publishes, median of ${ROUNDS}; floor = the same untraced`,
        },
        {
          name: 'Kafka publish + consume, every batch traced, events/s',
          value: k1,
          unit: 'events/s',
          floor: k0,
          ratio: k1 / k0,
          note: 'wall clock: noisy on a shared machine',
        },
      );
    } finally {
      await stop();
    }
  }
  return results;
}

if (import.meta.main) {
  for (const r of await run()) console.log(r);
}
