import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  type ApiEvent,
  actorKey,
  buildEvent,
  type Config,
  createLogger,
  type Finding,
  KafkaBus,
  loadConfig,
} from '@apiwatch/core';
import { bruteForce, defineDetector, type FindingDraft } from '@apiwatch/detectors';
import { Type as T } from '@sinclair/typebox';
import { type DetectRole, startDetectRole } from '../../cli/src/roles/detect.ts';
import { KAFKA_BROKER, requireService, uniqueName, waitFor } from '../src/index.ts';

/**
 * Scale-out: two detect instances in one consumer group on real Kafka raise exactly the findings
 * one instance raises, for an actor-scoped detector (stage 1, per events partition) and a
 * global one (stage 2: events re-keyed by route, merged on the sources' watermarks).
 */

const T0 = Date.UTC(2026, 2, 2, 10, 0, 0);
const PARTITIONS = 4;

/** Failed logins on one route across every source: a global (route-keyed) detector. */
const routeFailures = defineDetector({
  id: 'auth.test_route_failures',
  title: 'Failures on a route across sources (test)',
  owasp: 'API2:2023',
  nist: 'authentication',
  severity: 'medium',
  configSchema: T.Object(
    {
      minFailures: T.Integer({ minimum: 1, default: 40 }),
      quietSeconds: T.Integer({ minimum: 1, default: 120 }),
    },
    { additionalProperties: false },
  ),
  scope: 'global',
  fingerprint: ['route'],
  keyBy: (e) =>
    e.identity.auth === 'failure' ? `${e.identity.tenant ?? ''}|${e.request.method} ${e.request.path}` : null,
  init: () => ({ n: 0, first: 0, last: 0, raised: false, sources: [] as string[] }),
  onEvent(s, e, ctx) {
    if (s.n === 0) s.first = e.ts;
    s.n++;
    s.last = e.ts;
    const ip = e.client.ip ?? '';
    if (s.sources.length < 5 && !s.sources.includes(ip)) s.sources.push(ip);
    ctx.wakeAt(e.ts + ctx.config.quietSeconds * 1000);
    if (s.raised || s.n < ctx.config.minFailures) return undefined;
    s.raised = true;
    return [draft(s, e, 'firing', ctx.now())];
  },
  onWatermark(s, ts, ctx) {
    if (!s.raised || ts - s.last < ctx.config.quietSeconds * 1000) return undefined;
    s.raised = false;
    const out = [draft(s, null, 'resolved', ts)];
    s.n = 0;
    s.sources = [];
    return out;
  },
});

function draft(
  s: { n: number; first: number; last: number; sources: string[] },
  e: ApiEvent | null,
  status: 'firing' | 'resolved',
  now: number,
): FindingDraft {
  return {
    status,
    ...(status === 'resolved' ? { endedAt: s.last } : {}),
    entity: { kind: 'endpoint', id: 'POST /login', name: 'POST /login', ref: null },
    route: '/login',
    method: 'POST',
    tenant: e?.identity.tenant ?? null,
    confidence: 0.8,
    summary: `${s.n} failed logins on POST /login from several sources (now ${now}).`,
    firstSeen: s.first,
    lastSeen: s.last,
    evidence: {
      observed: s.n,
      baseline: null,
      threshold: 40,
      windowSeconds: 0,
      counts: {},
      sampleEventIds: [],
      details: { sources: [...s.sources] },
    },
    recommendedAction: 'Look at the login route.',
  };
}

function workload(): ApiEvent[] {
  const events: ApiEvent[] = [];
  let i = 0;
  const add = (sec: number, ip: string, status: number, path = '/login', user: string | null = null) =>
    events.push(
      buildEvent({
        ts: T0 + Math.round(sec * 1000),
        method: path === '/login' ? 'POST' : 'GET',
        path,
        status,
        sourceKind: 'test',
        raw: `${i++}|${sec}|${ip}|${status}|${path}`,
        clientIp: ip,
        user,
        credentialKind: user ? 'basic' : 'none',
      }),
    );
  for (let sec = 0; sec < 1800; sec += 0.5) {
    const n = Math.floor(sec * 2);
    // Benign traffic from 300 users behind their own IPs, with the odd typo.
    add(
      sec,
      `198.51.100.${n % 250}`,
      n % 97 === 0 ? 401 : 200,
      n % 3 === 0 ? '/login' : `/orders/${n % 500}`,
      `u${n % 300}`,
    );
    // Three brute forcers (actor-scoped), in different minutes.
    for (const [k, start] of [
      [1, 100],
      [2, 500],
      [3, 1200],
    ] as const)
      if (sec >= start && sec < start + 60) add(sec + 0.1, `203.0.113.${k}`, 401);
    // A distributed spray: 60 sources, one failure each, within 5 minutes (global only).
    if (sec >= 900 && sec < 1200 && n % 10 === 0) add(sec + 0.2, `192.0.2.${(n / 10) % 60}`, 401);
  }
  return events.sort((a, b) => a.ts - b.ts);
}

function configFor(id: string, eventsTopic: string): Config {
  const base = loadConfig(undefined, {});
  return {
    ...base,
    dataDir: mkdtempSync(join(tmpdir(), 'apiwatch-scaleout-')),
    logLevel: 'warn',
    bus: {
      ...base.bus,
      kind: 'kafka',
      kafka: {
        ...base.bus.kafka,
        brokers: [KAFKA_BROKER],
        groupPrefix: id,
        partitions: PARTITIONS,
        topics: {
          events: eventsTopic,
          findings: `${id}.findings`,
          dlq: `${id}.dlq`,
          rekeyed: `${id}.rekeyed`,
        },
      },
    },
    // No wall-clock watermark advance: both runs must judge on event time only.
    detect: { ...base.detect, idleWatermarkMs: 0, baselines: { ...base.detect.baselines, enabled: false } },
  };
}

async function runInstances(instances: number, events: ApiEvent[]): Promise<Finding[]> {
  const id = uniqueName(`scaleout${instances}`);
  const config = configFor(id, `${id}.events`);
  const log = createLogger('warn');
  const buses = Array.from({ length: instances }, () => new KafkaBus(config.bus.kafka, log));
  const producer = new KafkaBus(config.bus.kafka, log);
  const reader = new KafkaBus(config.bus.kafka, log);
  await producer.start();
  const found: Finding[] = [];
  await reader.subscribe('findings', 'reader', async (batch) => {
    for (const m of batch) found.push(m.value);
  });
  const roles: DetectRole[] = [];
  try {
    for (const bus of buses)
      roles.push(await startDetectRole(config, bus, log, { detectors: [bruteForce, routeFailures] }));
    // Every partition of both topics owned by exactly one instance before any event is sent.
    await waitFor(
      'a stable group',
      () => {
        const owned = roles.map((r) => r.owned());
        const ev = owned.flatMap((o) => o.events).sort();
        const rk = owned.flatMap((o) => o.rekeyed).sort();
        const all = [0, 1, 2, 3].join();
        return ev.join() === all && rk.join() === all && owned.every((o) => o.events.length > 0)
          ? true
          : undefined;
      },
      60_000,
    );
    await producer.publish(
      'events',
      events.map((e) => ({ key: actorKey(e), value: e })),
    );
    const processed = () => roles.reduce((n, r) => n + r.engine.counters.events, 0);
    // At least once: a rebalance under load (a member missing heartbeats) hands a partition to
    // the other instance, which re-reads from the last committed offset.
    await waitFor(
      'every event processed',
      () => (processed() >= events.length ? true : undefined),
      120_000,
      () =>
        `processed ${processed()} of ${events.length}; per instance: ${roles
          .map((r) => `${r.engine.counters.events} events, owns ${JSON.stringify(r.owned())}`)
          .join('; ')}`,
    );
    // Findings settle: nothing new for 3 s.
    let last = -1;
    let stableSince = Date.now();
    await waitFor(
      'findings settled',
      () => {
        if (found.length !== last) {
          last = found.length;
          stableSince = Date.now();
        }
        return Date.now() - stableSince > 3000 ? true : undefined;
      },
      60_000,
    );
    return found;
  } finally {
    for (const r of roles) await r.stop();
    for (const b of buses) await b.close();
    await reader.close();
    await producer.close();
  }
}

const canon = (fs: Finding[]) =>
  fs.map((f) => JSON.stringify(f)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

test('two detect instances in one consumer group raise exactly the findings one instance raises', async (t) => {
  if (!(await requireService(t, 'kafka'))) return;
  const events = workload();
  const one = await runInstances(1, events);
  const two = await runInstances(2, events);
  const byDetector = (fs: Finding[], d: string) => fs.filter((f) => f.detector === d).length;
  t.diagnostic(
    `${events.length} events; one instance: ${one.length} findings (${byDetector(one, 'auth.brute_force')} brute force, ${byDetector(one, 'auth.test_route_failures')} route); two: ${two.length}`,
  );
  assert.ok(byDetector(one, 'auth.brute_force') >= 3, 'the three brute forcers');
  assert.ok(
    one.some((f) => f.detector === 'auth.test_route_failures' && f.status === 'firing'),
    'the distributed spray, seen only in aggregate (stage 2)',
  );
  assert.deepEqual(canon(two), canon(one));
});
