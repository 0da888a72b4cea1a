import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ApiEvent, ChdbStore } from '@apiwatch/core';
import { mulberry32, type TrafficRoute, trafficEvent } from '@apiwatch/test';
import { authFailureRates, wholeRouteServerErrors } from './failures.ts';
import { HOUR_MS } from './types.ts';

const START = Date.UTC(2025, 0, 8);
const ROUTES: Array<{ route: TrafficRoute; requests: number; failureShare: number }> = [
  {
    route: { tenant: 'acme', method: 'POST', route: '/v1/login', param: null },
    requests: 6000,
    failureShare: 0.08,
  },
  {
    route: { tenant: 'acme', method: 'GET', route: '/v1/orders', param: null },
    requests: 4000,
    failureShare: 0.01,
  },
  {
    route: { tenant: 'acme', method: 'GET', route: '/v1/rarely', param: null },
    requests: 50,
    failureShare: 0.2,
  },
  {
    route: { tenant: 'other', method: 'POST', route: '/v1/login', param: null },
    requests: 2000,
    failureShare: 0.5,
  },
];

describe('historical auth-failure rates', () => {
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-failures-'));
  const store = new ChdbStore(dir);
  const rnd = mulberry32(5);
  const events: ApiEvent[] = [];
  const failed = new Map<string, number>();
  const serverErrors = new Map<string, number>();

  before(async () => {
    let seq = 0;
    for (const { route, requests, failureShare } of ROUTES) {
      let f = 0;
      let e5 = 0;
      for (let i = 0; i < requests; i++) {
        // Auth failures, and (on every route) about 2 % server errors.
        const u = rnd();
        const status = u < failureShare ? 401 : u > 0.98 ? 503 : 200;
        if (status === 401) f++;
        if (status === 503) e5++;
        const ts = START + Math.floor(rnd() * 24 * HOUR_MS);
        events.push(trafficEvent({ ts, route, actor: i % 300, objectId: null, status, seq: seq++, seed: 5 }));
      }
      failed.set(`${route.tenant} ${route.route}`, f);
      serverErrors.set(`${route.tenant} ${route.route}`, e5);
    }
    await store.start();
    await store.insertEvents(events);
  });

  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const window = { fromMs: START, toMs: START + 24 * HOUR_MS, fallbackRate: 0.05 };

  it('per route and overall: failures over requests, with counts', async () => {
    const result = await authFailureRates(store, { ...window, tenant: 'acme' });
    for (const { route, requests } of ROUTES.filter((r) => r.route.tenant === 'acme')) {
      const got = result.routes.find((x) => x.route === route.route && x.method === route.method);
      assert.ok(got, route.route);
      const f = failed.get(`acme ${route.route}`)!;
      assert.equal(got.requests, requests);
      assert.equal(got.authFailures, f);
      assert.equal(got.samples, requests);
      assert.equal(got.serverErrors, serverErrors.get(`acme ${route.route}`), '5xx counted per route');
      assert.ok(got.serverErrors > 0 || requests < 100);
      // One day of history: the median daily share is that day's share.
      assert.ok(Math.abs(got.serverErrorDayShare - got.serverErrors / requests) < 1e-9);
      if (requests >= 1000) {
        assert.equal(got.confidence, 'high');
        assert.equal(got.rate, f / requests);
      }
    }
    const acme = ROUTES.filter((r) => r.route.tenant === 'acme');
    const allRequests = acme.reduce((s, r) => s + r.requests, 0);
    const allFailures = acme.reduce((s, r) => s + failed.get(`acme ${r.route.route}`)!, 0);
    assert.deepEqual(result.overall, {
      rate: allFailures / allRequests,
      requests: allRequests,
      authFailures: allFailures,
      samples: allRequests,
      confidence: 'high',
      source: 'history',
    });
    const login = result.routes.find((x) => x.route === '/v1/login')!;
    assert.ok(login.rate > 4 * result.routes.find((x) => x.route === '/v1/orders')!.rate);
  });

  it('cold start: a route with fewer requests than minRequests reads as the fallback rate', async () => {
    const result = await authFailureRates(store, { ...window, tenant: 'acme' });
    const rarely = result.routes.find((x) => x.route === '/v1/rarely')!;
    assert.equal(rarely.confidence, 'low');
    assert.equal(rarely.source, 'static');
    assert.equal(rarely.rate, window.fallbackRate);
    assert.equal(rarely.requests, 50, 'the counts are still reported');
    const lenient = await authFailureRates(store, { ...window, tenant: 'acme', minRequests: 50 });
    const trusted = lenient.routes.find((x) => x.route === '/v1/rarely')!;
    assert.equal(trusted.rate, failed.get('acme /v1/rarely')! / 50);
    const empty = await authFailureRates(store, { ...window, tenant: 'nobody' });
    assert.equal(empty.overall.confidence, 'low');
    assert.equal(empty.overall.rate, window.fallbackRate);
  });

  it('the cap drops routes from the list, not from the overall rate', async () => {
    const all = await authFailureRates(store, window);
    const capped = await authFailureRates(store, { ...window, maxKeys: 1 });
    assert.deepEqual(capped.keys, { found: ROUTES.length, kept: 1, dropped: ROUTES.length - 1 });
    assert.equal(capped.routes[0]!.route, '/v1/login');
    assert.equal(capped.routes[0]!.tenant, 'acme');
    assert.deepEqual(capped.overall, all.overall);
    assert.equal(all.overall.requests, events.length);
  });

  it('per route over all tenants: requests, 5xx and the median daily 5xx share', async () => {
    const whole = await wholeRouteServerErrors(store, window);
    const login = whole.routes.find((x) => x.route === '/v1/login' && x.method === 'POST')!;
    assert.equal(login.requests, 8000, 'acme and other together');
    const e = serverErrors.get('acme /v1/login')! + serverErrors.get('other /v1/login')!;
    assert.equal(login.serverErrors, e);
    assert.ok(Math.abs(login.dayShare - e / 8000) < 1e-9, 'one day: the day share is the share');
    assert.equal(whole.routes.length, 3, 'one row per route and method, not per tenant');
  });
});
