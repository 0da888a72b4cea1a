import assert from 'node:assert/strict';
import { test } from 'node:test';
import { call, DetectorHarness, specOf } from '../bola/harness.ts';
import { zombieEndpoint } from './zombie-endpoint.ts';

const T0 = Date.UTC(2026, 10, 4, 8, 0, 0);

test('positive: the deprecated v2 OTP check is still called (and answered) — top callers in evidence', () => {
  const h = new DetectorHarness(zombieEndpoint);
  h.run(
    Array.from({ length: 6 }, (_, i) =>
      call({
        ts: T0 + i * 1000,
        method: 'POST',
        ip: '198.51.100.7',
        route: '/identity/api/auth/v2/check-otp',
        status: 500,
        spec: specOf({ deprecated: true, operationId: 'check_otp_v2' }),
      }),
    ),
  );
  const [f] = h.firing();
  assert.ok(f);
  assert.equal(f.entity.id, 'POST /identity/api/auth/v2/check-otp');
  assert.deepEqual(Object.keys(f.evidence.details.topCallers as object), ['ip:198.51.100.7']);
  assert.equal(f.evidence.details.retiredVersion, false);
});

test('positive: a retired version path no spec lists (shadow + deprecated) is high severity', () => {
  const h = new DetectorHarness(zombieEndpoint);
  const spec = specOf({ status: 'shadow', deprecated: true, operationId: null, securityRequired: true });
  h.run(
    [0, 1, 2].map((i) =>
      call({ ts: T0 + i, user: 'legacy-app', route: '/identity/api/v1/user/dashboard', spec }),
    ),
  );
  const [f] = h.firing();
  assert.ok(f);
  assert.equal(f.severity, 'high');
  assert.equal(f.evidence.details.retiredVersion, true);
});

test('negative: current operations, and old versions that answer 404/410', () => {
  const h = new DetectorHarness(zombieEndpoint);
  const events = [];
  for (let i = 0; i < 40; i++) {
    events.push(
      call({ ts: T0 + i, route: '/identity/api/auth/v3/check-otp', method: 'POST', spec: specOf() }),
    );
    events.push(
      call({ ts: T0 + i, route: '/api/v1/users', spec: specOf({ deprecated: true }), status: 410 }),
    );
    events.push(
      call({
        ts: T0 + i,
        route: '/api/v1/items',
        spec: specOf({ status: 'shadow', deprecated: true }),
        status: 404,
      }),
    );
  }
  h.run(events);
  assert.deepEqual(h.firing(), []);
});

test('positive: raised on the second answered call, not before; one call alone is not a finding', () => {
  const h = new DetectorHarness(zombieEndpoint);
  const spec = specOf({ deprecated: true, operationId: 'getDocumentV0' });
  h.run([call({ ts: T0, user: 'u1', route: '/v0/documents/{documentId}', spec })]);
  assert.deepEqual(h.firing(), []);
  h.run([call({ ts: T0 + 20 * 60_000, user: 'u1', route: '/v0/documents/{documentId}', spec })]);
  const [f] = h.firing();
  assert.ok(f);
  assert.equal(f.at, T0 + 20 * 60_000);
  assert.equal(f.evidence.observed, 2);
});

test('an open finding is updated when calls resume after an hour without one; a new episode after it resolved', () => {
  const h = new DetectorHarness(zombieEndpoint);
  const spec = specOf({ status: 'shadow', deprecated: true, operationId: null });
  const route = '/api/v2/pet/findByTags';
  const at = (min: number, user: string) => call({ ts: T0 + min * 60_000, user, route, spec });
  // A burst, 40 minutes of silence (no update), calls again, 2.5 h of silence, then another caller.
  h.run([at(0, 'partner-a'), at(5, 'partner-a'), at(10, 'partner-a'), at(50, 'partner-a')]);
  assert.equal(h.firing().length, 1, 'raised once; a 40-minute pause is not a resumption');
  h.run([at(200, 'partner-b'), at(205, 'partner-b')]);
  const updates = h.firing();
  assert.equal(updates.length, 2, 'one update when calls resumed');
  const [first, resumed] = updates;
  assert.equal(resumed!.firstSeen, first!.firstSeen, 'the same episode (its id hashes firstSeen)');
  assert.equal(resumed!.evidence.observed, 5);
  assert.equal(resumed!.evidence.details.resumedAfterSeconds, 150 * 60);
  assert.match(resumed!.summary, /Called again after 2\.5 h/);
  // Six hours without a call resolve it; the next calls are a new episode.
  h.advance(T0 + (205 + 6 * 60) * 60_000);
  h.run([at(205 + 7 * 60, 'partner-a')]);
  assert.equal(h.firing().length, 3);
  const reopened = h.firing().at(-1)!;
  assert.equal(reopened.firstSeen, T0 + (205 + 7 * 60) * 60_000, 'a new episode starts at its first call');
  assert.notEqual(reopened.firstSeen, first!.firstSeen);
});
