import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ApiEvent, buildEvent, createLogger, KafkaBus } from '@apiwatch/core';
import { Producer, stringSerializers } from '@platformatic/kafka';
import { KAFKA_BROKER, kafkaBusConfig, requireService, uniqueName, waitFor } from '../src/index.ts';

function busFor(id: string): KafkaBus {
  return new KafkaBus({ ...kafkaBusConfig(id), maxBatchEvents: 100 }, createLogger('warn'));
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

test('Kafka bus: headers pass through chunked records; a plain one-event record (the kafkajs-era format) still decodes', async (t) => {
  if (!(await requireService(t, 'kafka'))) return;
  const id = uniqueName('bus-hdr');
  const bus = busFor(id);
  const raw = new Producer({
    clientId: 'legacy-writer',
    bootstrapBrokers: [KAFKA_BROKER],
    idempotent: true,
    serializers: stringSerializers,
  });
  t.after(async () => {
    await bus.close();
    await raw.close();
  });
  await bus.start();

  const traced = (i: number) => `00-${'ab'.repeat(16)}-${i.toString(16).padStart(16, '0')}-01`;
  // One actor, alternating trace headers in runs of 5: chunks must break where headers change.
  const events = Array.from({ length: 40 }, (_, i) => ev(i, '10.9.9.9'));
  await bus.publish(
    'events',
    events.map((e, i) => ({
      key: 'ip:10.9.9.9',
      value: e,
      headers: { traceparent: traced(Math.floor(i / 5)) },
    })),
  );
  const legacy = ev(1000, '10.9.9.8');
  await raw.send({
    messages: [
      {
        topic: `${id}.events`,
        key: 'ip:10.9.9.8',
        value: JSON.stringify(legacy),
        headers: { traceparent: traced(99) },
      },
    ],
  });

  const seen: Array<{ key: string; ts: number; headers?: Record<string, string> }> = [];
  await bus.subscribe('events', 'h', async (batch) => {
    for (const m of batch) seen.push({ key: m.key, ts: m.value.ts, headers: m.headers });
  });
  await waitFor('41 messages', () => (seen.length >= 41 ? true : undefined), 60_000);
  const chunked = seen.filter((s) => s.key === 'ip:10.9.9.9');
  assert.deepEqual(
    chunked.map((s) => s.ts),
    events.map((e) => e.ts),
    'one actor: every event, in order',
  );
  for (const [i, s] of chunked.entries()) {
    assert.deepEqual(s.headers, { traceparent: traced(Math.floor(i / 5)) }, `headers of event ${i}`);
  }
  const old = seen.find((s) => s.key === 'ip:10.9.9.8');
  assert.equal(old?.ts, legacy.ts);
  assert.deepEqual(old?.headers, { traceparent: traced(99) });
});

test('Kafka bus: a second member of a group takes over partitions; nothing is lost across the rebalance', async (t) => {
  if (!(await requireService(t, 'kafka'))) return;
  const id = uniqueName('bus-reb');
  const producer = busFor(id);
  const first = busFor(id);
  const second = busFor(id);
  t.after(async () => {
    await producer.close();
    await first.close();
    await second.close();
  });
  await producer.start();
  const actors = Array.from({ length: 32 }, (_, i) => `10.1.0.${i}`);
  const batchOf = (from: number) =>
    Array.from({ length: 1000 }, (_, i) => ev(from + i, actors[(from + i) % actors.length]!)).map((e) => ({
      key: `ip:${e.client.ip}`,
      value: e,
    }));

  const byFirst = new Set<string>();
  const bySecond = new Set<string>();
  await first.subscribe('events', 'r', async (batch) => {
    for (const m of batch) byFirst.add(m.value.id);
  });
  await producer.publish('events', batchOf(0));
  await waitFor(
    'the first member to read the first 1000',
    () => (byFirst.size >= 1000 ? true : undefined),
    60_000,
  );

  await second.subscribe('events', 'r', async (batch) => {
    for (const m of batch) bySecond.add(m.value.id);
  });
  // Keep publishing until the second member owns partitions and has read from them.
  const publishedFrom = [0];
  for (let from = 1000; bySecond.size === 0 && from <= 30_000; from += 1000) {
    await producer.publish('events', batchOf(from));
    publishedFrom.push(from);
    await new Promise((r) => setTimeout(r, 1000));
  }
  assert.ok(bySecond.size > 0, 'the second member got partitions');
  // One more batch after the rebalance settled; every event published must reach one member.
  const lastFrom = publishedFrom[publishedFrom.length - 1]! + 1000;
  await producer.publish('events', batchOf(lastFrom));
  publishedFrom.push(lastFrom);
  const expected = publishedFrom.flatMap((from) => batchOf(from).map((m) => m.value.id));
  await waitFor(
    'every published event read by one of the members',
    () => (expected.every((x) => byFirst.has(x) || bySecond.has(x)) ? true : undefined),
    90_000,
  );
  assert.ok(
    [...bySecond].every((x) => expected.includes(x)),
    'the second member read only events that were published',
  );
});
