import assert from 'node:assert/strict';
import test from 'node:test';
import { DAY_MS, fnv1a, LinearCounter, MINUTE_MS } from '../bola/common.ts';
import { addToHabit, advanceHabit, habitFrom, judgeHabit, newHabit, windowSum } from './actor-habit.ts';

const LIMITS = { floor: 10, coldFloor: 100, peakMultiplier: 3, zThreshold: 6, sharedAgents: 3 };
const T0 = Date.UTC(2026, 2, 2, 9);

test('a habit checkpointed in its earlier object shape judges like the packed one', () => {
  // The packed habit after three days of traffic from two user agents.
  const h = newHabit();
  const agents = ['curl/8', 'python-requests/2.31'];
  for (let d = 0; d < 3; d++)
    for (let m = 0; m < 30; m++) {
      const ts = T0 + d * DAY_MS + m * MINUTE_MS;
      advanceHabit(h, ts, true);
      addToHabit(h, ts, 2 + d + (m % 4), agents[m % 2]!);
    }
  // The same state written the way checkpoints held it before (fields, Float32Array peaks, a LinearCounter).
  const counter = new LinearCounter(16);
  for (const a of agents) counter.add(fnv1a(a));
  const legacy = {
    minute: h[0],
    day: h[1],
    hour: h[2],
    hourPeak: h[3],
    todayPeak: h[4],
    minutes: Float64Array.from(h.subarray(5, 10)),
    peaks: Float32Array.from(h.subarray(10, 38)),
    agents: counter,
  };
  const back = habitFrom(legacy);
  assert.deepEqual(Array.from(back), Array.from(h));
  assert.equal(windowSum(back), windowSum(h));
  assert.deepEqual(judgeHabit(back, LIMITS, true), judgeHabit(h, LIMITS, true));
  assert.equal(judgeHabit(h, LIMITS, true).distinctAgents, counter.estimate());
  // A packed habit passes through unchanged.
  assert.equal(habitFrom(h), h);
});

test('daily peaks keep float32 rounding; a gap of four weeks forgets them', () => {
  const h = newHabit();
  advanceHabit(h, T0, true);
  addToHabit(h, T0, 1 / 3, null);
  advanceHabit(h, T0 + MINUTE_MS, true);
  advanceHabit(h, T0 + 2 * 3_600_000, true);
  advanceHabit(h, T0 + DAY_MS, true);
  const j = judgeHabit(h, LIMITS, false);
  assert.equal(j.maxPeak, Math.fround(1 / 3));
  advanceHabit(h, T0 + 30 * DAY_MS, true);
  assert.equal(judgeHabit(h, LIMITS, false).maxPeak, null);
});
