import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ApiEvent, buildEvent, createLogger, KafkaBus, loadConfig } from '@apiwatch/core';
import { KAFKA_BROKER, requireService, uniqueName, waitFor } from '../src/index.ts';

function busFor(id: string): KafkaBus {
  const base = loadConfig(undefined, {}).bus.kafka;
  return new KafkaBus(
    {
      ...base,
      brokers: [KAFKA_BROKER],
      groupPrefix: id,
      topics: { events: `${id}.events`, findings: `${id}.findings`, dlq: `${id}.dlq` },
      maxBatchEvents: 100,
    },
    createLogger('warn'),
  );
}

const ev = (i: number, actor: string): ApiEvent =>
  buildEvent({
    ts: 1_700_000_000_000 + i,
    method: 'GET',
    path: `/o/${i}`,
    status: 200,
    sourceKind: 'test',
    raw: `${actor}:${i}`,
    clientIp: actor,
  });

test('Kafka bus: keyed by actor, per-actor order kept, every group sees everything, redelivery after a failed handler', async (t) => {
  if (!(await requireService(t, 'kafka'))) return;
  const id = uniqueName('bus');
  const producer = busFor(id);
  const consumerA = busFor(id);
  const consumerB = busFor(id);
  t.after(async () => {
    await producer.close();
    await consumerA.close();
    await consumerB.close();
  });
  await producer.start();

  const actors = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5'];
  const events = Array.from({ length: 1000 }, (_, i) => ev(i, actors[i % actors.length]!));
  await producer.publish(
    'events',
    events.map((e) => ({ key: `ip:${e.client.ip}`, value: e })),
  );

  const seenA: ApiEvent[] = [];
  const seenB: ApiEvent[] = [];
  let failedOnce = false;
  await consumerA.subscribe('events', 'a', async (batch) => {
    for (const m of batch) seenA.push(m.value);
  });
  await consumerB.subscribe('events', 'b', async (batch) => {
    if (!failedOnce) {
      failedOnce = true;
      throw new Error('simulated failure before commit');
    }
    for (const m of batch) {
      assert.equal(m.key, `ip:${m.value.client.ip}`);
      seenB.push(m.value);
    }
  });
  await waitFor('group a to read everything', () => (seenA.length >= 1000 ? true : undefined), 60_000);
  await waitFor(
    'group b to read everything after its failure',
    () => (new Set(seenB.map((e) => e.id)).size >= 1000 ? true : undefined),
    90_000,
  );
  assert.equal(new Set(seenA.map((e) => e.id)).size, 1000);
  assert.equal(failedOnce, true);
  for (const actor of actors) {
    const order = seenA.filter((e) => e.client.ip === actor).map((e) => e.ts);
    assert.deepEqual(
      order,
      [...order].sort((x, y) => x - y),
      `events of ${actor} stay in order`,
    );
  }
});
