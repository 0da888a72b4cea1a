import assert from 'node:assert/strict';
import test from 'node:test';
import { DAY_MS, fnv1a, LinearCounter, MINUTE_MS } from '../bola/common.ts';
import { addToHabit, advanceHabit, habitFrom, judgeHabit, newHabit, windowSum } from './actor-habit.ts';

const LIMITS = { floor: 10, coldFloor: 100, peakMultiplier: 3, zThreshold: 6, sharedAgents: 3 };
const T0 = Date.UTC(2026, 2, 2, 9);

test('a habit checkpointed in an earlier shape (object, Float64Array(42)) judges like the current one', () => {
  // The habit after three days of traffic from two user agents.
  const h = newHabit();
  const agents = ['curl/8', 'python-requests/2.31'];
  for (let d = 0; d < 3; d++)
    for (let m = 0; m < 30; m++) {
      const ts = T0 + d * DAY_MS + m * MINUTE_MS;
      advanceHabit(h, ts, true);
      addToHabit(h, ts, 2 + d + (m % 4), agents[m % 2]!);
    }
  const minute = h[0]!;
  const day = Math.floor(minute / 1440);
  const hour = Math.floor(minute / 60);
  // The same state written the way checkpoints held it first (fields, Float32Array peaks, a LinearCounter).
  const counter = new LinearCounter(16);
  for (const a of agents) counter.add(fnv1a(a));
  const legacy = {
    minute,
    day,
    hour,
    hourPeak: h[1],
    todayPeak: h[2],
    minutes: Float64Array.from(h.slice(3, 8)),
    peaks: Float32Array.from(h.slice(8, 36)),
    agents: counter,
  };
  // And as decision 0026's first packing held it: one Float64Array(42) with the day and hour.
  const packed42 = Float64Array.from([minute, day, hour, ...h.slice(1)]);
  assert.equal(packed42.length, 42);
  for (const old of [legacy, packed42]) {
    const back = habitFrom(old);
    assert.deepEqual(back, h);
    assert.equal(windowSum(back), windowSum(h));
    assert.deepEqual(judgeHabit(back, LIMITS, true), judgeHabit(h, LIMITS, true));
  }
  assert.equal(judgeHabit(h, LIMITS, true).distinctAgents, counter.estimate());
  // Extra numbers for the detector follow the habit, zeroed.
  assert.deepEqual(habitFrom(packed42, 3).slice(h.length), [0, 0, 0]);
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
