import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ChdbStore } from '@apiwatch/core';
import { patternedHistory, type TrafficRoute, type WeeklyPattern } from '@apiwatch/test';
import { type BaselineFallbacks, BaselineRefresher } from './refresher.ts';
import { routeSeasonal, seasonalCell } from './seasonal.ts';
import { HOUR_MS, hourOfWeek } from './types.ts';

const START = Date.UTC(2025, 0, 6);
const END = START + 3 * 168 * HOUR_MS;
const PATTERN: WeeklyPattern = { businessPerHour: 60, nightPerHour: 6, weekendPerHour: 3, noise: 0.1 };
const ORDERS: TrafficRoute = {
  tenant: 'acme',
  method: 'GET',
  route: '/v1/orders/{orderId}',
  param: 'orderId',
};
const LATE: TrafficRoute = { tenant: 'acme', method: 'GET', route: '/v1/late/{lateId}', param: 'lateId' };
const UNKNOWN = { tenant: 'acme', method: 'GET', route: '/v1/never' };
const FALLBACK: BaselineFallbacks = {
  seasonal: { requestsPerHour: { median: 1000, mad: 500 }, actorsPerHour: { median: 100, mad: 50 } },
  objects: { p50: 10, p95: 50, p99: 100 },
  authFailureRate: 0.05,
};
const TUE_10 = 24 + 10;

describe('BaselineRefresher', () => {
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-refresher-'));
  const store = new ChdbStore(dir);
  const orders = patternedHistory(ORDERS, PATTERN, { fromMs: START, hours: 3 * 168, actors: 50, seed: 21 });
  // Event time half an hour into the hour after the history: that partial hour is left out.
  const now = () => END + HOUR_MS / 2;

  before(async () => {
    await store.start();
    await store.insertEvents(orders.events);
  });

  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the fallback before the first refresh and the learned baselines after it', async (t) => {
    const refresher = new BaselineRefresher({ store, fallback: FALLBACK, now, refreshSeconds: 3600 });
    const cold = refresher.get(ORDERS, TUE_10);
    assert.equal(cold.requests.confidence, 'low');
    assert.equal(cold.requests.median, FALLBACK.seasonal.requestsPerHour.median);
    await refresher.start();
    try {
      const stats = refresher.stats();
      t.diagnostic(
        `${orders.events.length} events; refresh ${stats.lastRefreshMs.toFixed(0)} ms (queries ${stats.lastQueryMs.toFixed(0)} ms, median/MAD ${stats.lastComputeMs.toFixed(1)} ms)`,
      );
      assert.equal(stats.refreshes, 1);
      assert.equal(stats.failures, 0);
      assert.equal(stats.historyEndMs, END);
      assert.deepEqual(stats.keys, {
        routes: 1,
        actorClasses: 1,
        objectRoutes: 1,
        failureRoutes: 1,
        ownedObjects: 0,
      });

      const direct = await routeSeasonal(store, {
        fromMs: END - 4 * 168 * HOUR_MS,
        toMs: END,
        fallback: FALLBACK.seasonal,
      });
      const snapshot = refresher.snapshot();
      for (let how = 0; how < 168; how++) {
        assert.deepEqual(
          snapshot.get(ORDERS, how).requests,
          seasonalCell(direct.baselines[0]!.requests, how),
        );
      }
      const tue10 = snapshot.get(ORDERS, TUE_10);
      assert.equal(tue10.requests.confidence, 'high');
      assert.ok(Math.abs(tue10.requests.median - 60) <= 0.25 * 60, `${tue10.requests.median}`);
      assert.equal(snapshot.actorClass(ORDERS, 'credential', TUE_10).requests.median, tue10.requests.median);
      assert.equal(snapshot.actorClass(ORDERS, 'ip', TUE_10).requests.confidence, 'low');
      assert.equal(snapshot.objectPeers(ORDERS).confidence, 'high');
      assert.equal(snapshot.objectPeers(ORDERS).samples, 50);
      const fr = snapshot.authFailureRate(ORDERS);
      assert.equal(fr.requests, orders.events.length);
      assert.deepEqual([fr.rate, fr.confidence], [0, 'high']);
      assert.equal(snapshot.overallAuthFailureRate().requests, orders.events.length);

      // Keys the snapshot does not hold read as the fallback, never of confidence high: callers
      // that see hasSeasonal false skip the hour-of-week lookups.
      const unknown = snapshot.get(UNKNOWN, hourOfWeek(END));
      assert.deepEqual([unknown.requests.confidence, unknown.requests.median], ['low', 1000]);
      assert.deepEqual([snapshot.hasSeasonal(ORDERS), snapshot.hasSeasonal(UNKNOWN)], [true, false]);
      for (let how = 0; how < 168; how++) assert.equal(snapshot.get(UNKNOWN, how).requests.confidence, 'low');
      assert.deepEqual(
        [snapshot.objectPeers(UNKNOWN).p99, snapshot.objectPeers(UNKNOWN).confidence],
        [100, 'low'],
      );
      assert.deepEqual(
        [snapshot.authFailureRate(UNKNOWN).rate, snapshot.authFailureRate(UNKNOWN).source],
        [0.05, 'static'],
      );
      assert.ok(Object.isFrozen(snapshot));
    } finally {
      await refresher.close();
    }
  });

  it('flush() swaps in a new snapshot; a held snapshot does not change; the cap is counted', async () => {
    const refresher = new BaselineRefresher({
      store,
      fallback: FALLBACK,
      now,
      maxKeys: 1,
      refreshSeconds: 3600,
    });
    await refresher.start();
    const before = refresher.snapshot();
    assert.equal(refresher.stats().droppedKeys, 0);
    // A second, quieter route appears in the last day.
    const late = patternedHistory(LATE, PATTERN, {
      fromMs: END - 24 * HOUR_MS,
      hours: 24,
      actors: 5,
      seed: 22,
    });
    await store.insertEvents(late.events);
    await refresher.flush();
    const afterFlush = refresher.snapshot();
    assert.notEqual(afterFlush, before);
    const stats = refresher.stats();
    assert.equal(stats.refreshes, 2);
    // One route dropped from each of the four baselines (seasonal, actor class, objects, failures).
    assert.equal(stats.droppedKeys, 4);
    assert.equal(stats.droppedKeysTotal, 4);
    assert.equal(afterFlush.authFailureRate(LATE).source, 'static', 'dropped by the cap: fallback');
    assert.equal(afterFlush.overallAuthFailureRate().requests, orders.events.length + late.events.length);
    assert.equal(before.overallAuthFailureRate().requests, orders.events.length, 'held snapshot unchanged');
    await refresher.close();

    const uncapped = new BaselineRefresher({ store, fallback: FALLBACK, now, refreshSeconds: 3600 });
    await uncapped.start();
    assert.equal(uncapped.snapshot().authFailureRate(LATE).requests, late.events.length);
    assert.equal(uncapped.get(LATE, TUE_10).requests.confidence, 'low', 'one day of history: cold start');
    await uncapped.close();
  });

  it('refreshes on its interval until closed', async () => {
    const refresher = new BaselineRefresher({ store, fallback: FALLBACK, now, refreshSeconds: 0.05 });
    await refresher.start();
    while (refresher.stats().refreshes < 3) await sleep(20);
    await refresher.close();
    const n = refresher.stats().refreshes;
    await sleep(200);
    assert.equal(refresher.stats().refreshes, n, 'no refresh after close()');
  });

  it('a failed refresh keeps the previous snapshot and is counted', async () => {
    const errors: Error[] = [];
    let clock = now();
    const refresher = new BaselineRefresher({
      store,
      fallback: FALLBACK,
      now: () => clock,
      refreshSeconds: 3600,
      onError: (e) => errors.push(e),
    });
    await refresher.start();
    const good = refresher.snapshot();
    // A broken event-time clock makes an empty window, which the queries refuse.
    clock = Number.NaN;
    await refresher.flush();
    assert.equal(refresher.stats().failures, 1);
    assert.equal(refresher.stats().refreshes, 1);
    assert.equal(errors.length, 1);
    assert.match(errors[0]!.message, /window is empty/);
    assert.equal(refresher.snapshot(), good, 'the previous snapshot stays');
    assert.equal(refresher.get(ORDERS, TUE_10).requests.confidence, 'high');
    clock = now();
    await refresher.flush();
    assert.equal(refresher.stats().refreshes, 2);
    assert.notEqual(refresher.snapshot(), good);
    await refresher.close();
  });
});
