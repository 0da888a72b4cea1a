import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { type ApiEvent, buildEvent, type Finding, findingValidator, loadConfig } from '@apiwatch/core';
import { Type as T } from '@sinclair/typebox';
import { type AnyDetector, defineDetector } from './define.ts';
import { DetectionEngine } from './engine.ts';

const T0 = Date.UTC(2026, 2, 2, 10, 0, 0);
const base = loadConfig(undefined, {}).detect;

function ev(
  sec: number,
  ip: string,
  opts: { path?: string; tenant?: string; status?: number } = {},
): ApiEvent {
  const e = buildEvent({
    ts: T0 + sec * 1000,
    method: 'GET',
    path: opts.path ?? '/x',
    status: opts.status ?? 200,
    sourceKind: 'test',
    raw: `${sec}|${ip}|${opts.path}|${opts.tenant}|${opts.status}`,
    clientIp: ip,
  });
  return opts.tenant ? { ...e, identity: { ...e.identity, tenant: opts.tenant } } : e;
}

/** Counts events per key; fires at `threshold`, resolves `quietSeconds` after the last event. */
function counter(
  id: `auth.${string}`,
  scope: 'actor' | 'global' = 'actor',
  keyBy?: (e: ApiEvent) => string | null,
) {
  return defineDetector({
    id,
    title: 'test counter',
    owasp: 'API4:2023',
    nist: 'monitoring',
    severity: 'low',
    configSchema: T.Object(
      {
        threshold: T.Integer({ minimum: 1, default: 3 }),
        quietSeconds: T.Integer({ minimum: 1, default: 60 }),
      },
      { additionalProperties: false },
    ),
    scope,
    fingerprint: ['entity', 'route'],
    keyBy: (e) => (keyBy ? keyBy(e) : e.request.path === '/skip' ? null : `ip:${e.client.ip}`),
    init: () => ({ n: 0, first: 0, last: 0, raised: false, seenNow: [] as number[] }),
    onEvent(s, e, ctx, key) {
      if (s.n === 0) s.first = e.ts;
      s.n++;
      s.last = e.ts;
      s.seenNow.push(ctx.now());
      ctx.wakeAt(e.ts + ctx.config.quietSeconds * 1000);
      if (s.raised || s.n < ctx.config.threshold) return undefined;
      s.raised = true;
      return [draft(key, s, 'firing', e.identity.tenant)];
    },
    onWatermark(s, ts, ctx, key) {
      if (!s.raised || ts - s.last < ctx.config.quietSeconds * 1000) return undefined;
      s.raised = false;
      const d = draft(key, s, 'resolved', null);
      s.n = 0;
      return [d];
    },
  });
}

function draft(
  key: string,
  s: { n: number; first: number; last: number },
  status: 'firing' | 'resolved',
  tenant: string | null,
) {
  const id = key.slice(key.indexOf(':') + 1);
  return {
    status,
    ...(status === 'resolved' ? { endedAt: s.last } : {}),
    entity: { kind: 'ip' as const, id, name: id, ref: null },
    route: '/x',
    method: 'GET',
    tenant,
    confidence: 0.9,
    summary: `${id} did ${s.n} things.`,
    firstSeen: s.first,
    lastSeen: s.last,
    evidence: {
      observed: s.n,
      baseline: null,
      threshold: 3,
      windowSeconds: 60,
      counts: {},
      sampleEventIds: [],
      details: {},
    },
    recommendedAction: 'Look.',
    labels: { team: 'edge', 'Bad Key': 'dropped' },
  };
}

function engine(detectors: AnyDetector[], detect: Partial<typeof base> = {}, options = {}) {
  return new DetectionEngine({ ...base, ...detect }, { detectors, ...options });
}

function run(e: DetectionEngine, events: ApiEvent[], until?: number): Finding[] {
  const out = events.flatMap((x) => e.push(x));
  out.push(...e.drain(until));
  return out;
}

describe('DetectionEngine (v2 contract)', () => {
  test('builds the envelope: family, labels, fingerprint with tenant and method, id per episode, detectedAt = watermark', () => {
    const e = engine([counter('auth.test')]);
    const out = run(e, [
      ev(0, '1.1.1.1', { tenant: 'acme' }),
      ev(1, '1.1.1.1'),
      ev(2, '1.1.1.1'),
      ev(100, '2.2.2.2'),
    ]);
    assert.deepEqual(
      out.map((f) => f.status),
      ['firing', 'resolved'],
    );
    const [firing, resolved] = out as [Finding, Finding];
    for (const f of out) assert.ok(findingValidator.check(f), findingValidator.explain(f));
    assert.equal(firing.schemaVersion, 2);
    assert.equal(firing.family, 'auth');
    assert.equal(firing.severity, 'low', 'default: the detector severity');
    assert.equal(firing.detectedAt, T0 + 2000);
    assert.deepEqual(
      firing.labels,
      { route: '/x', method: 'GET', team: 'edge' },
      'invalid label keys are dropped',
    );
    assert.equal(resolved.id, firing.id);
    assert.equal(resolved.endedAt, T0 + 2000);
    assert.equal(
      resolved.detectedAt,
      T0 + 62_000,
      'the timer fired at lastSeen + quiet, before the event at 100 s',
    );
  });

  test('ctx.now() is the watermark: monotone, never the wall clock; a late event sees the later clock', () => {
    const det = counter('auth.test');
    const e = engine([det], { allowedLatenessMs: 0 });
    e.push(ev(10, '1.1.1.1'));
    e.push(ev(5, '1.1.1.1')); // late by 5 s
    assert.equal(e.counters.late, 1);
    const stats = e.stats()[0]!;
    assert.equal(stats.events, 2);
  });

  test('keyBy null skips the event for that detector', () => {
    const e = engine([counter('auth.test')]);
    run(e, [ev(0, '1.1.1.1', { path: '/skip' }), ev(1, '1.1.1.1')]);
    assert.equal(e.stats()[0]!.events, 1);
  });

  test('the state store is bounded per detector: LRU eviction at the cap, counted', () => {
    const e = engine([counter('auth.a'), counter('auth.b')], { maxActors: 100 });
    run(
      e,
      Array.from({ length: 250 }, (_, i) => ev(i / 100, `10.0.0.${i}`)),
    );
    const [a, b] = e.stats() as [
      ReturnType<DetectionEngine['stats']>[number],
      ReturnType<DetectionEngine['stats']>[number],
    ];
    assert.equal(a.keys, 100);
    assert.equal(a.evictions, 150);
    assert.equal(b.evictions, 150);
    assert.equal(e.counters.evicted, 300);
    // The most recent keys survive: 10.0.0.249 still counts from its state.
    assert.ok(e.stateBytes().get('auth.a')! > 0);
  });

  test("config defaults come from the schema; enabled and per-route / per-entity overrides are the runtime's", () => {
    const events = [0, 1, 2].map((s) => ev(s, '1.1.1.1'));
    assert.equal(run(engine([counter('auth.test')]), events).length, 1);
    assert.equal(
      run(engine([counter('auth.test')], { detectors: { 'auth.test': { enabled: false } } }), events).length,
      0,
    );
    assert.equal(
      run(engine([counter('auth.test')], { detectors: { 'auth.test': { threshold: 4 } } }), events).length,
      0,
    );
    const byEntity = { 'auth.test': { overrides: [{ entity: 'ip:1.1.*', set: { threshold: 10 } }] } };
    assert.equal(run(engine([counter('auth.test')], { detectors: byEntity }), events).length, 0);
    const byRoute = { 'auth.test': { overrides: [{ route: '/x', set: { enabled: false } }] } };
    assert.equal(run(engine([counter('auth.test')], { detectors: byRoute }), events).length, 0);
    const other = { 'auth.test': { overrides: [{ route: '/y', set: { enabled: false } }] } };
    assert.equal(run(engine([counter('auth.test')], { detectors: other }), events).length, 1);
    assert.throws(
      () =>
        engine([counter('auth.test')], {
          detectors: { 'auth.test': { overrides: [{ route: '/x', set: { threshold: 0 } }] } },
        }),
      /detect\.detectors\.auth\.test\.overrides\.0\.set/,
    );
    assert.throws(
      () => engine([counter('auth.test')], { detectors: { 'auth.test': { treshold: 4 } } }),
      /unknown key/,
    );
  });

  test('suppressions drop matching findings until they expire (event time), counted per suppression', () => {
    const events = [0, 1, 2].map((s) => ev(s, '1.1.1.1'));
    const suppress = (expiresAt: string) => ({
      suppressions: [
        { id: 'pentest', detector: 'auth.*', entity: 'ip:1.1.1.1', reason: 'scheduled pen test', expiresAt },
      ],
    });
    const live = engine([counter('auth.test')], suppress('2026-03-03T00:00:00Z'));
    assert.equal(run(live, events).length, 0);
    assert.equal(live.suppressionStats()[0]!.suppressed, 1);
    assert.equal(live.stats()[0]!.suppressed, 1);
    const expired = engine([counter('auth.test')], suppress('2026-03-01T00:00:00Z'));
    assert.equal(run(expired, events).length, 1);
    assert.equal(expired.suppressionStats()[0]!.expiredMatches, 1);
  });

  test('a throwing detector is counted and does not stop the others', () => {
    const bad = defineDetector({
      ...counter('auth.bad'),
      onEvent: () => {
        throw new Error('boom');
      },
    });
    const e = engine([bad, counter('auth.good')]);
    const out = run(
      e,
      [0, 1, 2].map((s) => ev(s, '1.1.1.1')),
    );
    assert.equal(out.length, 1);
    assert.equal(e.stats()[0]!.errors, 3);
  });

  test("watermarks per partition: a lagging partition's events are not late, and revoke drops its state", () => {
    const e = engine([counter('auth.test')], { allowedLatenessMs: 0 });
    e.push(ev(1000, '1.1.1.1'), undefined, 0);
    e.push(ev(10, '2.2.2.2'), undefined, 1);
    e.push(ev(11, '2.2.2.2'), undefined, 1);
    assert.equal(e.counters.late, 0);
    assert.equal(e.watermark(0), T0 + 1_000_000);
    assert.equal(e.watermark(1), T0 + 11_000);
    assert.equal(e.lowWatermark(), T0 + 11_000);
    assert.equal(e.stateSize(), 2);
    e.revoke([1]);
    assert.equal(e.stateSize(), 1);
    assert.deepEqual(e.partitions(), [0]);
  });

  test('global detectors: local mode sees every partition; forward hands out one message per distinct key; only runs the forwarded key', () => {
    const byRoute = (x: ApiEvent) => `route:${x.request.path}`;
    const g = counter('auth.route', 'global', byRoute);
    const events = [ev(0, '1.1.1.1'), ev(1, '2.2.2.2'), ev(2, '3.3.3.3')];
    const local = engine([g]);
    const out = events.flatMap((x, i) => local.push(x, undefined, i));
    out.push(...local.drain());
    assert.equal(out.length, 1, 'three actors in three partitions add up on one route');

    const forwarded: Array<[ApiEvent, string]> = [];
    const g2 = counter('auth.route2', 'global', byRoute);
    const first = engine(
      [g, g2, counter('auth.actor')],
      {},
      { global: 'forward', forward: (x: ApiEvent, k: string) => forwarded.push([x, k]) },
    );
    run(first, events);
    assert.equal(forwarded.length, 3, 'one message per event: both global detectors share the key');
    assert.deepEqual(first.detectorIds, ['auth.actor']);

    const second = engine([g, g2, counter('auth.actor')], {}, { global: 'only' });
    const out2 = forwarded.flatMap(([x, k]) => second.push(x, undefined, 0, k));
    out2.push(...second.drain());
    assert.deepEqual(out2.map((f) => f.detector).sort(), ['auth.route', 'auth.route2']);
    assert.deepEqual(second.detectorIds, ['auth.route', 'auth.route2']);
  });

  test('deterministic: the same input gives byte-identical findings', () => {
    const events = Array.from({ length: 500 }, (_, i) => ev(i * 0.7, `10.0.0.${i % 13}`));
    const a = JSON.stringify(run(engine([counter('auth.test')]), events, Number.POSITIVE_INFINITY));
    const b = JSON.stringify(run(engine([counter('auth.test')]), events, Number.POSITIVE_INFINITY));
    assert.ok(a.length > 100);
    assert.equal(a, b);
  });

  test('live: an idle lane advances with the wall clock so an open episode resolves with no further event', () => {
    const e = engine([counter('auth.test')], { idleWatermarkMs: 1000 });
    const wall = 5_000_000;
    for (const s of [0, 1, 2]) e.push(ev(s, '1.1.1.1'), wall);
    assert.deepEqual(
      e.tick(wall + 500).map((f) => f.status),
      ['firing'],
    );
    assert.deepEqual(e.tick(wall + 30_000), []);
    assert.deepEqual(
      e.tick(wall + 62_000).map((f) => f.status),
      ['resolved'],
    );
  });
});

describe('snapshot and restore (decision 0013)', () => {
  test('a lane restored from a snapshot continues exactly: no finding missed, none twice, same ids', () => {
    const det = counter('auth.test');
    const events = Array.from({ length: 600 }, (_, i) =>
      ev(i * 0.9, `10.0.0.${i % 7}`, { path: i % 50 === 0 ? '/skip' : '/x' }),
    );
    // Uninterrupted.
    const whole = run(engine([det]), events, Number.POSITIVE_INFINITY);
    assert.ok(whole.length >= 7);
    for (const cut of [1, 137, 299, 598]) {
      const a = engine([det]);
      const before = events.slice(0, cut).flatMap((x) => a.push(x));
      const bytes = a.snapshot(0);
      // The process dies here; a fresh engine takes over from the snapshot.
      const b = engine([det]);
      b.restore(0, bytes);
      const afterCut = events.slice(cut).flatMap((x) => b.push(x));
      afterCut.push(...b.drain(Number.POSITIVE_INFINITY));
      assert.equal(JSON.stringify([...before, ...afterCut]), JSON.stringify(whole), `cut at ${cut}`);
    }
  });
});

describe('snapshots written by earlier runtimes', () => {
  // testdata/snapshot-v1-*.bin were written by the entry-per-key runtime (before the slot store,
  // decision 0026) after the first 299 of these events, with one actor- and one global-scope
  // detector: its keys, states, configs and pending wakes must come back as they were.
  test('a v1 snapshot of a partition and of the global lane restores and continues exactly', () => {
    const dets = [
      counter('auth.test'),
      counter('auth.test_global', 'global', (e) => `path:${e.request.path}`),
    ];
    const events = Array.from({ length: 600 }, (_, i) =>
      ev(i * 0.9, `10.0.0.${i % 7}`, { path: i % 50 === 0 ? '/skip' : i % 3 === 0 ? '/y' : '/x' }),
    );
    const whole = run(engine(dets), events, Number.POSITIVE_INFINITY);
    assert.equal(whole.length, 20);
    const a = engine(dets);
    const first = events.slice(0, 299).flatMap((x) => a.push(x));
    const b = engine(dets);
    b.restore(0, readFileSync(new URL('./testdata/snapshot-v1-partition0.bin', import.meta.url)));
    b.restore('global', readFileSync(new URL('./testdata/snapshot-v1-global.bin', import.meta.url)));
    assert.deepEqual(
      b.stats().map((s) => [s.id, s.keys, s.timers]),
      a.stats().map((s) => [s.id, s.keys, s.timers]),
    );
    assert.deepEqual(
      b.stats().map((s) => [s.id, s.keys, s.timers]),
      [
        ['auth.test', 7, 7],
        ['auth.test_global', 3, 3],
      ],
    );
    const rest = events.slice(299).flatMap((x) => b.push(x));
    rest.push(...b.drain(Number.POSITIVE_INFINITY));
    assert.equal(JSON.stringify([...first, ...rest]), JSON.stringify(whole));
  });
});

describe('drain(Infinity)', () => {
  test('returns when a detector re-arms for as long as its condition holds; other episodes still resolve', () => {
    // Like volume.route_drop on a route that stays silent: every wake schedules the next minute.
    let wakes = 0;
    const forever = defineDetector({
      id: 'volume.test_forever',
      title: 'test: re-arms every minute',
      owasp: 'API4:2023',
      nist: 'monitoring',
      severity: 'low',
      configSchema: T.Object({}, { additionalProperties: false }),
      scope: 'actor',
      fingerprint: ['entity'],
      keyBy: (e) => `ip:${e.client.ip}`,
      init: () => ({}),
      onEvent(_s, e, ctx) {
        ctx.wakeAt(e.ts + 60_000);
        return undefined;
      },
      onWatermark(_s, ts, ctx) {
        wakes++;
        ctx.wakeAt(ts + 60_000);
        return undefined;
      },
    });
    const e = engine([forever, counter('auth.test')]);
    const out = run(e, [ev(0, '1.1.1.1'), ev(1, '1.1.1.1'), ev(2, '1.1.1.1')], Number.POSITIVE_INFINITY);
    assert.deepEqual(
      out.map((f) => `${f.detector} ${f.status}`),
      ['auth.test firing', 'auth.test resolved'],
    );
    assert.ok(wakes > 100 && wakes <= 1440, `bounded wakes past the data: ${wakes}`);
  });
});
