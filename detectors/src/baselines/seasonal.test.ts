import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ApiEvent, ChdbStore } from '@apiwatch/core';
import {
  expectedPerHour,
  patternedHistory,
  syntheticEventStream,
  type TrafficRoute,
  type WeeklyPattern,
} from '@apiwatch/test';
import { median } from 'simple-statistics';
import { BaselineRefresher } from './refresher.ts';
import { actorClassSeasonal, routeSeasonal, type SeasonalFallback, seasonalCell } from './seasonal.ts';
import { HOUR_MS, hourOfWeek, WEEK_HOURS } from './types.ts';

// Three weeks of history, Monday 2025-01-06 00:00 UTC to Monday 2025-01-27 00:00 UTC.
const START = Date.UTC(2025, 0, 6);
const END = START + 3 * 168 * HOUR_MS;
const PATTERN: WeeklyPattern = { businessPerHour: 600, nightPerHour: 60, weekendPerHour: 30, noise: 0.1 };
const ORDERS: TrafficRoute = {
  tenant: 'acme',
  method: 'GET',
  route: '/v1/orders/{orderId}',
  param: 'orderId',
};
// A route that appeared three days before the end of the history: cold start.
const FRESH: TrafficRoute = { tenant: 'acme', method: 'GET', route: '/v2/carts/{cartId}', param: 'cartId' };
const FALLBACK: SeasonalFallback = {
  requestsPerHour: { median: 1000, mad: 500 },
  actorsPerHour: { median: 100, mad: 50 },
};
const TUE_10 = 24 + 10;

describe('seasonal baselines over a three-week history with a weekly pattern', () => {
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-seasonal-'));
  const store = new ChdbStore(dir);
  const orders = patternedHistory(ORDERS, PATTERN, { fromMs: START, hours: 3 * 168, actors: 50, seed: 7 });
  const fresh = patternedHistory(FRESH, PATTERN, {
    fromMs: END - 72 * HOUR_MS,
    hours: 72,
    actors: 50,
    seed: 8,
  });
  const backgroundRoutes = new Set<string>();
  let inserted = 0;

  before(async () => {
    await store.start();
    const insert = async (events: readonly ApiEvent[]) => {
      for (let i = 0; i < events.length; i += 25_000) await store.insertEvents(events.slice(i, i + 25_000));
      inserted += events.length;
    };
    await insert(orders.events);
    await insert(fresh.events);
    // Other tenants' traffic over the same three weeks, flat: it must not leak into acme's routes.
    const background: ApiEvent[] = [];
    for (const e of syntheticEventStream(100_000, { seed: 3, startMs: START, meanGapMs: 18_000 })) {
      if (e.ts >= END) break;
      background.push(e);
      backgroundRoutes.add(`${e.identity.tenant} ${e.request.method} ${e.request.route}`);
    }
    await insert(background);
  });

  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('recovers the injected rate per hour of the week, with confidence high', async (t) => {
    const result = await routeSeasonal(store, {
      fromMs: END - 4 * 168 * HOUR_MS,
      toMs: END,
      fallback: FALLBACK,
    });
    t.diagnostic(
      `${inserted} events; route seasonal query ${result.queryMs.toFixed(0)} ms, median/MAD ${result.computeMs.toFixed(1)} ms over ${result.keys.kept} routes`,
    );
    const b = result.baselines.find((x) => x.tenant === 'acme' && x.route === ORDERS.route);
    assert.ok(b, 'the patterned route has a baseline');
    assert.equal(b.firstHourMs, START);

    const tue10 = seasonalCell(b.requests, TUE_10);
    assert.equal(tue10.confidence, 'high');
    assert.equal(tue10.source, 'history');
    assert.equal(tue10.samples, 3);
    assert.ok(
      Math.abs(tue10.median - PATTERN.businessPerHour) <= 0.15 * PATTERN.businessPerHour,
      `Tue 10:00 median ${tue10.median} vs injected ${PATTERN.businessPerHour}`,
    );
    assert.ok(
      Math.abs(tue10.medianPerMinute - PATTERN.businessPerHour / 60) <= 0.15 * (PATTERN.businessPerHour / 60),
    );

    // Every hour of the week: the same median the injected counts give, three weeks behind it,
    // close to the injected rate (10 % noise plus Poisson noise, which dominates at low rates),
    // and a MAD in line with that noise.
    const injectedByHow: number[][] = Array.from({ length: WEEK_HOURS }, () => []);
    for (const [hourStart, n] of orders.perHour) injectedByHow[hourOfWeek(hourStart)]!.push(n);
    for (let how = 0; how < WEEK_HOURS; how++) {
      const cell = seasonalCell(b.requests, how);
      const expected = expectedPerHour(PATTERN, how);
      assert.equal(cell.confidence, 'high', `hour ${how}`);
      assert.equal(cell.samples, 3, `hour ${how}`);
      assert.equal(cell.median, median(injectedByHow[how]!), `hour ${how}: median of the injected counts`);
      const tolerance = 0.12 * expected + 2.5 * Math.sqrt(expected);
      assert.ok(Math.abs(cell.median - expected) <= tolerance, `hour ${how}: ${cell.median} vs ${expected}`);
      assert.ok(
        cell.mad <= 0.2 * expected + 2 * Math.sqrt(expected),
        `hour ${how}: MAD ${cell.mad} for rate ${expected}`,
      );
    }

    // The shape: business hours ~10× nights, weekends lowest.
    const at = (day: number, hour: number) => seasonalCell(b.requests, day * 24 + hour).median;
    for (let day = 0; day < 5; day++) {
      assert.ok(at(day, 3) * 5 < at(day, 11), `day ${day}: night ${at(day, 3)} vs business ${at(day, 11)}`);
      assert.ok(
        at(day, 22) * 5 < at(day, 15),
        `day ${day}: evening ${at(day, 22)} vs afternoon ${at(day, 15)}`,
      );
    }
    for (const day of [5, 6]) {
      for (const hour of [3, 11, 15]) assert.ok(at(day, hour) * 10 < at(1, 10), `weekend ${day} ${hour}:00`);
    }
    const businessMads = Array.from(
      { length: 5 * 8 },
      (_, i) => seasonalCell(b.requests, Math.floor(i / 8) * 24 + 9 + (i % 8)).mad,
    );
    assert.ok(median(businessMads) > 0, 'noise shows up in the MAD');

    // Distinct actors: 50 actors all call in a 600-request hour; fewer are active at night.
    const actorsTue10 = seasonalCell(b.actors, TUE_10);
    assert.equal(actorsTue10.confidence, 'high');
    assert.ok(
      actorsTue10.median >= 45 && actorsTue10.median <= 50,
      `actors Tue 10:00: ${actorsTue10.median}`,
    );
    assert.ok(seasonalCell(b.actors, 24 * 6 + 3).median < actorsTue10.median);
  });

  it('keys the busiest routes up to maxKeys and counts the rest as dropped', async () => {
    const all = await routeSeasonal(store, { fromMs: START, toMs: END, fallback: FALLBACK });
    assert.equal(all.keys.found, backgroundRoutes.size + 2);
    assert.equal(all.keys.dropped, 0);
    const capped = await routeSeasonal(store, { fromMs: START, toMs: END, fallback: FALLBACK, maxKeys: 1 });
    assert.deepEqual(capped.keys, {
      found: backgroundRoutes.size + 2,
      kept: 1,
      dropped: backgroundRoutes.size + 1,
    });
    assert.equal(capped.baselines[0]!.route, ORDERS.route, 'the busiest route is kept');
    const acme = await routeSeasonal(store, { fromMs: START, toMs: END, fallback: FALLBACK, tenant: 'acme' });
    assert.deepEqual(acme.baselines.map((x) => x.route).sort(), [ORDERS.route, FRESH.route].sort());
  });

  it('per actor class: the same pattern for the class that made the calls', async () => {
    const result = await actorClassSeasonal(store, {
      fromMs: START,
      toMs: END,
      fallback: FALLBACK,
      tenant: 'acme',
    });
    const routes = await routeSeasonal(store, {
      fromMs: START,
      toMs: END,
      fallback: FALLBACK,
      tenant: 'acme',
    });
    const byClass = result.baselines.find((x) => x.route === ORDERS.route);
    const byRoute = routes.baselines.find((x) => x.route === ORDERS.route);
    assert.ok(byClass && byRoute);
    // The generated calls carry an API key fingerprint: actor key `credential:…`.
    assert.equal(byClass.actorClass, 'credential');
    assert.equal(result.baselines.filter((x) => x.route === ORDERS.route).length, 1);
    for (let how = 0; how < WEEK_HOURS; how++) {
      assert.equal(seasonalCell(byClass.requests, how).median, seasonalCell(byRoute.requests, how).median);
    }
    const tue10 = seasonalCell(byClass.requests, TUE_10);
    assert.equal(tue10.confidence, 'high');
    assert.ok(Math.abs(tue10.median - PATTERN.businessPerHour) <= 0.15 * PATTERN.businessPerHour);
  });

  it('cold start: a route with three days of history reads as the static fallback, confidence low', async () => {
    const result = await routeSeasonal(store, {
      fromMs: START,
      toMs: END,
      fallback: FALLBACK,
      tenant: 'acme',
    });
    const b = result.baselines.find((x) => x.route === FRESH.route);
    assert.ok(b);
    assert.equal(b.firstHourMs, END - 72 * HOUR_MS);
    for (let how = 0; how < WEEK_HOURS; how++) {
      const cell = seasonalCell(b.requests, how);
      assert.equal(cell.confidence, 'low', `hour ${how}`);
      assert.equal(cell.source, 'static');
      assert.ok(cell.samples <= 1);
      assert.equal(cell.median, FALLBACK.requestsPerHour.median);
      assert.equal(cell.mad, FALLBACK.requestsPerHour.mad);
      assert.equal(seasonalCell(b.actors, how).median, FALLBACK.actorsPerHour.median);
    }
    // The three days it has were observed once each; the rest of the week never.
    assert.equal(seasonalCell(b.requests, 4 * 24 + 10).samples, 1);
    assert.equal(seasonalCell(b.requests, TUE_10).samples, 0);
  });

  it('cold start: only three days read back, even for the route with three weeks', async () => {
    const result = await routeSeasonal(store, {
      fromMs: END - 72 * HOUR_MS,
      toMs: END,
      fallback: FALLBACK,
      tenant: 'acme',
    });
    const b = result.baselines.find((x) => x.route === ORDERS.route);
    assert.ok(b);
    const cells = Array.from({ length: WEEK_HOURS }, (_, how) => seasonalCell(b.requests, how));
    assert.ok(cells.every((c) => c.confidence === 'low' && c.median === FALLBACK.requestsPerHour.median));
    // With the minimum lowered to one week, the same three days are trusted where observed.
    const lenient = await routeSeasonal(store, {
      fromMs: END - 72 * HOUR_MS,
      toMs: END,
      fallback: FALLBACK,
      tenant: 'acme',
      minWeeks: 1,
    });
    const fri10 = seasonalCell(
      lenient.baselines.find((x) => x.route === ORDERS.route)!.requests,
      4 * 24 + 10,
    );
    assert.equal(fri10.confidence, 'high');
    assert.equal(fri10.median, orders.perHour.get(END - 72 * HOUR_MS + 10 * HOUR_MS));
  });
  it('a BaselineRefresher over this history serves the same pattern', async (t) => {
    const refresher = new BaselineRefresher({
      store,
      now: () => END,
      fallback: { seasonal: FALLBACK, objects: { p50: 10, p95: 50, p99: 100 }, authFailureRate: 0.05 },
    });
    await refresher.start();
    await refresher.close();
    const s = refresher.stats();
    t.diagnostic(
      `full refresh ${s.lastRefreshMs.toFixed(0)} ms: 4 queries ${s.lastQueryMs.toFixed(0)} ms, median/MAD ${s.lastComputeMs.toFixed(1)} ms; keys ${JSON.stringify(s.keys)}`,
    );
    assert.equal(s.keys.routes, backgroundRoutes.size + 2);
    const tue10 = refresher.get(ORDERS, TUE_10).requests;
    assert.equal(tue10.confidence, 'high');
    assert.ok(Math.abs(tue10.median - PATTERN.businessPerHour) <= 0.15 * PATTERN.businessPerHour);
    assert.equal(refresher.get(FRESH, TUE_10).requests.confidence, 'low');
  });
});
