import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryBus } from './memory.ts';
import type { DlqRecord } from './types.ts';

const rec = (i: number): { key: string; value: DlqRecord } => ({
  key: `k${i % 3}`,
  value: { ts: i, source: 't', collector: null, code: 'X', reason: String(i), raw: '' },
});

test('every group sees every message, in publish order', async () => {
  const bus = new MemoryBus(100);
  const a: number[] = [];
  const b: number[] = [];
  await bus.subscribe('dlq', 'a', async (batch) => {
    for (const m of batch) a.push(m.value.ts);
  });
  await bus.subscribe('dlq', 'b', async (batch) => {
    for (const m of batch) b.push(m.value.ts);
  });
  await bus.publish(
    'dlq',
    Array.from({ length: 250 }, (_, i) => rec(i)),
  );
  await bus.flush();
  assert.deepEqual(
    a,
    Array.from({ length: 250 }, (_, i) => i),
  );
  assert.deepEqual(b, a);
  await bus.close();
});

test('a full queue makes the publisher wait (backpressure) and reports saturation', async () => {
  const bus = new MemoryBus(10);
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const seen: number[] = [];
  await bus.subscribe('dlq', 'slow', async (batch) => {
    await gate;
    for (const m of batch) seen.push(m.value.ts);
  });
  let published = false;
  const p = bus
    .publish(
      'dlq',
      Array.from({ length: 30 }, (_, i) => rec(i)),
    )
    .then(() => {
      published = true;
    });
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(published, false, 'publisher must wait while the consumer is stuck');
  assert.equal(bus.saturated(), true);
  release();
  await p;
  await bus.flush();
  assert.equal(seen.length, 30);
  assert.equal(bus.saturated(), false);
  await bus.close();
});

test('a failing consumer gets the same batch again (nothing is lost)', async () => {
  const bus = new MemoryBus(100);
  let failures = 0;
  const seen: number[] = [];
  await bus.subscribe('dlq', 'flaky', async (batch) => {
    if (failures++ === 0) throw new Error('transient');
    for (const m of batch) seen.push(m.value.ts);
  });
  process.removeAllListeners('warning');
  await bus.publish('dlq', [rec(1), rec(2)]);
  await bus.flush();
  assert.deepEqual(seen, [1, 2]);
  await bus.close();
});

test('with no subscriber a publish keeps nothing and does not block', async () => {
  const bus = new MemoryBus(1);
  await bus.publish('dlq', [rec(1), rec(2), rec(3)]);
  assert.equal(bus.saturated(), false);
  await bus.close();
});
