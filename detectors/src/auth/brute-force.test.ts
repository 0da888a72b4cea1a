import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ApiEvent, buildEvent, type Finding, findingValidator, loadConfig } from '@apiwatch/core';
import { DetectionEngine } from '../runtime/engine.ts';
import { bruteForce } from './brute-force.ts';
import { HOUR as H, call as login, MIN as M, natLogins, runDetector, T0 as TT } from './testing.ts';

const T0 = Date.UTC(2026, 2, 2, 10, 0, 0);

function call(
  sec: number,
  ip: string,
  status: number,
  user: string | null = null,
  path = '/api/login',
): ApiEvent {
  return buildEvent({
    ts: T0 + sec * 1000,
    method: 'POST',
    path,
    status,
    sourceKind: 'test',
    raw: `${sec}|${ip}|${status}|${user}|${path}`,
    clientIp: ip,
    user,
    credentialKind: user ? 'basic' : 'none',
  });
}

function run(events: ApiEvent[], detectors: Record<string, Record<string, unknown>> = {}) {
  const config = loadConfig(undefined, {});
  const engine = new DetectionEngine({ ...config.detect, detectors });
  const findings = events.flatMap((e) => engine.push(e));
  findings.push(...engine.drain());
  return findings.filter((f) => f.detector === 'auth.brute_force' && f.status === 'firing');
}

function runAll(events: ApiEvent[], untilTs?: number) {
  const config = loadConfig(undefined, {});
  const engine = new DetectionEngine(config.detect);
  const findings = events.flatMap((e) => engine.push(e));
  findings.push(...engine.drain(untilTs));
  return findings;
}

test('positive: 30 failed logins from one IP in 30 s against a few accounts raise one finding naming the IP', () => {
  const events = Array.from({ length: 30 }, (_, i) => call(i, '203.0.113.9', 401, `victim${i % 3}`));
  const findings = run(events);
  assert.equal(findings.length, 1);
  const f = findings[0]!;
  assert.deepEqual(f.entity, { kind: 'ip', id: '203.0.113.9', name: '203.0.113.9', ref: null });
  assert.equal(f.status, 'firing');
  assert.equal(f.endedAt, null);
  assert.equal(f.family, 'auth');
  assert.equal(f.detectedAt, T0 + 9000, 'detectedAt is the watermark, not the wall clock');
  assert.deepEqual(f.labels, { route: '/api/login', method: 'POST' });
  assert.equal(f.route, '/api/login');
  assert.equal(f.method, 'POST');
  assert.equal(f.owasp, 'API2:2023');
  assert.equal(f.firstSeen, T0);
  assert.equal(f.lastSeen, T0 + 9000, 'raised when the 10th failure lands inside the window');
  assert.equal(f.evidence.threshold, 10);
  assert.equal(f.evidence.sampleEventIds.length, 10);
  assert.ok((f.evidence.details.targets as string[]).includes('victim0'));
  assert.ok(findingValidator.check(f), findingValidator.explain(f));
});

test('negative: the same number of failures spread wider than the window raise nothing', () => {
  // One failure every 7 s: never 10 within 60 s.
  const events = Array.from({ length: 40 }, (_, i) => call(i * 7, '203.0.113.9', 401));
  assert.equal(run(events).length, 0);
});

test('negative: busy benign traffic with scattered 401s from many clients raises nothing', () => {
  const events: ApiEvent[] = [];
  for (let i = 0; i < 5000; i++) {
    const ip = `198.51.100.${i % 50}`;
    events.push(call(i * 0.2, ip, i % 37 === 0 ? 401 : 200, null, `/api/orders/${i}`));
  }
  assert.equal(run(events).length, 0);
});

test('negative: many successes from one actor are not failures', () => {
  const events = Array.from({ length: 100 }, (_, i) => call(i * 0.1, '203.0.113.9', 200, 'alice'));
  assert.equal(run(events).length, 0);
});

test('one finding per episode; a new episode after the quiet period is reported again', () => {
  const first = Array.from({ length: 50 }, (_, i) => call(i, '203.0.113.9', 401));
  const second = Array.from({ length: 20 }, (_, i) => call(2000 + i, '203.0.113.9', 401));
  const findings = run([...first, ...second]);
  assert.equal(findings.length, 2);
  assert.notEqual(findings[0]!.id, findings[1]!.id);
  assert.equal(
    findings[0]!.fingerprint,
    findings[1]!.fingerprint,
    'same actor and route: same de-dup fingerprint',
  );
});

test('event-time order: shuffled input within the lateness gives the same finding as ordered input', () => {
  const events = Array.from({ length: 12 }, (_, i) => call(i * 0.02, '203.0.113.9', 401));
  const shuffled = [...events].reverse();
  const a = run(events);
  const b = run(shuffled);
  assert.equal(a.length, 1);
  assert.equal(b.length, 1);
  assert.equal(a[0]!.id, b[0]!.id);
});

test('thresholds come from config: minFailures 50 ignores a 30-failure burst', () => {
  const events = Array.from({ length: 30 }, (_, i) => call(i, '203.0.113.9', 401));
  assert.equal(run(events, { 'auth.brute_force': { minFailures: 50 } }).length, 0);
  assert.equal(run(events, { 'auth.brute_force': { enabled: false } }).length, 0);
});

test('unknown detector ids and keys are start-up errors naming the key', () => {
  const config = loadConfig(undefined, {});
  assert.throws(
    () => new DetectionEngine({ ...config.detect, detectors: { 'auth.nope': {} } }),
    /detect\.detectors\.auth\.nope/,
  );
  assert.throws(
    () => new DetectionEngine({ ...config.detect, detectors: { 'auth.brute_force': { windowSecs: 5 } } }),
    /detect\.detectors\.auth\.brute_force/,
  );
});

test('state stays bounded: maxActors evicts the least recent actors and counts them', () => {
  const config = loadConfig(undefined, {});
  const engine = new DetectionEngine({ ...config.detect, maxActors: 100 });
  for (let i = 0; i < 1000; i++) engine.push(call(i * 0.01, `10.0.${i >> 8}.${i & 255}`, 401));
  engine.drain();
  // Per detector: other actor-keyed detectors (recon.forced_browsing) hold their own keys.
  const stats = engine.stats().find((d) => d.id === 'auth.brute_force')!;
  assert.ok(stats.keys <= 100);
  assert.equal(stats.evictions, 900);
});

test('the episode resolves on the watermark with no further failure: same id, status resolved, endedAt set', () => {
  const attack = Array.from({ length: 30 }, (_, i) => call(i, '203.0.113.9', 401));
  // Benign traffic from someone else moves the watermark past the quiet period.
  const later = Array.from({ length: 5 }, (_, i) => call(400 + i, '198.51.100.1', 200, 'bob'));
  const findings = runAll([...attack, ...later]);
  assert.equal(findings.length, 2);
  const [firing, resolved] = findings as [Finding, Finding];
  assert.equal(firing.status, 'firing');
  assert.equal(resolved.status, 'resolved');
  assert.equal(resolved.id, firing.id);
  assert.equal(resolved.fingerprint, firing.fingerprint);
  assert.equal(resolved.endedAt, T0 + 29_000);
  assert.equal(
    resolved.detectedAt,
    T0 + 29_000 + 300_000,
    'resolved when the watermark passed lastFailure + quiet',
  );
  assert.equal(resolved.evidence.observed, 30);
  assert.ok(findingValidator.check(resolved), findingValidator.explain(resolved));
});

test('a replay that ends mid-episode leaves it firing; drain(Infinity) closes it', () => {
  const attack = Array.from({ length: 30 }, (_, i) => call(i, '203.0.113.9', 401));
  assert.deepEqual(
    runAll(attack).map((f) => f.status),
    ['firing'],
  );
  assert.deepEqual(
    runAll(attack, Number.POSITIVE_INFINITY).map((f) => f.status),
    ['firing', 'resolved'],
  );
});

test('fingerprint separates tenants: the same IP against two tenants is two fingerprints', () => {
  const mk = (tenant: string) =>
    Array.from({ length: 12 }, (_, i) => ({
      ...call(i, '203.0.113.9', 401),
      identity: { ...call(i, '203.0.113.9', 401).identity, tenant },
    }));
  const a = run(mk('acme'));
  const b = run(mk('globex'));
  assert.equal(a.length, 1);
  assert.equal(b.length, 1);
  assert.notEqual(a[0]!.fingerprint, b[0]!.fingerprint);
  assert.equal(a[0]!.labels.tenant, 'acme');
});

test('positive: one account guessed 12 times in a minute by one tool, then again slowly from another', () => {
  const fast = Array.from({ length: 12 }, (_, i) =>
    login(TT + i * 4000, { ip: '203.0.113.30', status: 401, user: 'root' }),
  );
  const noAccount = Array.from({ length: 12 }, (_, i) =>
    login(TT + i * 4000, { ip: '203.0.113.31', status: 401, userAgent: 'hydra' }),
  );
  const res = runDetector(bruteForce, [...fast, ...noAccount]);
  assert.deepEqual(res.firing.map((f) => f.entity.id).sort(), ['203.0.113.30', '203.0.113.31']);
  assert.equal(res.resolved.length, 2);
});

test('negative (NAT): an office morning rush and a carrier NAT — many users, a few typos each — raise nothing', () => {
  const events = [
    ...natLogins({
      ip: '192.0.2.10',
      users: 400,
      startMs: TT,
      spanMs: 20 * M,
      loginsPerUser: 1,
      typoRate: 0.1,
      giveUpRate: 0.03,
      seed: 2,
    }),
    ...natLogins({
      ip: '192.0.2.10',
      users: 400,
      startMs: TT + H,
      spanMs: 8 * H,
      loginsPerUser: 6,
      typoRate: 0.08,
      giveUpRate: 0.02,
      seed: 1,
    }),
    ...natLogins({
      ip: '100.64.7.1',
      users: 3000,
      startMs: TT,
      spanMs: 2 * H,
      loginsPerUser: 2,
      typoRate: 0.06,
      giveUpRate: 0.03,
      seed: 3,
    }),
  ];
  const res = runDetector(bruteForce, events);
  assert.equal(res.firing.length, 0, res.firing.map((f) => f.summary).join('\n'));
});

test('negative (NAT): failures with no account name behind a carrier NAT come from many user agents', () => {
  const agents = [
    'okhttp/4.12',
    'Chrome/124',
    'Safari/17',
    'Firefox/125',
    'Edge/124',
    'iOS-App/3.2',
    'Android-App/7',
  ];
  const events = Array.from({ length: 400 }, (_, i) =>
    login(TT + i * 3000, {
      ip: '100.64.7.2',
      status: 401,
      userAgent: `${agents[i % agents.length]} (${i % 23})`,
    }),
  );
  assert.equal(runDetector(bruteForce, events).firing.length, 0);
});
