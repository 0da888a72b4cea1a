import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KeyStore } from './store.ts';
import { WakeQueue } from './timers.ts';

/** A deterministic pseudo-random sequence (xorshift32), so a failing case can be replayed. */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

describe('WakeQueue', () => {
  test('fires in (time, order asked) with one wake per key, last request winning, removed keys never firing', () => {
    for (const seed of [1, 7, 42, 1234]) {
      const random = rng(seed);
      const stores = [new KeyStore({}), new KeyStore({})];
      const slots = stores.map((s) => Array.from({ length: 40 }, (_, i) => s.add(`k${i}`, null, {}, 0, 0)));
      const q = new WakeQueue(stores);
      // The model: per (run, slot) the pending (ts, seq), the seq being the order of the request.
      const model = new Map<string, { ts: number; seq: number; run: number; slot: number }>();
      let seq = 0;
      const fired: string[] = [];
      const expected: string[] = [];
      for (let step = 0; step < 3000; step++) {
        const run = random() < 0.5 ? 0 : 1;
        const slot = slots[run]![Math.floor(random() * 40)]!;
        const id = `${run}:${slot}`;
        const op = random();
        if (op < 0.6) {
          const ts = Math.floor(random() * 50); // many equal times: the seq order matters
          q.set(run, slot, ts);
          model.set(id, { ts, seq: seq++, run, slot });
        } else if (op < 0.75) {
          q.remove(run, slot);
          model.delete(id);
        } else if (q.size > 0) {
          const next = [...model.values()].sort((a, b) => a.ts - b.ts || a.seq - b.seq)[0]!;
          expected.push(`${next.run}:${next.slot}@${next.ts}`);
          model.delete(`${next.run}:${next.slot}`);
          fired.push(`${q.topRun()}:${q.topSlot()}@${q.peekTs()}`);
          q.pop();
        }
        assert.equal(q.size, model.size, `seed ${seed} step ${step}`);
      }
      assert.deepEqual(fired, expected, `seed ${seed}`);
      assert.ok(fired.length > 300);
      for (const [run, store] of stores.entries())
        for (const slot of slots[run]!)
          assert.equal(store.queued[slot]! >= 0, model.has(`${run}:${slot}`), `queued column, seed ${seed}`);
    }
  });
});
