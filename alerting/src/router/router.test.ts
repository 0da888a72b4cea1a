import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AlertConfig, createLogger, exampleFinding, type Finding } from '@apiwatch/core';
import { Value } from '@sinclair/typebox/value';
import type { Notification } from '../notification.ts';
import { MemoryStateStore } from '../state/memory.ts';
import { RedisStateStore } from '../state/redis.ts';
import type { StateStore } from '../state/types.ts';
import { compileInhibitRules } from './inhibit.ts';
import { findingLabels, matchesAll, parseMatcher } from './matcher.ts';
import { AlertRouter } from './router.ts';
import { Silences } from './silences.ts';
import { buildRouteTree, matchRoutes } from './tree.ts';

const log = createLogger('silent');
const REDIS = process.env.APIWATCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** The alert section through the real schema (defaults applied, as the config loader does). */
function alertConfig(raw: unknown) {
  const c = Value.Default(AlertConfig, structuredClone(raw));
  assert.ok(
    Value.Check(AlertConfig, c),
    [...Value.Errors(AlertConfig, c)].map((e) => `${e.path} ${e.message}`).join('; '),
  );
  return c as import('@apiwatch/core').AlertConfigValue;
}

const receivers = [
  { id: 'slack', kind: 'slack', url: 'http://127.0.0.1:1/x' },
  { id: 'pd', kind: 'pagerduty', routingKeyEnv: 'K', minSeverity: 'high' },
  { id: 'soc', kind: 'webhook', url: 'http://127.0.0.1:1/y' },
];

function bola(i: number, over: Partial<Finding> = {}): Finding {
  return exampleFinding({
    id: `bola-${i}-ep1`,
    fingerprint: `bola-${i}`,
    detector: 'bola.object_enumeration',
    family: 'bola',
    severity: 'critical',
    entity: { kind: 'credential', id: `k1:cred${i}`, name: `consumer-${i}`, ref: `kong-cred-${i}` },
    route: '/v1/accounts/{id}',
    method: 'GET',
    tenant: 'acme',
    labels: { route: '/v1/accounts/{id}', environment: 'prod' },
    ...over,
  });
}

test('matchers: =, !=, =~ (anchored), !~, quoted values, missing labels read as ""', () => {
  const labels = findingLabels(bola(1));
  const cases: Array<[string, boolean]> = [
    ['severity=critical', true],
    ['severity!=critical', false],
    ['severity=~"high|critical"', true],
    ['severity=~"crit"', false],
    ['detector=~"bola\\\\..*"', true],
    ['family!~"auth|spec"', true],
    ['environment="prod"', true],
    ['team=""', true],
    ['team!=""', false],
    ['tenant=acme', true],
  ];
  for (const [m, want] of cases) assert.equal(matchesAll([parseMatcher(m)], labels), want, m);
  assert.throws(() => parseMatcher('severity'), /not a matcher/);
  assert.throws(() => parseMatcher('a=~"("'), /a=~/);
});

test('routing tree: first matching child wins, continue keeps going, unmatched falls back to the parent', () => {
  const c = alertConfig({
    receivers,
    route: {
      receiver: 'soc',
      routes: [
        { receiver: 'pd', matchers: ['family=bola'], continue: true },
        {
          receiver: 'slack',
          matchers: ['severity=~"high|critical"'],
          routes: [{ receiver: 'pd', matchers: ['environment=staging'] }],
        },
        { receiver: 'pd', matchers: ['family=auth'] },
      ],
    },
  });
  const tree = buildRouteTree(c.route, c.receivers);
  const hit = (f: Finding) => matchRoutes(tree, findingLabels(f)).map((n) => `${n.path}:${n.receiver}`);
  assert.deepEqual(hit(bola(1)), ['root.0:pd', 'root.1:slack'], 'bola continues into the severity route');
  assert.deepEqual(hit(bola(1, { labels: { environment: 'staging' } })), ['root.0:pd', 'root.1.0:pd']);
  assert.deepEqual(
    hit(exampleFinding({ severity: 'high' })),
    ['root.1:slack'],
    'first match without continue stops',
  );
  assert.deepEqual(hit(exampleFinding({ severity: 'low' })), ['root.2:pd'], 'auth family');
  assert.deepEqual(
    hit(exampleFinding({ severity: 'low', detector: 'spec.shadow_endpoint', family: 'spec' })),
    ['root:soc'],
  );
  assert.throws(
    () => buildRouteTree(alertConfig({ receivers, route: { receiver: 'nope' } }).route, c.receivers),
    /not configured/,
  );
});

class ManualClock {
  t = 1_000_000;
  now = () => this.t;
  advance(ms: number) {
    this.t += ms;
  }
}

function setup(state: StateStore, raw: unknown) {
  const c = alertConfig({ receivers, ...(raw as object) });
  const clock = new ManualClock();
  const sent: Notification[] = [];
  const router = new AlertRouter({
    tree: buildRouteTree(c.route, c.receivers),
    inhibitRules: compileInhibitRules(c.inhibitRules),
    receivers: new Map(c.receivers.map((r) => [r.id, r.minSeverity as 'low'])),
    state,
    silences: new Silences(state, clock.now),
    clock,
    enqueue: async (n) => {
      sent.push(n);
    },
    log,
  });
  return { router, clock, sent, c };
}

const grouping = {
  route: {
    groupBy: ['detector', 'tenant', 'route'],
    groupWaitSeconds: 10,
    groupIntervalSeconds: 60,
    repeatIntervalSeconds: 3600,
    routes: [
      { receiver: 'slack', continue: true },
      { receiver: 'pd', continue: true },
    ],
  },
};

for (const kind of ['memory', 'redis'] as const) {
  test(`grouping on ${kind} state: 500 findings of one attack → one notification per receiver, then updates, repeats and the resolution`, async (t) => {
    let state: StateStore;
    if (kind === 'redis') {
      const r = new RedisStateStore(REDIS, `apiwatch-test:router:${process.pid}:${Date.now()}`);
      try {
        await Promise.race([
          r.redis.ping(),
          new Promise((_, rej) => setTimeout(() => rej(new Error('no redis')), 1500)),
        ]);
      } catch {
        r.redis.disconnect();
        if (process.env.APIWATCH_REQUIRE_SERVICES === '1') throw new Error(`Redis not reachable at ${REDIS}`);
        t.skip(`Redis not reachable at ${REDIS}`);
        return;
      }
      t.after(async () => {
        await r.clear();
        await r.close();
      });
      state = r;
    } else {
      state = new MemoryStateStore();
    }
    const { router, clock, sent } = setup(state, grouping);
    for (let i = 0; i < 500; i++) {
      assert.equal(await router.route(bola(i)), 'routed');
      if (i % 50 === 0) clock.advance(10);
      await router.tick();
    }
    assert.equal(sent.length, 0, 'nothing before group_wait');
    clock.advance(10_000);
    assert.equal(await router.tick(), 2);
    assert.deepEqual(sent.map((n) => n.receiver).sort(), ['pd', 'slack']);
    const first = sent[0]!;
    assert.equal(first.status, 'firing');
    assert.equal(first.counts.firing, 500);
    assert.equal(first.findings.length, 50, 'listed findings capped');
    assert.equal(first.counts.omitted, 450);
    assert.deepEqual(first.groupLabels, {
      detector: 'bola.object_enumeration',
      tenant: 'acme',
      route: '/v1/accounts/{id}',
    });
    assert.equal(new Set(sent.map((n) => n.groupKey)).size, 2, 'one group per route node');

    // Unchanged: nothing at the next interval; a change: one update per receiver, same group key.
    clock.advance(60_000);
    assert.equal(await router.tick(), 0);
    await router.route(bola(7, { lastSeen: 99 }));
    clock.advance(60_000);
    assert.equal(await router.tick(), 2);
    assert.equal(sent[2]!.groupKey, sent.find((n) => n.receiver === sent[2]!.receiver)!.groupKey);
    assert.equal(sent[2]!.sequence, 2);
    assert.notEqual(sent[2]!.id, sent.find((n) => n.receiver === sent[2]!.receiver)!.id);

    // Repeat interval re-sends an unchanged firing group.
    clock.advance(3_600_000);
    assert.equal(await router.tick(), 2);

    // Every finding resolves → one resolved notification per receiver, then the group is gone.
    for (let i = 0; i < 500; i++) await router.route(bola(i, { status: 'resolved', endedAt: 5 }));
    clock.advance(60_000);
    assert.equal(await router.tick(), 2);
    const last = sent.slice(-2);
    assert.deepEqual(
      last.map((n) => n.status),
      ['resolved', 'resolved'],
    );
    assert.equal((await router.groups()).length, 0);
    assert.equal(sent.length, 8, '2 first + 2 updates + 2 repeats + 2 resolutions, not 500');
  });
}

test('a restart on Redis state forgets nothing: the group waiting in one router is flushed by the next', async (t) => {
  const prefix = `apiwatch-test:restart:${process.pid}:${Date.now()}`;
  const a = new RedisStateStore(REDIS, prefix);
  try {
    await Promise.race([
      a.redis.ping(),
      new Promise((_, rej) => setTimeout(() => rej(new Error('no redis')), 1500)),
    ]);
  } catch {
    a.redis.disconnect();
    if (process.env.APIWATCH_REQUIRE_SERVICES === '1') throw new Error(`Redis not reachable at ${REDIS}`);
    t.skip('Redis not reachable');
    return;
  }
  const one = setup(a, grouping);
  await one.router.route(bola(1));
  const s = await one.router.silences.create({
    matchers: ['tenant=beta'],
    author: 'ana',
    reason: 'pen test',
    durationSeconds: 600,
  });
  assert.ok(s.ok);
  await a.close();
  const b = new RedisStateStore(REDIS, prefix);
  t.after(async () => {
    await b.clear();
    await b.close();
  });
  const two = setup(b, grouping);
  two.clock.t = one.clock.t + 10_000;
  assert.equal(await two.router.tick(), 2, 'the restarted router flushed the waiting group');
  assert.equal((await two.router.silences.list()).length, 1, 'the silence survived');
  assert.equal(await two.router.route(bola(2, { tenant: 'beta' })), 'silenced');
});

test('silences: create needs author, reason, matchers and a duration; an active one mutes, expire ends it', async () => {
  const { router, clock, sent } = setup(new MemoryStateStore(), {
    ...grouping,
    route: { ...grouping.route, groupWaitSeconds: 0 },
  });
  const bad = await router.silences.create({ matchers: [], author: 'a', reason: 'r', durationSeconds: 60 });
  assert.equal(!bad.ok && bad.error.code, 'ALERT_SILENCE_INVALID');
  assert.equal(
    (await router.silences.create({ matchers: ['x=1'], author: '', reason: 'r', durationSeconds: 60 })).ok,
    false,
  );
  const s = await router.silences.create({
    matchers: ['detector=~"bola\\\\..*"', 'tenant=acme'],
    author: 'ana',
    reason: 'planned test',
    durationSeconds: 60,
  });
  assert.ok(s.ok);
  assert.equal(await router.route(bola(1)), 'silenced');
  assert.equal(await router.route(bola(2, { tenant: 'other' })), 'routed');
  clock.advance(1500);
  const exp = await router.silences.expire(s.value.id, 'bob');
  assert.ok(exp.ok && exp.value.expiredBy === 'bob');
  clock.advance(1500);
  assert.equal(await router.route(bola(3)), 'routed');
  await router.tick();
  assert.ok(sent.length >= 2);
  const listed = await router.silences.list();
  assert.deepEqual(
    listed.map((x) => [x.author, x.reason, x.expiredBy]),
    [['ana', 'planned test', 'bob']],
  );
});

test('inhibition: a firing route spike mutes the error spike of the same route, not of another', async () => {
  const { router } = setup(new MemoryStateStore(), {
    ...grouping,
    inhibitRules: [
      {
        sourceMatchers: ['detector=volume.route_spike'],
        targetMatchers: ['detector=volume.error_spike'],
        equal: ['route'],
      },
    ],
  });
  const spike = exampleFinding({
    id: 's1',
    fingerprint: 's',
    detector: 'volume.route_spike',
    family: 'volume',
    route: '/a',
    labels: { route: '/a' },
  });
  const err = (route: string) =>
    exampleFinding({
      id: `e${route}`,
      fingerprint: `e${route}`,
      detector: 'volume.error_spike',
      family: 'volume',
      route,
      labels: { route },
    });
  assert.equal(await router.route(err('/a')), 'routed', 'before the source fires');
  await router.route(spike);
  assert.equal(await router.route(err('/a')), 'inhibited');
  assert.equal(await router.route(err('/b')), 'routed');
  await router.route({ ...spike, status: 'resolved', endedAt: 9 });
  assert.equal(await router.route(err('/a')), 'routed', 'after the source resolved');
});

test('lifecycle: open → acknowledged → resolved by hand, which notifies the resolution', async () => {
  const { router, clock, sent } = setup(new MemoryStateStore(), grouping);
  await router.route(bola(1));
  clock.advance(10_000);
  await router.tick();
  assert.equal(await router.lifecycle('bola-1'), 'open');
  assert.equal(await router.acknowledge('bola-1', 'ana'), true);
  assert.equal(await router.lifecycle('bola-1'), 'acknowledged');
  clock.advance(60_000);
  await router.tick();
  const acked = sent.filter((n) => n.receiver === 'pd').at(-1)!;
  assert.equal(acked.counts.acknowledged, 1);
  assert.equal(await router.resolve('bola-1', 'ana'), true);
  clock.advance(60_000);
  await router.tick();
  assert.equal(sent.filter((n) => n.receiver === 'pd').at(-1)!.status, 'resolved');
  assert.equal(await router.lifecycle('bola-1'), null, 'gone once resolved and notified');
});

test('receivers hear only findings at or above their minSeverity', async () => {
  const { router, clock, sent } = setup(new MemoryStateStore(), { route: { groupWaitSeconds: 0 } });
  await router.route(exampleFinding({ severity: 'medium' }));
  clock.advance(1);
  await router.tick();
  assert.deepEqual(sent.map((n) => n.receiver).sort(), ['slack', 'soc'], 'pd wants high and above');
});

test('a restart on file state forgets nothing (journal replayed, compacted into a snapshot)', async (t) => {
  const { mkdtempSync, readdirSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { FileStateStore } = await import('../state/file.ts');
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-alert-state-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const a = new FileStateStore({ dir, log, compactAfterRecords: 50 });
  await a.open();
  const one = setup(a, grouping);
  for (let i = 0; i < 20; i++) await one.router.route(bola(i));
  const s = await one.router.silences.create({
    matchers: ['tenant=beta'],
    author: 'ana',
    reason: 'pen test',
    durationSeconds: 600,
  });
  assert.ok(s.ok);
  await a.close();
  assert.ok(readdirSync(dir).length === 1, `one journal generation after compaction: ${readdirSync(dir)}`);
  const b = new FileStateStore({ dir, log });
  await b.open();
  const two = setup(b, grouping);
  two.clock.t = one.clock.t + 10_000;
  assert.equal(await two.router.tick(), 2, 'the restarted router flushed the waiting groups');
  assert.equal(two.sent[0]!.counts.firing, 20);
  assert.equal((await two.router.silences.list()).length, 1, 'the silence survived');
  assert.equal(await two.router.route(bola(2, { tenant: 'beta' })), 'silenced');
  await b.close();
});
