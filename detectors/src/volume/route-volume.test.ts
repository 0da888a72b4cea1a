import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ApiEvent } from '@apiwatch/core';
import { Value } from '@sinclair/typebox/value';
import { failureRate } from '../baselines/failures.ts';
import { ANY_TENANT, BaselineSnapshot, type RouteSeasonal } from '../baselines/index.ts';
import { type CallSpec, call, DetectorHarness, TEST_FALLBACKS } from '../bola/harness.ts';
import { errorSpike } from './error-spike.ts';
import { routeDrop } from './route-drop.ts';
import { routeSpike } from './route-spike.ts';

const MIN = 60_000;
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 2, 0, 0, 0); // Monday 00:00 UTC

/** Per minute: `perCaller` calls from each of `callers` callers (named by `name`). */
function minutes(
  from: number,
  count: number,
  callers: number,
  perCaller: number,
  c: Partial<CallSpec> & { name?: string } = {},
): ApiEvent[] {
  const out: ApiEvent[] = [];
  for (let m = 0; m < count; m++)
    for (let u = 0; u < callers; u++)
      for (let k = 0; k < perCaller; k++)
        out.push(
          call({
            route: '/api/login',
            method: 'POST',
            user: `${c.name ?? 'u'}${u}`,
            ...c,
            ts: from + m * MIN + Math.floor(((u * perCaller + k) * MIN) / (callers * perCaller + 1)),
          }),
        );
  return out;
}

/** A snapshot whose seasonal baseline for POST /api/login says `perHour` at every hour of the week. */
function seasonal(perHour: number, mad = perHour * 0.1): BaselineSnapshot {
  const series = () => ({
    median: new Float32Array(168).fill(perHour),
    mad: new Float32Array(168).fill(mad),
    samples: new Uint8Array(168).fill(4),
    minWeeks: 2,
  });
  const r: RouteSeasonal = {
    tenant: '',
    route: '/api/login',
    method: 'POST',
    firstHourMs: T0 - 28 * 24 * HOUR,
    requests: series(),
    actors: series(),
  };
  return new BaselineSnapshot({
    historyEndMs: T0,
    routes: new Map([['\u0000POST\u0000/api/login', r]]),
    classes: new Map(),
    objects: new Map(),
    failures: new Map(),
    overall: failureRate(0, 0, 1000, 0.05),
    fallback: TEST_FALLBACKS,
    minWeeks: 2,
    minRequests: 1000,
  });
}

test('route_spike positive: a few callers hammer a route far above its hour-of-week baseline', () => {
  const h = new DetectorHarness(routeSpike, { baselines: seasonal(600) });
  const start = T0 + 9 * HOUR;
  h.run([
    ...minutes(start, 20, 10, 1),
    ...minutes(start + 20 * MIN, 8, 4, 100, { name: 'bot' }),
    ...minutes(start + 20 * MIN, 8, 10, 1),
  ]);
  const f = h.firing()[0];
  assert.ok(f, 'fires');
  assert.equal(f.entity.id, 'POST /api/login');
  assert.equal(f.evidence.details.baselineKind, 'seasonal');
  assert.ok(f.at - (start + 20 * MIN) <= 5 * MIN);
  h.advance(start + 2 * HOUR);
  assert.equal(h.drafts.filter((d) => d.status === 'resolved').length, 1);
});

test('route_spike positive: with no seasonal baseline, against its own last hour', () => {
  const h = new DetectorHarness(routeSpike);
  const start = T0 + 10 * HOUR;
  h.run([...minutes(start, 45, 30, 1), ...minutes(start + 45 * MIN, 8, 5, 150, { name: 'x' })]);
  const f = h.firing()[0];
  assert.ok(f);
  assert.equal(f.evidence.details.baselineKind, 'recent');
});

test('route_spike negative: a campaign brings ten times the callers at their usual rate', () => {
  const h = new DetectorHarness(routeSpike);
  const start = T0 + 10 * HOUR;
  h.run([...minutes(start, 45, 30, 1), ...minutes(start + 45 * MIN, 20, 400, 1, { name: 'new' })]);
  assert.deepEqual(h.firing(), []);
});

test('route_spike negative: the Monday-morning level the seasonal baseline expects; a one-minute burst', () => {
  const h = new DetectorHarness(routeSpike, { baselines: seasonal(3000) });
  const start = T0 + 9 * HOUR;
  h.run([
    ...minutes(start, 30, 60, 1),
    ...minutes(start + 30 * MIN, 1, 5, 200, { name: 'burst' }),
    ...minutes(start + 31 * MIN, 10, 60, 1),
  ]);
  assert.deepEqual(h.firing(), []);
});

test('route_spike negative: a nightly batch seen the day before is a daily rhythm (no seasonal baseline yet)', () => {
  const h = new DetectorHarness(routeSpike);
  const events: ApiEvent[] = [];
  for (let d = 0; d < 2; d++)
    for (let hr = 0; hr < 24; hr++) {
      const at = T0 + d * 24 * HOUR + hr * HOUR;
      events.push(...minutes(at, 60, 5, 1));
      if (hr === 2) events.push(...minutes(at + 10 * MIN, 30, 1, 400, { service: 'batch', name: 'batch' }));
    }
  h.run(events);
  assert.deepEqual(
    h.firing().filter((f) => f.at > T0 + 24 * HOUR),
    [],
  );
});

test('error_spike positive: a route starts failing for most callers', () => {
  const h = new DetectorHarness(errorSpike);
  const start = T0 + 12 * HOUR;
  const ok = minutes(start, 40, 50, 1, { route: '/orders', method: 'GET' });
  ok.forEach((e, i) => {
    if (i % 100 === 0) e.response.status = 500;
  });
  const bad = minutes(start + 40 * MIN, 8, 50, 1, { route: '/orders', method: 'GET', status: 503 });
  bad.forEach((e, i) => {
    if (i % 3 === 0) e.response.status = 200;
  });
  h.run([...ok, ...bad]);
  const f = h.firing()[0];
  assert.ok(f);
  assert.equal(f.entity.id, 'GET /orders');
  assert.ok((f.evidence.details.share as number) > 0.5);
});

test('error_spike negative: a two-minute deploy blip; a quiet route failing; a route that always fails a bit', () => {
  const h = new DetectorHarness(errorSpike);
  const start = T0 + 12 * HOUR;
  const blip = [
    ...minutes(start, 30, 50, 1, { route: '/a' }),
    ...minutes(start + 30 * MIN, 2, 50, 1, { route: '/a', status: 502 }),
    ...minutes(start + 32 * MIN, 10, 50, 1, { route: '/a' }),
  ];
  const quiet = minutes(start, 60, 3, 1, { route: '/b', status: 500 });
  const flaky = minutes(start, 60, 40, 1, { route: '/c' });
  flaky.forEach((e, i) => {
    if (i % 4 === 0) e.response.status = 500;
  });
  h.run([...blip, ...quiet, ...flaky]);
  assert.deepEqual(h.firing(), []);
});

test('route_drop positive: a busy route goes silent (judged on the watermark, no event needed)', () => {
  const h = new DetectorHarness(routeDrop);
  const start = T0 + 14 * HOUR;
  h.run(minutes(start, 50, 60, 1, { route: '/pay', method: 'POST' }));
  const silentFrom = start + 50 * MIN;
  // Other traffic moves the watermark minute by minute.
  for (let m = 1; m <= 10; m++) h.advance(silentFrom + m * MIN);
  const f = h.firing()[0];
  assert.ok(f, 'fires');
  assert.equal(f.entity.id, 'POST /pay');
  assert.ok(f.at - silentFrom <= 6 * MIN, `after ${(f.at - silentFrom) / 1000} s`);
  h.run(minutes(silentFrom + 20 * MIN, 10, 60, 1, { route: '/pay', method: 'POST' }));
  assert.equal(h.drafts.filter((d) => d.status === 'resolved').length, 1);
});

test('route_drop negative: a quiet route stops; a busy route winds down for the evening', () => {
  const h = new DetectorHarness(routeDrop);
  const start = T0 + 17 * HOUR;
  const events = minutes(start, 60, 4, 1, { route: '/rare' });
  for (let m = 0; m < 120; m++)
    events.push(...minutes(start + m * MIN, 1, Math.max(10, 60 - Math.floor(m / 3)), 1, { route: '/busy' }));
  h.run(events);
  h.advance(start + 121 * MIN);
  assert.deepEqual(
    h.firing().map((f) => f.entity.id),
    [],
  );
});

/** A snapshot whose store history says GET /export took `requests` with a usual 5xx day share. */
function errorHistory(requests: number, dayShare: number): BaselineSnapshot {
  return new BaselineSnapshot({
    historyEndMs: T0,
    routes: new Map(),
    classes: new Map(),
    objects: new Map(),
    failures: new Map(),
    wholeErrors: [
      { route: '/export', method: 'GET', requests, serverErrors: Math.round(requests * dayShare), dayShare },
    ],
    overall: failureRate(0, 0, 1000, 0.05),
    fallback: TEST_FALLBACKS,
    minWeeks: 2,
    minRequests: 1000,
  });
}

/** A quiet route (calls of several tenants, a few a minute) failing `share` of the time. */
function quietFailing(start: number, count: number, share: number): ApiEvent[] {
  const out: ApiEvent[] = [];
  for (let i = 0; i < count; i++)
    out.push(
      call({
        route: '/export',
        method: 'GET',
        user: `u${i % 7}`,
        tenant: ['acme', 'globex', 'initech'][i % 3]!,
        status: (i * 7919) % 100 < share * 100 ? 503 : 200,
        ts: start + i * 24_000,
      }),
    );
  return out;
}

test('error_spike positive: a quiet route (2.5 calls a minute, no traffic the hour before) fails for 40% of calls, all tenants together', () => {
  const h = new DetectorHarness(errorSpike, { baselines: errorHistory(400, 0) });
  const start = T0 + 3 * HOUR;
  h.run(quietFailing(start, 60, 0.4));
  const f = h.firing()[0];
  assert.ok(f, 'fires');
  assert.equal(f.entity.id, 'GET /export');
  assert.equal(f.tenant, null, 'the route as a whole');
  assert.ok(f.at - start <= 16 * MIN, `after ${(f.at - start) / 1000} s`);
  assert.equal(f.evidence.details.usualFrom, 'history');
});

test('error_spike negative: the same quiet route when failing that much is its usual state; no history and no hour before', () => {
  const usual = new DetectorHarness(errorSpike, { baselines: errorHistory(400, 0.35) });
  usual.run(quietFailing(T0 + 3 * HOUR, 60, 0.4));
  assert.deepEqual(usual.firing(), []);
  const unknown = new DetectorHarness(errorSpike);
  unknown.run(quietFailing(T0 + 3 * HOUR, 60, 0.4));
  assert.deepEqual(unknown.firing(), [], 'a route failing since it was first seen has no "before"');
});

/** The all-tenants seasonal key of POST /api/login: `perHour` requests from `actors` callers at every hour. */
function wholeSeasonal(perHour: number, actors: number): BaselineSnapshot {
  const series = (v: number) => ({
    median: new Float32Array(168).fill(v),
    mad: new Float32Array(168).fill(v * 0.05),
    samples: new Uint8Array(168).fill(3),
    minWeeks: 2,
  });
  const r: RouteSeasonal = {
    tenant: ANY_TENANT,
    route: '/api/login',
    method: 'POST',
    firstHourMs: T0 - 21 * 24 * HOUR,
    requests: series(perHour),
    actors: series(actors),
  };
  return new BaselineSnapshot({
    historyEndMs: T0,
    routes: new Map(),
    wholeRoutes: new Map([[`${ANY_TENANT}\u0000POST\u0000/api/login`, r]]),
    classes: new Map(),
    objects: new Map(),
    failures: new Map(),
    overall: failureRate(0, 0, 1000, 0.05),
    fallback: TEST_FALLBACKS,
    minWeeks: 2,
    minRequests: 1000,
  });
}

test('route_drop positive: a route of many tenants at two a minute goes silent; judged over a longer window', () => {
  const h = new DetectorHarness(routeDrop, { baselines: wholeSeasonal(120, 40) });
  const start = T0 + 10 * HOUR;
  const events: ApiEvent[] = [];
  for (let i = 0; i < 90; i++)
    events.push(
      call({
        route: '/api/login',
        method: 'POST',
        user: `u${i}`,
        tenant: `t${i % 5}`,
        ts: start + i * 30_000,
      }),
    );
  h.run(events);
  const silentFrom = start + 45 * MIN;
  for (let m = 1; m <= 30; m++) h.advance(silentFrom + m * MIN);
  const f = h.firing()[0];
  assert.ok(f, 'fires');
  assert.equal(f.tenant, null);
  assert.ok(f.at - silentFrom <= 20 * MIN, `after ${(f.at - silentFrom) / 1000} s`);
});

test('route_drop negative: one heavy caller (a backup agent) finishing before its hour is over', () => {
  // The hour expects 600 requests, but one agent makes them at 20 a minute and stops at :30.
  const h = new DetectorHarness(routeDrop, { baselines: wholeSeasonal(600, 4) });
  const start = T0 + 1 * HOUR;
  const events: ApiEvent[] = [];
  for (let i = 0; i < 600; i++)
    events.push(
      call({
        route: '/api/login',
        method: 'POST',
        service: 'backup',
        credential: 'fp-b',
        credentialKind: 'api_key',
        ts: start + i * 3000,
      }),
    );
  h.run(events);
  for (let m = 1; m <= 30; m++) h.advance(start + 30 * MIN + m * MIN);
  assert.deepEqual(h.firing(), []);
});

/**
 * Sessions on POST /api/login: each hour `sessionsPerHour` users arrive (new names each hour) at
 * pseudo-random times, each making `calls` calls `gapMs` apart — bursty traffic at
 * `sessionsPerHour × calls` an hour.
 */
function sessions(
  from: number,
  hours: number,
  sessionsPerHour: number,
  calls: number,
  gapMs: number,
  name = 's',
): ApiEvent[] {
  const out: ApiEvent[] = [];
  let seed = 7;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  for (let h = 0; h < hours; h++)
    for (let u = 0; u < sessionsPerHour; u++) {
      const begin = from + h * HOUR + Math.floor(rand() * (HOUR - calls * gapMs));
      for (let k = 0; k < calls; k++)
        out.push(
          call({ route: '/api/login', method: 'POST', user: `${name}${h}-${u}`, ts: begin + k * gapMs }),
        );
    }
  return out;
}

test('route_drop positive: a route at one call a minute, in sessions of 15 callers an hour, goes silent for two hours (caller-hours)', () => {
  const h = new DetectorHarness(routeDrop, { baselines: wholeSeasonal(60, 15) });
  const start = T0 + 8 * HOUR;
  h.run(sessions(start, 2, 15, 4, 10_000));
  const silentFrom = start + 2 * HOUR;
  for (let m = 1; m <= 120; m++) h.advance(silentFrom + m * MIN);
  const f = h.firing()[0];
  assert.ok(f, 'fires');
  assert.equal(f.evidence.details.test, 'caller-hours');
  // Fifteen caller-hours an hour, less a fifth for the week-to-week spread: 12 after an hour
  // (p = e^-12 ≈ 6e-6 ≤ 1e-5); the window starts with the silence.
  assert.ok(f.at - silentFrom <= 65 * MIN, `after ${(f.at - silentFrom) / MIN} min`);
  assert.equal(f.firstSeen, silentFrom);
});

test('route_drop negative: the same rate from three long sessions an hour is silent for 90 minutes by chance', () => {
  // 60 calls an hour from 3 callers: three caller-hours an hour prove little (p ≈ e^-3.6 over 90 min).
  const h = new DetectorHarness(routeDrop, { baselines: wholeSeasonal(60, 3) });
  const start = T0 + 8 * HOUR;
  h.run(sessions(start, 2, 3, 20, 30_000));
  for (let m = 1; m <= 90; m++) h.advance(start + 2 * HOUR + m * MIN);
  assert.deepEqual(h.firing(), []);
});

test('route_drop: a state checkpointed before the five-minute bins (no bins) is upgraded and still judges a drop', () => {
  const h = new DetectorHarness(routeDrop, { baselines: wholeSeasonal(60, 15) });
  const start = T0 + 8 * HOUR;
  const events = sessions(start, 2, 15, 4, 10_000).sort((a, b) => a.ts - b.ts);
  h.run(events.slice(0, 10));
  for (const s of h.states.values()) {
    const old = s as unknown as Record<string, unknown>;
    delete old.bins;
    delete old.bin;
    delete old.binsFrom;
  }
  h.run(events.slice(10));
  for (let m = 1; m <= 120; m++) h.advance(start + 2 * HOUR + m * MIN);
  assert.equal(h.firing()[0]?.evidence.details.test, 'caller-hours');
});

/** Drives a detector by hand, counting the wakes it asks for. */
function wakes(
  detector: typeof routeSpike | typeof errorSpike | typeof routeDrop,
  events: ApiEvent[],
  snapshot?: BaselineSnapshot,
) {
  const config = Value.Default(detector.configSchema, {}) as never;
  let count = 0;
  let pending = Number.NaN;
  const ctx = {
    config,
    now: () => 0,
    baselines: () => snapshot ?? BaselineSnapshot.empty(TEST_FALLBACKS, 2, 1000),
    wakeAt: (ts: number) => {
      if (ts !== pending) count++;
      pending = ts;
    },
  };
  const key = detector.keyBy(events[0]!, config)!;
  const state = detector.init(key, events[0]!) as never;
  for (const e of events) detector.onEvent(state, e, ctx as never, key);
  return { count, pending };
}

test('route volume: a quiet route asks for no minute wakes (spike, error spike; a drop with nothing to judge)', () => {
  // Two calls a minute for an hour: below every spike floor, no 5xx, no seasonal baseline and
  // far below the recent fallback's 20 a minute.
  const events = minutes(T0 + 9 * HOUR, 60, 2, 1);
  for (const d of [routeSpike, errorSpike, routeDrop]) assert.equal(wakes(d, events).count, 0, d.id);
  // A learned hour-of-week cell the drop can judge: a wake every minute.
  assert.equal(wakes(routeDrop, events, wholeSeasonal(120, 40)).count, 60);
  // Cells with too few callers: one wake at the next hour, when the cell changes.
  const few = wakes(routeDrop, events, wholeSeasonal(120, 2));
  assert.equal(few.count, 1);
  assert.equal(few.pending, T0 + 10 * HOUR + MIN);
});
