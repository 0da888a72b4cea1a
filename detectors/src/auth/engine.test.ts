import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ApiEvent, findingValidator, loadConfig } from '@apiwatch/core';
import { syntheticEvents } from '@apiwatch/test';
import { DETECTORS } from '../registry.ts';
import { DetectionEngine } from '../runtime/engine.ts';
import { call, HOUR, MIN, natLogins, rng, T0 } from './testing.ts';

/**
 * The auth and recon detectors through the real runtime (config defaults, keyed state, timers,
 * the finding envelope): one scenario with an attack for each and a NAT that must stay quiet.
 */
test('through the engine: each auth/recon detector raises its attacker once, resolves it, and the findings validate', () => {
  const r = rng(42);
  const events: ApiEvent[] = [
    ...natLogins({
      ip: '192.0.2.10',
      users: 300,
      startMs: T0,
      spanMs: 3 * HOUR,
      loginsPerUser: 3,
      typoRate: 0.08,
      giveUpRate: 0.02,
      seed: 1,
    }),
  ];
  // Credential stuffing from one source.
  for (let i = 0; i < 120; i++)
    events.push(
      call(T0 + 30 * MIN + i * 1500, {
        ip: '203.0.113.7',
        status: 401,
        user: `s${Math.floor(r() * 1e9)}@mail.test`,
      }),
    );
  // Key guessing.
  for (let i = 0; i < 50; i++)
    events.push(
      call(T0 + 40 * MIN + i * 2000, {
        ip: '203.0.113.8',
        status: 401,
        method: 'GET',
        path: '/v1/orders',
        fingerprint: `k1:g${i}`,
        credentialKind: 'api_key',
      }),
    );
  // Brute force on one account, then it logs in.
  for (let i = 0; i < 15; i++)
    events.push(call(T0 + 50 * MIN + i * 2000, { ip: '203.0.113.9', status: 401, user: 'cfo@corp.test' }));
  events.push(call(T0 + 50 * MIN + 40_000, { ip: '203.0.113.9', status: 200, user: 'cfo@corp.test' }));
  // A scanner and an injection prober.
  for (let i = 0; i < 60; i++)
    events.push(
      call(T0 + 60 * MIN + i * 1000, {
        ip: '203.0.113.10',
        status: 404,
        method: 'GET',
        path: `/scan-${i}`,
        route: null,
      }),
    );
  for (let i = 0; i < 10; i++)
    events.push(
      call(T0 + 70 * MIN + i * 1000, {
        ip: '203.0.113.11',
        status: 400,
        method: 'GET',
        path: `/api/items/${i}' OR '1'='1`,
        route: null,
      }),
    );
  events.sort((a, b) => a.ts - b.ts);

  const engine = new DetectionEngine(loadConfig(undefined, {}).detect);
  const findings = events.flatMap((e) => engine.push(e));
  findings.push(...engine.drain(Number.POSITIVE_INFINITY));
  for (const f of findings) assert.ok(findingValidator.check(f), findingValidator.explain(f));

  const firing = (id: string) => findings.filter((f) => f.detector === id && f.status === 'firing');
  const resolved = (id: string) => findings.filter((f) => f.detector === id && f.status === 'resolved');
  const expect: Array<[string, string]> = [
    ['auth.credential_stuffing', '203.0.113.7'],
    ['auth.key_guessing', '203.0.113.8'],
    ['auth.success_after_failures', 'cfo@corp.test'],
    ['recon.forced_browsing', '203.0.113.10'],
    ['recon.injection_probe', '203.0.113.11'],
  ];
  for (const [id, entity] of expect) {
    assert.deepEqual(
      firing(id).map((f) => f.entity.id),
      [entity],
      `${id}: ${firing(id)
        .map((f) => f.summary)
        .join(' | ')}`,
    );
    assert.equal(resolved(id).length, 1, `${id} resolves`);
    assert.equal(
      resolved(id)[0]!.id,
      firing(id)[0]!.id,
      `${id}: the resolved update belongs to the same episode`,
    );
  }
  const onNat = findings.filter((f) => f.entity.id === '192.0.2.10');
  assert.deepEqual(
    onNat.map((f) => f.detector),
    [],
    'the office NAT raises nothing',
  );
  assert.equal(firing('auth.password_spraying').length, 0);
  assert.equal(firing('auth.credential_abuse').length, 0);
});

test('benign corpus from the store’s synthetic generator (20k credentials, 30k IPs, 2% 401s): no auth or recon finding', () => {
  const events = syntheticEvents(40_000, { seed: 7, startMs: T0, meanGapMs: 80 });
  // Only the auth and recon detectors: the other families have their own corpus tests.
  const mine = DETECTORS.filter((d) => d.id.startsWith('auth.') || d.id.startsWith('recon.'));
  const engine = new DetectionEngine(loadConfig(undefined, {}).detect, { detectors: mine });
  const findings = events.flatMap((e) => engine.push(e));
  findings.push(...engine.drain(Number.POSITIVE_INFINITY));
  const ours = findings.filter((f) => f.family === 'auth' || f.family === 'recon');
  assert.deepEqual(
    ours.map((f) => f.summary),
    [],
  );
  // Memory per active key, from the runtime's sampling of sizeOf (plus its ~120 B per key).
  for (const s of engine.stats()) {
    if (!s.id.startsWith('auth.') && !s.id.startsWith('recon.')) continue;
    const perKey = s.keys ? (engine.stateBytes().get(s.id) ?? 0) / s.keys : 0;
    assert.ok(perKey < 1024, `${s.id}: ${perKey.toFixed(0)} B per key over ${s.keys} keys`);
  }
});
