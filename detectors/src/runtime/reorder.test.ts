import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ApiEvent, buildEvent } from '@apiwatch/core';
import { ReorderBuffer } from './reorder.ts';

const ev = (ts: number): ApiEvent =>
  buildEvent({ ts, method: 'GET', path: '/', status: 200, sourceKind: 't', raw: String(ts) });

test('releases in event-time order once the watermark passes, holds the rest', () => {
  const buf = new ReorderBuffer(100);
  const out: ApiEvent[] = [];
  for (const ts of [1000, 950, 1020, 990, 1200]) buf.push(ev(ts), out);
  assert.deepEqual(
    out.map((e) => e.ts),
    [950, 990, 1000, 1020],
  );
  assert.equal(buf.size, 1);
  buf.drain(out);
  assert.deepEqual(
    out.map((e) => e.ts),
    [950, 990, 1000, 1020, 1200],
  );
});

test('an event behind the watermark is released at once and counted late', () => {
  const buf = new ReorderBuffer(10);
  const out: ApiEvent[] = [];
  buf.push(ev(1000), out);
  buf.push(ev(2000), out);
  buf.push(ev(500), out);
  assert.equal(buf.late, 1);
  assert.deepEqual(
    out.map((e) => e.ts),
    [1000, 500],
  );
});

test('a large random permutation within the lateness comes out sorted', () => {
  const buf = new ReorderBuffer(1000);
  const out: ApiEvent[] = [];
  const ts = Array.from({ length: 5000 }, (_, i) => i * 10 + Math.floor(Math.random() * 900));
  for (const t of ts) buf.push(ev(t), out);
  buf.drain(out);
  const got = out.map((e) => e.ts);
  assert.deepEqual(
    got,
    [...ts].sort((a, b) => a - b),
  );
  assert.equal(buf.late, 0);
});

test('live: expire() releases events held longer than the lateness in wall-clock time, in event-time order', () => {
  const buf = new ReorderBuffer(250);
  const out: ApiEvent[] = [];
  // One-second log timestamps: nothing newer arrives to move the event-time watermark.
  buf.push(ev(5000), out, 10_000);
  buf.push(ev(4900), out, 10_100);
  buf.push(ev(5000), out, 10_200);
  assert.equal(out.length, 0);
  buf.expire(10_249, out);
  assert.equal(out.length, 0, 'nothing has waited 250 ms yet');
  buf.expire(10_260, out);
  assert.deepEqual(
    out.map((e) => e.ts),
    [4900, 5000, 5000],
    'the first arrival expired; everything up to its event time goes',
  );
  assert.equal(buf.size, 0);
});
