import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ChdbStore } from '@apiwatch/core';
import { Admin, Producer, stringSerializers } from '@platformatic/kafka';
import { drainPending } from 'chdb';
import {
  KAFKA_BROKER,
  requireService,
  startApiwatch,
  syntheticEvents,
  uniqueName,
  waitFor,
} from '../src/index.ts';

/**
 * `kill -9` of a store-role process while it is inserting, then a restart: every event ends up
 * stored exactly once. The first process is killed after a few inserts have completed and while
 * more are in flight; the second re-reads from the last committed offsets.
 */
test('store role: SIGKILL mid-batch and restart leave every event stored exactly once', async (t) => {
  if (!(await requireService(t, 'kafka'))) return;
  const N = 40_000;
  const id = uniqueName('store-eo');
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-store-eo-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const topics = { events: `${id}.events`, findings: `${id}.findings`, dlq: `${id}.dlq` };
  const config = join(dir, 'apiwatch.yaml');
  writeFileSync(
    config,
    [
      `dataDir: ${join(dir, 'data')}`,
      'logLevel: debug',
      'bus:',
      '  kind: kafka',
      '  kafka:',
      `    brokers: ['${KAFKA_BROKER}']`,
      `    groupPrefix: ${id}`,
      `    topics: { events: ${topics.events}, findings: ${topics.findings}, dlq: ${topics.dlq} }`,
      '    partitions: 3',
      'store:',
      '  maxBatchRows: 1500',
      '  maxBatchDelayMs: 200',
      '',
    ].join('\n'),
  );

  const admin = new Admin({ clientId: id, bootstrapBrokers: [KAFKA_BROKER] });
  t.after(() => admin.close());
  await admin.createTopics({ topics: Object.values(topics), partitions: 3, replicas: 1 });
  const events = syntheticEvents(N, { seed: 11, startMs: Date.now() - 3_600_000, meanGapMs: 50 });
  // One plain record per event, written by a raw idempotent producer (not the bus, which chunks by key).
  const producer = new Producer({
    clientId: id,
    bootstrapBrokers: [KAFKA_BROKER],
    idempotent: true,
    serializers: stringSerializers,
  });
  for (let i = 0; i < N; i += 2000) {
    await producer.send({
      messages: events.slice(i, i + 2000).map((e) => ({
        topic: topics.events,
        key: e.identity.credential.fingerprint ?? e.id,
        value: JSON.stringify(e),
      })),
    });
  }
  await producer.close();

  const first = startApiwatch(['start', '--role', 'store', '--config', config]);
  t.after(() => first.stop('SIGKILL'));
  await waitFor(
    'three inserts by the first process',
    () => ((first.output().match(/store insert done/g) ?? []).length >= 3 ? true : undefined),
    60_000,
    () => first.output().slice(-3000),
  );
  first.child.kill('SIGKILL');
  assert.equal(await first.exited, null, 'killed by a signal, not exited');
  const doneBeforeKill = (first.output().match(/store insert done/g) ?? []).length;

  const groupId = `${id}.store`;
  const lagZero = async () => {
    const listed = await admin.listOffsets({
      topics: [
        {
          name: topics.events,
          partitions: [0, 1, 2].map((partitionIndex) => ({ partitionIndex, timestamp: -1n })),
        },
      ],
    });
    const high = listed[0]!.partitions.map((p) => ({ partition: p.partitionIndex, high: Number(p.offset) }));
    const committed = await admin.listConsumerGroupOffsets({ groups: [groupId] });
    const byPartition = new Map(
      (committed[0]?.topics.find((x) => x.name === topics.events)?.partitions ?? []).map((p) => [
        p.partitionIndex,
        Number(p.committedOffset),
      ]),
    );
    lastLag = high
      .map((h) => `p${h.partition}: committed ${byPartition.get(h.partition)} of ${h.high}`)
      .join(', ');
    return high.every((h) => byPartition.get(h.partition) === h.high);
  };
  let lastLag = '';
  assert.equal(await lagZero(), false, 'the kill left uncommitted events behind');

  const second = startApiwatch(['start', '--role', 'store', '--config', config]);
  t.after(() => second.stop('SIGKILL'));
  await waitFor(
    'the restarted store role to commit every offset',
    async () => ((await lagZero()) ? true : undefined),
    120_000,
    () =>
      `${lastLag}\n${second
        .output()
        .split('\n')
        .filter((l) => !l.includes('store insert done'))
        .join('\n')
        .slice(-4000)}`,
  );
  assert.equal(await second.stop('SIGTERM'), 0, second.output().slice(-2000));

  await drainPending();
  const store = new ChdbStore({ path: join(dir, 'data', 'chdb') });
  await store.start();
  try {
    const [c] = await store.query<{ n: string; u: string; f: string }>(
      'SELECT count() AS n, uniqExact(id) AS u, (SELECT count() FROM api_events FINAL) AS f FROM api_events',
    );
    assert.equal(Number(c!.u), N, 'every event stored');
    assert.equal(Number(c!.f), N, 'exactly once under FINAL');
    assert.ok(Number(c!.n) >= N);
    const [b] = await store.query<{ r: string }>('SELECT sum(requests) AS r FROM baseline_route_minute');
    t.diagnostic(
      `inserts before kill: ${doneBeforeKill}; raw rows ${c!.n} (before merge), baseline requests ${b!.r}`,
    );
  } finally {
    await store.close();
  }
});
