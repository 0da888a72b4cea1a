import assert from 'node:assert/strict';
import { test } from 'node:test';
import { successAfterFailures } from './success-after-failures.ts';
import { call, HOUR, MIN, natLogins, runDetector, T0 } from './testing.ts';

test('positive: 25 guesses on one account from one source, then it logs in → critical finding naming the account', () => {
  const events = [
    ...Array.from({ length: 25 }, (_, i) =>
      call(T0 + i * 3000, { ip: '203.0.113.7', status: 401, user: 'cfo@corp.test' }),
    ),
    call(T0 + 80_000, { ip: '203.0.113.7', status: 200, user: 'cfo@corp.test' }),
  ];
  const res = runDetector(successAfterFailures, events);
  assert.equal(res.firing.length, 1);
  const f = res.firing[0]!;
  assert.deepEqual(f.entity, {
    kind: 'user',
    id: 'cfo@corp.test',
    name: 'cfo@corp.test',
    ref: 'cfo@corp.test',
  });
  assert.equal(f.severity, 'critical');
  assert.equal(f.evidence.observed, 25);
  assert.equal(f.at, T0 + 80_000, 'raised at the success');
  assert.match(
    f.summary,
    /^account cfo@corp\.test logged in from 203\.0\.113\.7 on POST \/api\/login after 25 failed attempts/,
  );
  assert.equal(res.resolved.length, 1);
  assert.equal(res.resolved[0]!.firstSeen, f.firstSeen);
});

test('positive: 4 failures from 4 networks, then a login from a fifth', () => {
  const events = [
    ...['45.1.1.1', '46.2.2.2', '47.3.3.3', '48.4.4.4'].map((ip, i) =>
      call(T0 + i * 60_000, { ip, status: 401, user: 'ops' }),
    ),
    call(T0 + 5 * MIN, { ip: '49.5.5.5', status: 200, user: 'ops' }),
  ];
  const res = runDetector(successAfterFailures, events);
  assert.equal(res.firing.length, 1);
  assert.equal(res.firing[0]!.severity, 'critical');
  assert.match(res.firing[0]!.summary, /a network none of the failures came from/);
});

test('negative: an office NAT (400 users) and a carrier NAT (3000) with typos: each user’s own few failures', () => {
  const events = [
    ...natLogins({
      ip: '192.0.2.10',
      users: 400,
      startMs: T0,
      spanMs: 9 * HOUR,
      loginsPerUser: 6,
      typoRate: 0.1,
      giveUpRate: 0.02,
      seed: 1,
    }),
    ...natLogins({
      ip: '100.64.7.1',
      users: 3000,
      startMs: T0,
      spanMs: 4 * HOUR,
      loginsPerUser: 2,
      typoRate: 0.08,
      giveUpRate: 0.03,
      seed: 2,
      userPrefix: 'mobile',
    }),
  ];
  const res = runDetector(successAfterFailures, events);
  assert.equal(res.firing.length, 0, res.firing.map((f) => f.summary).join('\n'));
  assert.ok(Math.max(...res.sizes) < 1024);
});

test('negative: a burst of failures that never succeeds, and a success long after the burst', () => {
  const events = [
    ...Array.from({ length: 30 }, (_, i) =>
      call(T0 + i * 2000, { ip: '203.0.113.8', status: 401, user: 'bob' }),
    ),
    call(T0 + 2 * HOUR, { ip: '198.51.100.4', status: 200, user: 'bob' }),
  ];
  assert.equal(runDetector(successAfterFailures, events).firing.length, 0);
});

test('thresholds come from config', () => {
  const events = [
    ...Array.from({ length: 4 }, (_, i) =>
      call(T0 + i * 2000, { ip: '203.0.113.9', status: 401, user: 'eve' }),
    ),
    call(T0 + 10_000, { ip: '203.0.113.9', status: 200, user: 'eve' }),
  ];
  assert.equal(runDetector(successAfterFailures, events).firing.length, 0);
  assert.equal(runDetector(successAfterFailures, events, { config: { minFailures: 4 } }).firing.length, 1);
});

test('positive: exactly 5 failures then a success (Elastic’s rule) fires; 3 typos then a success do not', () => {
  const five = [
    ...Array.from({ length: 5 }, (_, i) =>
      call(T0 + i * 1500, { ip: '203.0.113.12', status: 401, user: 'dana' }),
    ),
    call(T0 + 9000, { ip: '203.0.113.12', status: 200, user: 'dana' }),
  ];
  const three = [
    ...Array.from({ length: 3 }, (_, i) =>
      call(T0 + i * 5000, { ip: '192.0.2.10', status: 401, user: 'erin' }),
    ),
    call(T0 + 20_000, { ip: '192.0.2.10', status: 200, user: 'erin' }),
  ];
  const res = runDetector(successAfterFailures, [...five, ...three]);
  assert.deepEqual(
    res.firing.map((f) => f.entity.id),
    ['dana'],
  );
  assert.equal(res.firing[0]!.severity, 'high');
});

test('a JSON-body login (no credential, username logged, 200) counts as the success', () => {
  const events = [
    ...Array.from({ length: 8 }, (_, i) =>
      call(T0 + i * 1000, { ip: '203.0.113.13', status: 401, user: 'frank', credentialKind: 'none' }),
    ),
    call(T0 + 10_000, { ip: '203.0.113.13', status: 200, user: 'frank', credentialKind: 'none' }),
  ];
  assert.equal(runDetector(successAfterFailures, events).firing.length, 1);
});
