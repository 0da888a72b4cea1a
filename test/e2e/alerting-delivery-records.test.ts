import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type BullmqQueue, Delivery, DeliveryLog, type Receiver } from '@apiwatch/alerting';
import { createLogger, type NotificationDeliveryRecord } from '@apiwatch/core';
import { exampleNotification } from '../../alerting/src/testing.ts';
import { REDIS_URL, requireService, uniqueName } from '../src/index.ts';

/**
 * The BullMQ queue reports every attempt like the embedded one (alerting/src/queue/records.test.ts
 * covers memory + the store): on real Redis, a retryable failure then a success, and a permanent
 * failure, give the rows the delivery panels count.
 */
test('BullMQ: each attempt is recorded with the outcome the queue decided', async (t) => {
  if (!(await requireService(t, 'redis'))) return;
  const rows: NotificationDeliveryRecord[] = [];
  const records = new DeliveryLog({
    sink: { insertDeliveries: async (r) => void rows.push(...r) },
    log: createLogger('silent'),
    flushIntervalMs: 20,
  });
  const calls = new Map<string, number>();
  const receiver: Receiver = {
    id: 'flaky',
    kind: 'test',
    async send(n) {
      const k = (calls.get(n.id) ?? 0) + 1;
      calls.set(n.id, k);
      if (n.id === 'b-perm')
        return { ok: false, code: 'ALERT_DELIVERY_REJECTED', retryable: false, status: 400, error: 'no' };
      if (k < 3)
        return {
          ok: false,
          code: 'ALERT_DELIVERY_SERVER_ERROR',
          retryable: true,
          status: 502,
          error: 'later',
        };
      return { ok: true, status: 202 };
    },
  };
  const name = uniqueName('records');
  const delivery = new Delivery([receiver], {
    kind: 'bullmq',
    redisUrl: REDIS_URL,
    name,
    policy: { attempts: 4, backoffMs: 10, concurrency: 1 },
    log: createLogger('silent'),
    records,
  });
  await delivery.start();
  t.after(async () => {
    await (delivery.queues.get('flaky') as BullmqQueue).obliterate();
    await delivery.close();
  });
  await delivery.enqueue(exampleNotification({ id: 'b-flaky', receiver: 'flaky' }));
  await delivery.enqueue(exampleNotification({ id: 'b-perm', receiver: 'flaky' }));
  await delivery.flush();
  await records.flush();
  assert.deepEqual(
    rows
      .map((r) => [r.notificationId, r.attempt, r.outcome, r.code, r.httpStatus])
      .sort((a, b) => String(a[0]).localeCompare(String(b[0])) || Number(a[1]) - Number(b[1])),
    [
      ['b-flaky', 1, 'retried', 'ALERT_DELIVERY_SERVER_ERROR', 502],
      ['b-flaky', 2, 'retried', 'ALERT_DELIVERY_SERVER_ERROR', 502],
      ['b-flaky', 3, 'delivered', '', 202],
      ['b-perm', 1, 'dead_lettered', 'ALERT_DELIVERY_REJECTED', 400],
    ],
  );
});
