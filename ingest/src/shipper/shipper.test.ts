import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { type ApiEvent, buildEvent, createLogger, MemoryBus } from '@apiwatch/core';
import { sha256Hex } from '../server/auth.ts';
import { createIngestServer } from '../server/ingest.ts';
import { createIngestClient } from './client.ts';
import { Shipper } from './shipper.ts';

const TOKEN = 'shipper-test-token-0123456789';
const ev = (i: number): ApiEvent =>
  buildEvent({
    ts: Date.now() + i,
    method: 'GET',
    path: `/s/${i}`,
    status: 200,
    sourceKind: 'test',
    raw: `s${i}`,
  });

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

test('a flush that cannot reach ingest stops after its retry budget, says why, and keeps the events held', async () => {
  const port = await closedPort();
  const delays: number[] = [];
  const shipper = new Shipper({
    client: createIngestClient({ baseUrl: `http://127.0.0.1:${port}`, token: TOKEN }),
    batchSize: 10,
    flushMs: 1000,
    retry: { attempts: 3, initialBackoffMs: 100, maxBackoffMs: 150 },
    sleep: async (ms) => {
      delays.push(ms);
    },
  });
  shipper.add([ev(1), ev(2), ev(3)]);
  const r = await shipper.flush();
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.error.code, 'COLLECT_INGEST_UNREACHABLE');
  assert.equal(r.error.detail, 'ECONNREFUSED');
  assert.equal(r.error.attempts, 3);
  assert.equal(r.error.unshipped, 3);
  assert.deepEqual(delays, [100, 150], 'backoff doubles up to maxBackoffMs');
  assert.equal(shipper.held, 3);
  assert.equal(shipper.stats.retries, 2);
});

test('batches of batchSize reach a real ingest; a wrong token is not retried', async (t) => {
  const bus = new MemoryBus(1000);
  const got: ApiEvent[] = [];
  await bus.subscribe('events', 't', async (b) => {
    for (const m of b) got.push(m.value);
  });
  const server = await createIngestServer({
    host: '127.0.0.1',
    port: 0,
    maxBodyBytes: 1 << 20,
    maxRecordsPerRequest: 4,
    collectors: [{ id: 'c', tokenSha256: sha256Hex(TOKEN) }],
    bus,
    log: createLogger('silent'),
  });
  t.after(() => server.app.close());
  const shipper = new Shipper({
    client: createIngestClient({ baseUrl: server.url(), token: TOKEN }),
    batchSize: 4,
    flushMs: 1000,
    retry: { attempts: 3, initialBackoffMs: 1, maxBackoffMs: 1 },
  });
  shipper.add(Array.from({ length: 10 }, (_, i) => ev(i)));
  assert.equal(shipper.due(), true);
  const r = await shipper.flush();
  assert.equal(r.ok, true);
  await bus.flush();
  assert.equal(got.length, 10, 'three requests of at most 4 (ingest.maxRecordsPerRequest) each');
  assert.equal(shipper.stats.shipped, 10);

  let calls = 0;
  const wrong = new Shipper({
    client: createIngestClient({
      baseUrl: server.url(),
      token: 'wrong',
      fetch: (...args) => {
        calls++;
        return fetch(...args);
      },
    }),
    batchSize: 4,
    flushMs: 1000,
    retry: { attempts: 5, initialBackoffMs: 1, maxBackoffMs: 1 },
  });
  wrong.add([ev(99)]);
  const refused = await wrong.flush();
  assert.equal(refused.ok, false);
  if (!refused.ok) assert.equal(refused.error.code, 'INGEST_UNAUTHENTICATED');
  assert.equal(calls, 1);
});
