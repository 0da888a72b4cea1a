import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { failureRate } from '../baselines/failures.ts';
import { BaselineSnapshot, type ObjectPeerBaseline } from '../baselines/index.ts';
import { call, DetectorHarness, TEST_FALLBACKS } from './harness.ts';
import { objectEnumeration } from './object-enumeration.ts';

const T0 = Date.UTC(2026, 10, 2, 9, 0, 0); // a Monday, 09:00 UTC
const MIN = 60_000;

function peers(route: string, p99: number, method = 'GET'): BaselineSnapshot {
  const b: ObjectPeerBaseline = {
    tenant: '',
    route,
    method,
    p50: 1,
    p95: Math.max(1, p99 / 2),
    p99,
    max: p99 * 2,
    samples: 50,
    observations: 500,
    confidence: 'high',
    source: 'history',
  };
  return new BaselineSnapshot({
    historyEndMs: T0,
    routes: new Map(),
    classes: new Map(),
    objects: new Map([[`\u0000${method}\u0000${route}`, b]]),
    failures: new Map(),
    overall: failureRate(0, 0, 1000, 0.05),
    fallback: TEST_FALLBACKS,
    minWeeks: 2,
    minRequests: 1000,
  });
}

test('positive: a user walks sequential numeric order ids on a path parameter', () => {
  const h = new DetectorHarness(objectEnumeration);
  const events = Array.from({ length: 80 }, (_, i) =>
    call({
      ts: T0 + i * 2000,
      user: 'mallory',
      route: '/shop/orders/{order_id}',
      objects: [{ name: 'order_id', value: String(1000 + i) }],
      status: i % 3 === 0 ? 200 : 403,
    }),
  );
  h.run(events);
  const [f, ...more] = h.firing();
  assert.ok(f, 'fires');
  assert.equal(more.length, 0, 'one finding per episode');
  assert.equal(f.entity.kind, 'user');
  assert.equal(f.entity.id, 'mallory');
  assert.equal(f.route, '/shop/orders/{order_id}');
  assert.equal(f.evidence.details.sequential, true);
  assert.ok(f.evidence.observed >= 20);
  assert.ok(f.lastSeen - T0 <= 5 * MIN, 'detected within 5 minutes of event time');
});

test('positive: random UUID ids in a query parameter, mostly 404, with an API key', () => {
  const h = new DetectorHarness(objectEnumeration);
  const events = Array.from({ length: 40 }, (_, i) =>
    call({
      ts: T0 + i * 5000,
      credential: 'fp-key-1',
      credentialKind: 'api_key',
      route: '/reports',
      path: '/reports',
      objects: [{ name: 'report_id', value: randomUUID(), in: 'query' }],
      status: i % 5 === 0 ? 200 : 404,
    }),
  );
  h.run(events);
  const f = h.firing()[0];
  assert.ok(f, 'fires on the 403/404 path');
  assert.equal(f.entity.kind, 'credential');
  assert.equal(f.evidence.details.sequential, false);
  assert.ok((f.evidence.details.refusedShare as number) >= 0.5);
});

test('positive: far above learned peers even when every call succeeds, then the episode resolves', () => {
  const route = '/api/v2/vehicle/{vehicleId}/location';
  const h = new DetectorHarness(objectEnumeration, { baselines: peers(route, 8) });
  const attack = Array.from({ length: 120 }, (_, i) =>
    call({ ts: T0 + i * 1000, user: 'eve', route, objects: [{ name: 'vehicleId', value: randomUUID() }] }),
  );
  h.run(attack);
  assert.equal(h.firing().length, 1);
  h.advance(T0 + 3 * 3_600_000);
  const resolved = h.drafts.filter((d) => d.status === 'resolved');
  assert.equal(resolved.length, 1);
  assert.equal(resolved[0]!.entity.id, 'eve');
});

test('positive: an episode that resolves while the actor is idle is not learned as its habit; the same walk a day later fires again', () => {
  const route = '/api/v2/vehicle/{vehicleId}/location';
  const h = new DetectorHarness(objectEnumeration, { baselines: peers(route, 8) });
  const walk = (start: number) =>
    Array.from({ length: 120 }, (_, i) =>
      call({
        ts: start + i * 1000,
        user: 'eve',
        route,
        objects: [{ name: 'vehicleId', value: randomUUID() }],
      }),
    );
  h.run(walk(T0));
  h.advance(T0 + 3 * 3_600_000);
  h.run(walk(T0 + 24 * 3_600_000));
  const firing = h.firing();
  assert.equal(firing.length, 2, 'the second walk is judged against the habit before the first');
  assert.ok(firing[1]!.lastSeen >= T0 + 24 * 3_600_000);
});

test('negative: users browsing their own handful of objects all day', () => {
  const h = new DetectorHarness(objectEnumeration);
  const events = [];
  for (let u = 0; u < 30; u++)
    for (let i = 0; i < 200; i++)
      events.push(
        call({
          ts: T0 + i * 4 * MIN + u * 1000,
          user: `user${u}`,
          route: '/users/{userId}/orders/{orderId}',
          objects: [
            { name: 'userId', value: String(u) },
            { name: 'orderId', value: String(u * 100 + (i % 12)) },
          ],
          status: i % 17 === 0 ? 404 : 200,
        }),
      );
  h.run(events);
  assert.deepEqual(h.firing(), []);
});

test('negative: a sync service with its own habit of many ids is judged against that habit', () => {
  const h = new DetectorHarness(objectEnumeration);
  const events = [];
  // 150 ids per 30 min bucket, steady for two days (below the cold-start bar for workloads).
  for (let i = 0; i < 2 * 48 * 150; i++)
    events.push(
      call({
        ts: T0 + i * 12_000,
        service: 'indexer',
        credential: 'fp-indexer',
        credentialKind: 'api_key',
        route: '/catalog/items/{id}',
        objects: [{ name: 'id', value: randomUUID() }],
      }),
    );
  h.run(events);
  assert.deepEqual(h.firing(), []);
});

test('negative: peers routinely touch many objects on a list-and-detail UI', () => {
  const route = '/feed/posts/{postId}';
  const h = new DetectorHarness(objectEnumeration, { baselines: peers(route, 60) });
  const events = Array.from({ length: 90 }, (_, i) =>
    call({ ts: T0 + i * 20_000, user: 'reader', route, objects: [{ name: 'postId', value: randomUUID() }] }),
  );
  h.run(events);
  assert.deepEqual(h.firing(), []);
});

test('negative: a retry loop on one missing object is not enumeration', () => {
  const h = new DetectorHarness(objectEnumeration);
  const events = Array.from({ length: 500 }, (_, i) =>
    call({
      ts: T0 + i * 500,
      user: 'buggy',
      route: '/docs/{docId}',
      objects: [{ name: 'docId', value: '42' }],
      status: 404,
    }),
  );
  h.run(events);
  assert.deepEqual(h.firing(), []);
});

test('state stays small per key', () => {
  const h = new DetectorHarness(objectEnumeration);
  h.run([call({ ts: T0, user: 'a', route: '/x/{id}', objects: [{ name: 'id', value: '1' }] })]);
  const [key] = h.states.keys();
  assert.ok(h.sizeOf(key!) < 1024);
});

test('the set bits kept as a string judge exactly as the bitmap: restored in the earlier shape (bitmaps, episode fields) at any point, the drafts are the same', () => {
  // Four days of a user reading its own few orders (the string), then a walk past 32 set bits
  // (the bitmap) and buckets that go back to the string.
  const events = [];
  for (let i = 0; i < 300; i++)
    events.push(
      call({
        ts: T0 + i * 20 * MIN,
        user: 'dora',
        route: '/shop/orders/{order_id}',
        objects: [{ name: 'order_id', value: String(7000 + (i % 6)) }],
      }),
    );
  // [start, ids, ms apart]: a walk; a quiet bucket; a burst of 40 (a bitmap) followed by buckets
  // of 3 and 2 ids (the bitmap's previous half goes sparse: back to the string).
  const H = 60 * MIN;
  for (const [start, n, gap] of [
    [T0 + 100.6 * H, 6, 10_000],
    [T0 + 101 * H, 90, 10_000],
    [T0 + 105 * H, 8, 10_000],
    [T0 + 120 * H, 40, 5_000],
    [T0 + 120.5 * H + MIN, 3, 5_000],
    [T0 + 121 * H + MIN, 2, 5_000],
    [T0 + 121.5 * H + MIN, 2, 5_000],
  ] as const)
    for (let i = 0; i < n; i++)
      events.push(
        call({
          ts: start + i * gap,
          user: 'dora',
          route: '/shop/orders/{order_id}',
          // Its own orders among the walk's: bits set in both buckets count once.
          objects: [{ name: 'order_id', value: i % 3 === 0 ? String(7000 + (i % 6)) : randomUUID() }],
          status: i % 2 === 0 ? 200 : 404,
        }),
      );
  events.sort((a, b) => a.ts - b.ts);
  const plain = new DetectorHarness(objectEnumeration);
  plain.run(events);
  plain.advance(events.at(-1)!.ts + 24 * 60 * MIN);
  assert.ok(plain.firing().length >= 1, 'the walk is found');
  let stringStates = 0;
  let openStates = 0;
  for (let at = 10; at < events.length; at += 23) {
    const h = new DetectorHarness(objectEnumeration);
    h.run(events.slice(0, at));
    // biome-ignore lint/suspicious/noExplicitAny: the state reshaped by hand into its earlier shape.
    for (const s of h.states.values() as Iterable<any>) {
      if (s.bits === null) {
        stringStates++;
        // The shape checkpoints had before the string: always the bitmap, no `marks`.
        const bits = new Uint8Array(256);
        for (const c of s.marks ?? '') {
          const p = c.charCodeAt(0);
          bits[p >>> 3]! |= 1 << (p & 7);
        }
        s.bits = bits;
      }
      delete s.marks;
      // ... and the episode as fields.
      if (s.episode !== null) openStates++;
      Object.assign(s, {
        open: s.episode !== null,
        episodeStart: 0,
        lastAbove: s.episode?.lastAbove ?? 0,
        peakDistinct: s.episode?.peakDistinct ?? 0,
        ref: s.episode?.ref ?? null,
      });
      delete s.episode;
    }
    h.run(events.slice(at));
    h.advance(events.at(-1)!.ts + 24 * 60 * MIN);
    assert.deepEqual(h.drafts, plain.drafts, `restored as bitmaps at event ${at}`);
  }
  assert.ok(stringStates > 0, 'some cut points hold the string');
  assert.ok(openStates > 0, 'some cut points are inside an episode');
});
