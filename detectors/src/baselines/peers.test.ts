import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ApiEvent, ChdbStore } from '@apiwatch/core';
import { mulberry32, type TrafficRoute, trafficEvent } from '@apiwatch/test';
import { objectPeerPercentiles } from './peers.ts';
import { HOUR_MS } from './types.ts';

const START = Date.UTC(2025, 0, 7);
const HOURS = 48;
const INVOICES: TrafficRoute = {
  tenant: 'acme',
  method: 'GET',
  route: '/v1/invoices/{invoiceId}',
  param: 'invoiceId',
};
const RARE: TrafficRoute = {
  tenant: 'acme',
  method: 'GET',
  route: '/v1/payments/{paymentId}',
  param: 'paymentId',
};
const FALLBACK = { p50: 10, p95: 50, p99: 100 };
const ENUMERATORS = [1000, 1001, 1002];

/** quantilesExactInclusive's definition: linear interpolation between closest ranks (R7). */
function quantileInclusive(sorted: number[], p: number): number {
  const pos = p * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

describe('object peer percentiles (BOLA): distinct objects per actor per route per hour', () => {
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-peers-'));
  const store = new ChdbStore(dir);
  const rnd = mulberry32(11);
  const events: ApiEvent[] = [];
  // What went in: the distinct object ids per (actor, hour) on the invoices route.
  const distinct = new Map<string, Set<string>>();
  let seq = 0;
  const call = (route: TrafficRoute, ts: number, actor: number, objectId: string) => {
    events.push(trafficEvent({ ts, route, actor, objectId, status: 200, seq: seq++, seed: 11 }));
    if (route !== INVOICES) return;
    const key = `${actor} ${Math.floor(ts / HOUR_MS)}`;
    const set = distinct.get(key) ?? new Set<string>();
    distinct.set(key, set.add(objectId));
  };

  before(async () => {
    for (let h = 0; h < HOURS; h++) {
      const hourStart = START + h * HOUR_MS;
      // 200 ordinary actors, each active in ~30 % of hours, reading a few of its own 8 invoices.
      for (let actor = 0; actor < 200; actor++) {
        if (rnd() > 0.3) continue;
        const calls = 1 + Math.floor(rnd() * 8);
        for (let i = 0; i < calls; i++) {
          call(
            INVOICES,
            hourStart + Math.floor(rnd() * HOUR_MS),
            actor,
            String(actor * 100 + Math.floor(rnd() * 8)),
          );
        }
      }
      // Three enumerators, each walking 400 sequential ids in one hour.
      const e = ENUMERATORS.indexOf(1000 + (h % 16));
      if (h >= 16 && e >= 0) {
        for (let i = 0; i < 400; i++)
          call(INVOICES, hourStart + i * 9000, ENUMERATORS[e]!, String(500_000 + i));
      }
      // A route only five actors use: too few peers.
      for (let actor = 0; actor < 5; actor++)
        call(RARE, hourStart + actor, actor, String(actor * 3 + (h % 3)));
    }
    await store.start();
    await store.insertEvents(events);
  });

  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('recovers the peer percentiles of what went in; enumerators stand far above them', async (t) => {
    const result = await objectPeerPercentiles(store, {
      fromMs: START,
      toMs: START + HOURS * HOUR_MS,
      fallback: FALLBACK,
    });
    t.diagnostic(`${events.length} events; peer query ${result.queryMs.toFixed(0)} ms`);
    const b = result.baselines.find((x) => x.route === INVOICES.route);
    assert.ok(b);
    const counts = [...distinct.values()].map((s) => s.size).sort((x, y) => x - y);
    assert.equal(b.observations, counts.length);
    assert.equal(b.samples, 200 + ENUMERATORS.length);
    assert.equal(b.confidence, 'high');
    assert.equal(b.source, 'history');
    for (const [p, got] of [
      [0.5, b.p50],
      [0.95, b.p95],
      [0.99, b.p99],
    ] as const) {
      const want = quantileInclusive(counts, p);
      assert.ok(Math.abs(got - want) <= 0.02 * want + 1e-9, `p${p * 100}: ${got} vs ${want}`);
    }
    // Ordinary actors touch at most 8 ids an hour; the three enumeration hours (of ~2.9k) do not
    // move p99, and the historical maximum is the enumerators' 400.
    assert.ok(b.p99 <= 8, `p99 ${b.p99}`);
    assert.ok(Math.abs(b.max - 400) <= 4, `max ${b.max}`);
    assert.ok(b.max > 40 * b.p50);
  });

  it('cold start: a route with fewer actors than minActors reads as the static fallback', async () => {
    const window = { fromMs: START, toMs: START + HOURS * HOUR_MS, fallback: FALLBACK };
    const result = await objectPeerPercentiles(store, window);
    const rare = result.baselines.find((x) => x.route === RARE.route);
    assert.ok(rare);
    assert.equal(rare.samples, 5);
    assert.equal(rare.confidence, 'low');
    assert.equal(rare.source, 'static');
    assert.deepEqual([rare.p50, rare.p95, rare.p99], [FALLBACK.p50, FALLBACK.p95, FALLBACK.p99]);
    const lenient = await objectPeerPercentiles(store, { ...window, minActors: 5 });
    const trusted = lenient.baselines.find((x) => x.route === RARE.route)!;
    assert.equal(trusted.confidence, 'high');
    assert.equal(trusted.p50, 1, 'each of the five actors touched one id per hour');
  });

  it('filters by actor class and caps routes', async () => {
    const window = { fromMs: START, toMs: START + HOURS * HOUR_MS, fallback: FALLBACK };
    const users = await objectPeerPercentiles(store, { ...window, actorClass: 'user' });
    assert.equal(users.baselines.length, 0, 'every call here was made with an API key (class credential)');
    const creds = await objectPeerPercentiles(store, { ...window, actorClass: 'credential' });
    assert.equal(creds.baselines.length, 2);
    const capped = await objectPeerPercentiles(store, { ...window, maxKeys: 1 });
    assert.deepEqual(capped.keys, { found: 2, kept: 1, dropped: 1 });
    assert.equal(capped.baselines[0]!.route, INVOICES.route, 'the route with most actors is kept');
  });
});
