import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ChdbStore, createLogger, exampleFinding, type NotificationDeliveryRecord } from '@apiwatch/core';
import { generateSecret } from '../receivers/signing.ts';
import { createWebhookReceiver } from '../receivers/webhook.ts';
import { exampleNotification } from '../testing.ts';
import { Delivery } from './delivery.ts';
import { DeliveryLog } from './records.ts';

const dir = mkdtempSync(join(tmpdir(), 'apiwatch-delivery-records-'));
const store = new ChdbStore(dir);
const log = createLogger('silent');
before(() => store.start());
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * The delivery path writes notification_deliveries: a real webhook receiver against a real HTTP
 * server that fails the way receivers fail, the embedded queue's retries, the store's insert.
 */
test('every attempt is a row: delivered, retried then delivered, dead-lettered at once (4xx) and after the last attempt (5xx)', async () => {
  const seen = new Map<string, number>();
  const server = createServer((req, res) => {
    const id = String(req.headers['webhook-id']);
    const n = (seen.get(id) ?? 0) + 1;
    seen.set(id, n);
    req.resume();
    req.on('end', () => {
      if (id === 'n-ok') return res.writeHead(204).end();
      if (id === 'n-flaky') return res.writeHead(n === 1 ? 503 : 200).end();
      if (id === 'n-bad') return res.writeHead(400).end('no');
      res.writeHead(500).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  const hook = createWebhookReceiver(
    { id: 'hook', kind: 'webhook', url, timeoutMs: 2000, minSeverity: 'low', rateLimitPerSecond: 0 },
    generateSecret(),
  );
  const records = new DeliveryLog({ sink: store, log, flushIntervalMs: 50 });
  const delivery = new Delivery([hook], {
    kind: 'memory',
    redisUrl: '',
    name: 'records-test',
    policy: { attempts: 3, backoffMs: 1, concurrency: 1 },
    log,
    records,
  });
  await delivery.start();
  const queuedAt = Date.now() - 5000;
  const f = exampleFinding();
  for (const id of ['n-ok', 'n-flaky', 'n-bad', 'n-down'])
    await delivery.enqueue(exampleNotification({ id, receiver: 'hook', queuedAt }, [f, f]));
  await delivery.flush();
  await delivery.close();
  server.close();

  const rows = await store.query<{
    notification_id: string;
    attempt: number;
    outcome: string;
    code: string;
    http_status: number;
    latency_ms: string;
    findings: number;
    receiver: string;
  }>(
    `SELECT notification_id, attempt, outcome, code, http_status, latency_ms, findings, receiver
     FROM notification_deliveries ORDER BY notification_id, attempt`,
  );
  assert.deepEqual(
    rows.map((r) => [r.notification_id, Number(r.attempt), r.outcome, r.code, Number(r.http_status)]),
    [
      ['n-bad', 1, 'dead_lettered', 'ALERT_DELIVERY_REJECTED', 400],
      ['n-down', 1, 'retried', 'ALERT_DELIVERY_SERVER_ERROR', 500],
      ['n-down', 2, 'retried', 'ALERT_DELIVERY_SERVER_ERROR', 500],
      ['n-down', 3, 'dead_lettered', 'ALERT_DELIVERY_SERVER_ERROR', 500],
      ['n-flaky', 1, 'retried', 'ALERT_DELIVERY_SERVER_ERROR', 503],
      ['n-flaky', 2, 'delivered', '', 200],
      ['n-ok', 1, 'delivered', '', 204],
    ],
  );
  for (const r of rows) {
    assert.equal(r.receiver, 'hook');
    assert.equal(Number(r.findings), 2);
    assert.ok(Number(r.latency_ms) >= 5000, 'latency counts from when the notification was queued');
  }
  assert.equal(records.counters.written, 7);
  assert.equal(records.counters.dropped, 0);
  assert.deepEqual(
    (await delivery.deadLetters()).map((d) => d.id).sort(),
    ['n-bad', 'n-down'],
    'the rows agree with the queue',
  );
});

test('a store that refuses the records never fails a delivery: the records are counted as dropped', async () => {
  const failing = {
    insertDeliveries: async (_rows: readonly NotificationDeliveryRecord[]) => {
      throw new Error('store down');
    },
  };
  const records = new DeliveryLog({ sink: failing, log, maxBatchRows: 2, maxBufferedRows: 3 });
  const sent: string[] = [];
  const delivery = new Delivery(
    [
      {
        id: 'mem',
        kind: 'memory',
        send: async (n) => {
          sent.push(n.id);
          return { ok: true, status: 200 };
        },
      },
    ],
    {
      kind: 'memory',
      redisUrl: '',
      name: 'records-fail',
      policy: { attempts: 1, backoffMs: 1, concurrency: 1 },
      log,
      records,
    },
  );
  await delivery.start();
  for (const id of ['a', 'b', 'c', 'd', 'e'])
    await delivery.enqueue(exampleNotification({ id, receiver: 'mem' }, []));
  await delivery.flush();
  await delivery.close();
  assert.deepEqual(sent, ['a', 'b', 'c', 'd', 'e']);
  assert.equal(records.counters.written, 0);
  assert.equal(records.counters.dropped, 5);
});
