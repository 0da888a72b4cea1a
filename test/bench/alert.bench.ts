/**
 * Alert latency (docs/design.md §5: finding in → notification sent, p99 < 1 s with no grouping wait):
 * `npm run bench -- alert`.
 *
 * - pipeline: createAlerting on real Redis (router state in Redis, BullMQ delivery queue per
 *   receiver), group_wait 0, one group per finding; a finding is handed to the alert stage and
 *   the clock stops when the receiver (a local HTTP server) has the notification in hand;
 * - raw floor: the same HTTP POST through a bare BullMQ queue + worker on the same Redis (no
 *   router, no state): what Redis + BullMQ + HTTP cost on this machine in this run;
 * - in-process: the same pipeline with in-process state and queue; embedded: state in the
 *   fsync'd file journal (the CLI's default), queue in process (no outbox here).
 * Findings arrive at APIWATCH_BENCH_ALERT_RATE per second (default 50), N in all (default 1000).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createAlerting, RedisStateStore } from '@apiwatch/alerting';
import {
  AlertConfig,
  type AlertConfigValue,
  createLogger,
  createSecretResolver,
  exampleFinding,
} from '@apiwatch/core';
import { Value } from '@sinclair/typebox/value';
import { Queue, Worker } from 'bullmq';
import type { BenchResult } from './types.ts';

const N = Number(process.env.APIWATCH_BENCH_ALERT_FINDINGS ?? 1000);
const RATE = Number(process.env.APIWATCH_BENCH_ALERT_RATE ?? 50);
const REDIS = process.env.APIWATCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** A receiver that resolves the waiter of each finding id it sees. */
async function receiver(
  extract: (body: string) => string[],
): Promise<{ url: string; server: Server; arrived: Map<string, number> }> {
  const arrived = new Map<string, number>();
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      const now = performance.now();
      for (const id of extract(body)) if (!arrived.has(id)) arrived.set(id, now);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, server, arrived };
}

async function paced(
  send: (i: number) => Promise<void>,
  sentAt: Map<string, number>,
  key: (i: number) => string,
): Promise<void> {
  const gap = 1000 / RATE;
  const start = performance.now();
  for (let i = 0; i < N; i++) {
    const due = start + i * gap;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    sentAt.set(key(i), performance.now());
    await send(i);
  }
}

async function latencies(sentAt: Map<string, number>, arrived: Map<string, number>): Promise<number[]> {
  const deadline = Date.now() + 60_000;
  while (arrived.size < sentAt.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (arrived.size < sentAt.size)
    throw new Error(`only ${arrived.size}/${sentAt.size} notifications arrived`);
  return [...sentAt].map(([id, t]) => arrived.get(id)! - t).sort((a, b) => a - b);
}

async function pipeline(kind: 'redis' | 'memory' | 'file'): Promise<number[]> {
  const name = `bench-alert-${process.pid}-${kind}-${Date.now()}`;
  const rx = await receiver((b) => (JSON.parse(b).data.findings as Array<{ id: string }>).map((f) => f.id));
  const config = Value.Default(
    AlertConfig,
    structuredClone({
      receivers: [{ id: 'hook', kind: 'webhook', url: rx.url }],
      route: { groupWaitSeconds: 0, groupBy: ['fingerprint'] },
      queue:
        kind === 'redis' ? { kind: 'bullmq', redisUrl: REDIS, name, concurrency: 8 } : { concurrency: 8 },
      state: kind === 'redis' ? { kind: 'redis', redisUrl: REDIS, keyPrefix: name } : { kind },
    }),
  ) as AlertConfigValue;
  const stateDir = kind === 'file' ? mkdtempSync(join(tmpdir(), 'apiwatch-bench-alert-')) : null;
  const alerting = createAlerting(config, {
    secrets: createSecretResolver({}),
    log: createLogger('warn'),
    stateDir,
  });
  await alerting.start();
  const sentAt = new Map<string, number>();
  try {
    await paced(
      (i) => alerting.handle(exampleFinding({ id: `f${i}`, fingerprint: `fp${i}` })),
      sentAt,
      (i) => `f${i}`,
    );
    return await latencies(sentAt, rx.arrived);
  } finally {
    await alerting.close();
    rx.server.close();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
    if (kind === 'redis') {
      const r = new RedisStateStore(REDIS, name);
      await r.clear();
      await r.redis.eval(
        "for _,k in ipairs(redis.call('keys', ARGV[1])) do redis.call('del', k) end",
        0,
        `bull:${name}*`,
      );
      await r.close();
    }
  }
}

async function rawFloor(): Promise<number[]> {
  const name = `bench-alert-raw-${process.pid}-${Date.now()}`;
  const rx = await receiver((b) => [JSON.parse(b).id as string]);
  const connection = { url: REDIS, maxRetriesPerRequest: null };
  const queue = new Queue(name, { connection });
  const worker = new Worker(
    name,
    async (job) => {
      await fetch(rx.url, {
        method: 'POST',
        body: JSON.stringify(job.data),
        headers: { 'content-type': 'application/json' },
      });
    },
    { connection, concurrency: 8 },
  );
  await worker.waitUntilReady();
  const sentAt = new Map<string, number>();
  try {
    await paced(
      (i) => queue.add('n', { id: `r${i}`, finding: exampleFinding() }, { jobId: `r${i}` }).then(() => {}),
      sentAt,
      (i) => `r${i}`,
    );
    return await latencies(sentAt, rx.arrived);
  } finally {
    await worker.close();
    await queue.obliterate({ force: true });
    await queue.close();
    rx.server.close();
  }
}

export async function run(): Promise<BenchResult[]> {
  const floor = await rawFloor();
  const redis = await pipeline('redis');
  const memory = await pipeline('memory');
  const file = await pipeline('file');
  const f50 = percentile(floor, 50);
  const f99 = percentile(floor, 99);
  const r50 = percentile(redis, 50);
  const r99 = percentile(redis, 99);
  const note = `${N} findings at ${RATE}/s, group_wait 0, webhook receiver on 127.0.0.1`;
  return [
    {
      name: 'finding → notification sent, Redis + BullMQ, p50',
      value: r50,
      unit: 'ms',
      floor: f50,
      ratio: r50 / f50,
      lowerIsBetter: true,
      note,
    },
    {
      name: 'finding → notification sent, Redis + BullMQ, p99',
      value: r99,
      unit: 'ms',
      floor: f99,
      ratio: r99 / f99,
      budget: 1000,
      lowerIsBetter: true,
    },
    {
      name: 'finding → notification sent, in-process state, p50',
      value: percentile(memory, 50),
      unit: 'ms',
      lowerIsBetter: true,
    },
    {
      name: 'finding → notification sent, in-process state, p99',
      value: percentile(memory, 99),
      unit: 'ms',
      budget: 1000,
      lowerIsBetter: true,
    },
    {
      name: "finding → notification sent, embedded (fsync'd state journal), p50",
      value: percentile(file, 50),
      unit: 'ms',
      lowerIsBetter: true,
    },
    {
      name: "finding → notification sent, embedded (fsync'd state journal), p99",
      value: percentile(file, 99),
      unit: 'ms',
      budget: 1000,
      lowerIsBetter: true,
    },
  ];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const r of await run()) console.log(JSON.stringify(r));
  process.exit(0);
}
