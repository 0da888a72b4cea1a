import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createAlerting } from '@apiwatch/alerting';
import {
  AlertConfig,
  type AlertConfigValue,
  createLogger,
  createSecretResolver,
  exampleFinding,
} from '@apiwatch/core';
import { Value } from '@sinclair/typebox/value';
import { Redis } from 'ioredis';
import { requireBinary } from '../src/binaries.ts';
import { freePort, startDaemon, waitFor } from '../src/index.ts';

/**
 * Nothing lost, nothing sent twice: notifications go through BullMQ on a Redis of this test's
 * own (a redis-server on a free port with AOF, never the shared one), router state included.
 * 1. Redis is restarted while deliveries are in flight (the receiver answers slowly).
 * 2. The receiver is down for APIWATCH_TEST_OUTAGE_MS (default 60 s in CI semantics; the suite
 *    default here is 8 s to keep the run short — the retry path is the same) while findings keep
 *    arriving.
 * Every notification arrives exactly once (by webhook-id; no raw duplicate either).
 */
const OUTAGE_MS = Number(process.env.APIWATCH_TEST_OUTAGE_MS ?? 8000);

test('Redis restart mid-delivery and a receiver outage lose no notification and send none twice', {
  timeout: 240_000,
}, async (t) => {
  const redisBin = requireBinary(t, 'redis-server');
  if (!redisBin) return;
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-redis-restart-'));
  const port = await freePort();
  const redisArgs = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--appendonly',
    'yes',
    '--appendfsync',
    'always',
    '--save',
    '',
    '--daemonize',
    'no',
  ];
  let redis = startDaemon(redisBin, redisArgs);
  const url = `redis://127.0.0.1:${port}`;
  const ping = async () => {
    const c = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => {}); // a refused connect is the answer here
    try {
      await c.connect();
      return (await c.ping()) === 'PONG' ? true : undefined;
    } catch {
      return undefined;
    } finally {
      c.disconnect();
    }
  };
  await waitFor('redis up', ping, 15_000, redis.output);

  // The receiver: slow (150 ms per request) so deliveries are in flight when Redis goes away.
  const seen = new Map<string, number>();
  let server: Server | null = null;
  const hookPort = await freePort();
  const up = () =>
    new Promise<void>((resolve) => {
      server = createServer((req, res) => {
        req.resume();
        req.on('end', () =>
          setTimeout(() => {
            const id = String(req.headers['webhook-id']);
            seen.set(id, (seen.get(id) ?? 0) + 1);
            res.writeHead(204).end();
          }, 150),
        );
      });
      server.listen(hookPort, '127.0.0.1', () => resolve());
    });
  const down = () =>
    new Promise<void>((resolve) => {
      const s = server;
      server = null;
      if (!s) return resolve();
      s.closeAllConnections();
      s.close(() => resolve());
    });
  await up();

  const config = Value.Default(
    AlertConfig,
    structuredClone({
      receivers: [{ id: 'soc', kind: 'webhook', url: `http://127.0.0.1:${hookPort}/hook`, timeoutMs: 2000 }],
      route: { groupWaitSeconds: 0, groupIntervalSeconds: 3600, groupBy: ['fingerprint'] },
      queue: {
        kind: 'bullmq',
        redisUrl: url,
        name: 'restart',
        backoffMs: 200,
        maxBackoffMs: 2000,
        attempts: 200,
        concurrency: 2,
      },
      state: { kind: 'redis', redisUrl: url, keyPrefix: 'restart' },
    }),
  ) as AlertConfigValue;
  const alerting = createAlerting(config, { secrets: createSecretResolver({}), log: createLogger('error') });
  await alerting.start();
  // One cleanup, in order: the client before the Redis it talks to, the Redis before its files.
  t.after(async () => {
    await alerting.close();
    await down();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const finding = (i: number) => exampleFinding({ id: `f${i}-ep`, fingerprint: `fp${i}`, severity: 'high' });

  // 1. Redis restart while deliveries are in flight.
  for (let i = 0; i < 30; i++) await alerting.handle(finding(i));
  await waitFor('some deliveries', () => (seen.size >= 5 ? true : undefined), 30_000);
  assert.ok(seen.size < 30, 'still delivering when Redis goes away');
  await redis.stop();
  // The scenario's Redis outage: down for a second while deliveries are in flight (a length, not
  // a wait for a condition).
  await new Promise((r) => setTimeout(r, 1000));
  redis = startDaemon(redisBin, redisArgs);
  await waitFor('redis back', ping, 15_000, redis.output);
  await waitFor('the first 30 delivered', () => (seen.size >= 30 ? true : undefined), 60_000);

  // 2. The receiver goes down while findings keep coming; it comes back after the outage.
  await down();
  for (let i = 30; i < 60; i++) await alerting.handle(finding(i));
  // The outage lasts OUTAGE_MS and at least until deliveries are being retried.
  const outageEnds = Date.now() + OUTAGE_MS;
  await waitFor(
    'retries during the outage',
    () => (alerting.delivery.counters().soc!.retried > 0 && Date.now() >= outageEnds ? true : undefined),
    OUTAGE_MS + 60_000,
  );
  await up();
  await waitFor('all 60 delivered', () => (seen.size >= 60 ? true : undefined), 90_000);
  // flush resolves when no job is pending or waiting for a retry: a second send would have to be one.
  await alerting.flush();

  assert.equal(seen.size, 60, 'every notification arrived');
  const twice = [...seen].filter(([, n]) => n > 1);
  assert.deepEqual(twice, [], 'no notification was sent twice');
  assert.deepEqual(await alerting.delivery.deadLetters(), []);
});
