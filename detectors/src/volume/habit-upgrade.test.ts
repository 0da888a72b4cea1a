/**
 * Habit states checkpointed before decision 0026's second packing (a Float64Array(42) habit, a
 * TopK of routes, the episode's numbers and the finding entity as fields) still work: each state
 * is put back into that shape half-way through a stream — through the checkpoint codec and v8
 * serialization, as a restart would — and the detector must give the drafts of an uninterrupted run.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deserialize, serialize } from 'node:v8';
import type { ApiEvent } from '@apiwatch/core';
import { TopK } from '../bola/common.ts';
import { type CallSpec, call, DetectorHarness } from '../bola/harness.ts';
import '../registry.ts';
import { decodeState, encodeState } from '../runtime/state-codec.ts';
import { HABIT_LENGTH } from './actor-habit.ts';
import { actorSpike } from './actor-spike.ts';
import { exfiltration } from './exfiltration.ts';
import type { HabitState } from './habit-detector.ts';
import { scraping } from './scraping.ts';

const DAY = 86_400_000;
const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 2, 0, 0, 0);

function steady(c: Omit<CallSpec, 'ts'>, from: number, to: number, per5: number): ApiEvent[] {
  const out: ApiEvent[] = [];
  for (let t = from; t < to; t += (5 * MIN) / per5) {
    const h = new Date(t).getUTCHours();
    if (h >= 8 && h < 18) out.push(call({ ...c, ts: Math.floor(t) }));
  }
  return out;
}

/** The state as checkpoints held it before: Float64Array(42) habit (minute, day, hour, ...), TopK, fields. */
function toOld(s: HabitState): unknown {
  const n = s.habit;
  const minute = n[0]!;
  const habit = Float64Array.from([
    minute,
    minute < 0 ? -1 : Math.floor(minute / 1440),
    minute < 0 ? -1 : Math.floor(minute / 60),
    ...n.slice(1, HABIT_LENGTH),
  ]);
  const d = HABIT_LENGTH;
  const routes = new TopK(3);
  (s.routes ?? []).forEach((r, i) => {
    routes.add(r, n[d + 6 + i]!);
  });
  const old = {
    habit,
    routes,
    samples: s.samples ?? [],
    bar: n[d + 4]!,
    open: n[d] === 1,
    episodeStart: n[d + 1]!,
    lastAbove: n[d + 2]!,
    peakObserved: n[d + 3]!,
    entity:
      n[d + 5] === 1
        ? { kind: 'user', id: 'x', name: s.name, ref: s.credentialRef } // kind/id come from the key
        : null,
    tenant: s.tenant,
    clientIp: s.clientIp,
    userAgent: s.userAgent,
    ref: s.ref,
    recent: s.recent,
  };
  return decodeState(deserialize(serialize(encodeState(old))));
}

const cases: { name: string; detector: typeof actorSpike; events: () => ApiEvent[] }[] = [
  {
    name: 'actor_spike',
    detector: actorSpike,
    events: () => {
      const user = { user: 'carol', route: '/api/items' };
      const start = T0 + 3 * DAY + 10 * 3_600_000;
      return [
        ...steady(user, T0, T0 + 3 * DAY, 20),
        ...steady({ user: 'carol', route: '/api/items/{id}' }, T0, T0 + 3 * DAY, 3),
        ...steady(user, start, start + 10 * MIN, 2000),
      ];
    },
  },
  {
    name: 'exfiltration',
    detector: exfiltration as unknown as typeof actorSpike,
    events: () => {
      const user = { user: 'erin', route: '/api/documents/{id}', responseBytes: 5_000 };
      const start = T0 + 2 * DAY + 11 * 3_600_000;
      return [
        ...steady(user, T0, T0 + 2 * DAY, 30),
        ...steady({ ...user, responseBytes: 2_000_000 }, start, start + 6 * MIN, 200),
      ];
    },
  },
  {
    name: 'scraping',
    detector: scraping as unknown as typeof actorSpike,
    events: () => {
      const start = T0 + 2 * DAY + 12 * 3_600_000;
      return [
        ...steady({ user: 'frank', route: '/products', queryKeys: ['page'] }, T0, T0 + 2 * DAY, 5),
        ...steady(
          { user: 'frank', route: '/products', queryKeys: ['page', 'limit'] },
          start,
          start + 6 * MIN,
          600,
        ),
      ];
    },
  },
];

for (const c of cases)
  test(`${c.name}: a state of the earlier shape restored mid-stream gives the drafts of an uninterrupted run`, () => {
    const events = c.events().sort((a, b) => a.ts - b.ts);
    const plain = new DetectorHarness(c.detector);
    plain.run(events);
    plain.advance(events.at(-1)!.ts + DAY);
    assert.ok(
      plain.drafts.some((d) => (d.status ?? 'firing') === 'firing') &&
        plain.drafts.some((d) => d.status === 'resolved'),
      'the stream raises and resolves a finding',
    );
    // Before the burst, and in it (an open episode with samples and routes).
    const burst = events.findIndex((e) => e.ts >= events.at(-1)!.ts - 12 * MIN);
    for (const at of [Math.floor(events.length / 3), burst + 40, events.length - 20]) {
      const h = new DetectorHarness(c.detector);
      h.run(events.slice(0, at));
      assert.ok(h.states.size > 0);
      for (const [k, s] of h.states) h.states.set(k, toOld(s as HabitState) as HabitState);
      h.run(events.slice(at));
      h.advance(events.at(-1)!.ts + DAY);
      assert.deepEqual(h.drafts, plain.drafts, `restored at event ${at}`);
    }
  });
