import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { generateSecret } from '@apiwatch/alerting';
import { startPipeline } from '@apiwatch/cli';
import { type ApiEvent, buildEvent, createLogger, loadConfig } from '@apiwatch/core';
import { createIdentityContext, findParser } from '@apiwatch/ingest';
import { nginxTraffic } from '../src/traffic.ts';
import type { BenchResult } from './types.ts';

const EVENTS = Number(process.env.APIWATCH_BENCH_EVENTS ?? 200_000);
const BATCH = 500;
const CONCURRENCY = 4;
const JOURNAL = process.env.APIWATCH_BENCH_JOURNAL ?? 'on';

/**
 * Embedded end to end: canonical NDJSON over HTTP → ingest → memory bus → detect + store (chDB)
 * + alert. Throughput is events/s from the first POST until every event is stored; the floor is
 * JSON.parse of the same bodies in the same run. Then the event-in → notification latency: a
 * burst of failed logins per trial, timed from its POST to the signed webhook's arrival.
 * The HTTP client runs in this process too, so the figures are conservative.
 */
/** Event times within the store's retention (events older than store.retention are dropped at insert). */
function recentStart(events: number): number {
  return Date.now() - events * 1300;
}

export async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-bench-pipeline-'));
  const arrivals = new Map<string, number>();
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      const ip = (JSON.parse(body) as { data: { entity: { id: string } } }).data.entity.id;
      if (!arrivals.has(ip)) arrivals.set(ip, performance.now());
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  process.env.APIWATCH_BENCH_WEBHOOK_SECRET = generateSecret();
  const config = loadConfig(undefined, {
    APIWATCH__DATADIR: dir,
    APIWATCH__LOGLEVEL: 'warn',
    APIWATCH__INGEST__LISTEN__PORT: '0',
    ...(process.env.APIWATCH_BENCH_STORE ? { APIWATCH__STORE__KIND: process.env.APIWATCH_BENCH_STORE } : {}),
    // Durability knobs for decision 0010: journal (default on, fsync), nofsync, off.
    ...(JOURNAL === 'off'
      ? { APIWATCH__BUS__MEMORY__JOURNAL__ENABLED: 'false', APIWATCH__ALERT__QUEUE__OUTBOX__ENABLED: 'false' }
      : JOURNAL === 'nofsync'
        ? { APIWATCH__BUS__MEMORY__JOURNAL__FSYNC: 'false', APIWATCH__ALERT__QUEUE__OUTBOX__FSYNC: 'false' }
        : {}),
    APIWATCH__ALERT__RECEIVERS: JSON.stringify([
      {
        id: 'bench',
        kind: 'webhook',
        url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`,
        secretEnv: 'APIWATCH_BENCH_WEBHOOK_SECRET',
      },
    ]),
  });
  const pipeline = await startPipeline(config, ['ingest', 'detect', 'store', 'alert'], createLogger('warn'));
  try {
    const token = (await import('node:fs')).readFileSync(join(dir, 'collector-token'), 'utf8').trim();
    const url = `${pipeline.ingestUrl}/v1/events`;
    const post = (body: string) =>
      fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-ndjson' },
        body,
      }).then(async (r) => {
        if (r.status !== 200) throw new Error(`ingest answered ${r.status}: ${await r.text()}`);
        await r.arrayBuffer();
      });

    // Canonical events from generated nginx traffic, serialised into 500-event bodies.
    const parser = findParser('nginx')!;
    const identity = createIdentityContext(Buffer.alloc(32, 1), 'bench');
    const events: ApiEvent[] = [];
    for (const text of nginxTraffic({ seed: 11, start: recentStart(EVENTS), benignEvents: EVENTS })) {
      const r = parser.parse({ text, json: JSON.parse(text) }, { identity, gateway: null, now: Date.now() });
      if (r.ok) events.push(...r.value);
    }
    const bodies: string[] = [];
    for (let i = 0; i < events.length; i += BATCH)
      bodies.push(
        events
          .slice(i, i + BATCH)
          .map((e) => JSON.stringify(e))
          .join('\n'),
      );

    const f0 = performance.now();
    for (const b of bodies) for (const line of b.split('\n')) JSON.parse(line);
    const floor = events.length / ((performance.now() - f0) / 1000);

    // Warm-up, then the measured run.
    await post(bodies[0]!);
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const worker = new Worker(new URL('./http-load.ts', import.meta.url), {
      workerData: { url, token, bodies: bodies.slice(1), concurrency: CONCURRENCY },
    });
    const { throttled } = await new Promise<{ throttled: number }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    await pipeline.bus.flush();
    const stored = pipeline.store
      ? await pipeline.store.query<{ n: string }>('SELECT count() AS n FROM api_events')
      : [{ n: String(events.length) }];
    const n = stored[0]?.n ?? '0';
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuPerEvent = (cpu.user + cpu.system) / (events.length - BATCH);
    const throughput = (events.length - BATCH) / elapsed;
    if (Number(n) < events.length) throw new Error(`only ${n} of ${events.length} events stored`);

    // Latency: each trial is a fresh attacker sending minFailures failed logins in one request.
    const latencies: number[] = [];
    for (let trial = 0; trial < Number(process.env.APIWATCH_BENCH_TRIALS ?? 30); trial++) {
      const ip = `203.0.113.${trial + 1}`;
      const now = Date.now();
      const burst = Array.from({ length: 10 }, (_, i) =>
        JSON.stringify(
          buildEvent({
            ts: now + i,
            method: 'POST',
            path: '/login',
            status: 401,
            sourceKind: 'bench',
            raw: `${ip}:${trial}:${i}`,
            clientIp: ip,
          }),
        ),
      ).join('\n');
      const sent = performance.now();
      await post(burst);
      const deadline = sent + 10_000;
      while (!arrivals.has(ip) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 2));
      if (!arrivals.has(ip)) throw new Error(`no notification for trial ${trial}`);
      latencies.push(arrivals.get(ip)! - sent);
    }
    latencies.sort((a, b) => a - b);
    const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)]!;

    return [
      {
        name: 'embedded end to end (HTTP ingest → detect → store), events/s',
        value: throughput,
        unit: 'events/s',
        floor,
        ratio: throughput / floor,
        budget: 50_000,
        note: `${events.length.toLocaleString('en-US')} events in ${BATCH}-event NDJSON bodies, ${CONCURRENCY} connections from a load thread (${throttled} 429s); bus journal ${JOURNAL}; floor = JSON.parse of the same lines`,
      },
      {
        name: 'embedded end to end, CPU per event (all threads of this process)',
        value: cpuPerEvent,
        unit: 'µs',
      },
      { name: 'event in → notification sent, p50', value: q(0.5), unit: 'ms' },
      {
        name: 'event in → notification sent, p99',
        value: q(0.99),
        unit: 'ms',
        budget: 1000,
        lowerIsBetter: true,
        note: `${latencies.length} trials; budget p99 < 1000 ms (detect.allowedLatenessMs = ${config.detect.allowedLatenessMs})`,
      },
    ];
  } finally {
    await pipeline.close();
    receiver.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  for (const r of await run()) console.log(r);
}
