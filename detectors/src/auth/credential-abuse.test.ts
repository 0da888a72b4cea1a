import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ApiEvent } from '@apiwatch/core';
import { credentialAbuse } from './credential-abuse.ts';
import { call, HOUR, MIN, mean, rng, runDetector, T0 } from './testing.ts';

const use = (ms: number, ip: string, fp = 'k1:partner-key', service = 'acme-billing'): ApiEvent =>
  call(ms, {
    ip,
    status: 200,
    method: 'GET',
    path: '/v1/invoices',
    fingerprint: fp,
    ref: 'cred-7f3a',
    service,
    credentialKind: 'api_key',
  });

/** `days` of habit: `perHour` calls an hour from `ips` addresses. */
function habit(days: number, ips: string[], perHour: number, seed: number, fp?: string): ApiEvent[] {
  const r = rng(seed);
  const out: ApiEvent[] = [];
  for (let h = 0; h < days * 24; h++) {
    for (let k = 0; k < perHour; k++)
      out.push(use(T0 + h * HOUR + Math.floor(r() * HOUR), ips[Math.floor(r() * ips.length)]!, fp));
  }
  return out;
}

for (const [n, c] of [
  { attackers: 30, spreadMs: 4 * MIN },
  { attackers: 12, spreadMs: 3 * MIN },
  { attackers: 400, spreadMs: 10 * MIN },
].entries()) {
  test(`positive: a partner key with 3 addresses of history replayed from ${c.attackers} addresses → finding naming the credential and its ref`, () => {
    const r = rng(100 + n);
    const start = T0 + 3 * 24 * HOUR + 20 * MIN;
    const attack = Array.from({ length: c.attackers * 2 }, (_, i) =>
      use(
        start + Math.floor((i / (c.attackers * 2)) * c.spreadMs),
        `${20 + (i % 40)}.${Math.floor(r() * 250)}.${Math.floor(r() * 250)}.${i % c.attackers}`,
      ),
    );
    const events = [...habit(4, ['198.51.100.10', '198.51.100.11', '198.51.100.12'], 30, n), ...attack];
    const res = runDetector(credentialAbuse, events);
    assert.equal(res.firing.length, 1, res.firing.map((f) => f.summary).join('\n'));
    const f = res.firing[0]!;
    assert.deepEqual(f.entity, {
      kind: 'credential',
      id: 'k1:partner-key',
      name: 'acme-billing',
      ref: 'cred-7f3a',
    });
    assert.ok(f.at - start <= 5 * MIN, `time to detect ${(f.at - start) / 1000} s`);
    assert.match(
      f.summary,
      /^credential acme-billing \(k1:partner-key\) was used from \d+ addresses in \d+ new networks/,
    );
    assert.equal(f.evidence.details.baselineKind, 'own_history');
    assert.equal(res.resolved.length, 1);
    assert.ok(mean(res.sizes) < 1024, `state ${mean(res.sizes)} B`);
  });
}

test('negative: an autoscaled CI fleet (40 addresses an hour in its 4 networks) and its busiest hour', () => {
  const fleet = Array.from({ length: 160 }, (_, i) => `10.${1 + (i % 4)}.0.${i}`);
  const events = habit(5, fleet.slice(0, 40), 200, 1);
  // Day 6: scale-out to 120 addresses, still inside its own networks.
  events.push(...habit(1, fleet, 400, 2).map((e) => ({ ...e, ts: e.ts + 5 * 24 * HOUR })));
  assert.equal(runDetector(credentialAbuse, events).firing.length, 0);
});

test('negative: a mobile app key behind carrier NATs churns through hundreds of addresses every hour', () => {
  const r = rng(3);
  const events: ApiEvent[] = [];
  for (let h = 0; h < 72; h++) {
    for (let k = 0; k < 600; k++) {
      events.push(
        use(
          T0 + h * HOUR + Math.floor(r() * HOUR),
          `100.${64 + Math.floor(r() * 40)}.${Math.floor(r() * 250)}.${Math.floor(r() * 250)}`,
          'k1:mobile-app',
          'mobile-app',
        ),
      );
    }
  }
  assert.equal(runDetector(credentialAbuse, events).firing.length, 0);
});

test('negative: a user on laptop, phone and office network, and a VPN toggle', () => {
  const r = rng(4);
  const events: ApiEvent[] = [];
  const places = ['192.0.2.10', '100.64.3.3', '203.0.113.99', '185.1.2.3'];
  for (let h = 0; h < 24 * 7; h++) {
    for (let k = 0; k < 5; k++) {
      events.push(
        call(T0 + h * HOUR + Math.floor(r() * HOUR), {
          ip: places[Math.floor(r() * places.length)]!,
          status: 200,
          user: 'alice',
          credentialKind: 'jwt',
          method: 'GET',
          path: '/me',
        }),
      );
    }
  }
  assert.equal(runDetector(credentialAbuse, events).firing.length, 0);
});

test('failed calls and anonymous calls are not judged (their actor is the origin)', () => {
  const events = Array.from({ length: 100 }, (_, i) =>
    call(T0 + i * 1000, { ip: `45.0.${i}.1`, status: 200, method: 'GET', path: '/public' }),
  );
  assert.equal(runDetector(credentialAbuse, events).keys, 0);
});

test('positive: a single-address key replayed from 6 addresses in 3 new networks', () => {
  const start = T0 + 2 * 24 * HOUR + 10 * MIN;
  const attack = ['91.1.1.1', '91.1.1.2', '92.2.2.2', '92.2.2.3', '93.3.3.3', '93.3.3.4'].map((ip, i) =>
    use(start + i * 20_000, ip),
  );
  const res = runDetector(credentialAbuse, [...habit(3, ['198.51.100.10'], 20, 9), ...attack]);
  assert.equal(res.firing.length, 1);
  assert.ok(res.firing[0]!.evidence.observed >= 6, 'its own address and the replays');
});

test('a key with 12 networks of its own: those are known (the network table grows past its first slots), 3 new ones are not', () => {
  // 12 /24s, one address each: more than the 4 slots a credential starts with, fewer than the 16 kept.
  const own = Array.from({ length: 12 }, (_, i) => `203.0.${i + 1}.7`);
  const learned = habit(3, own, 60, 21);
  const start = T0 + 3 * 24 * HOUR + 10 * MIN;
  // Its own 12 networks in one hour: no new network, no finding.
  const home = own.map((ip, i) => use(start + i * 20_000, ip));
  const quiet = runDetector(credentialAbuse, [...learned, ...home]);
  assert.equal(quiet.firing.length, 0);
  // A later hour: 75 addresses (its peak is ~12 an hour, ×4) in 3 networks it never used, on top of its usual ones.
  const later = start + 2 * HOUR;
  const attack = Array.from({ length: 75 }, (_, i) =>
    use(later + 300_000 + i * 10_000, `${91 + (i % 3)}.1.1.${10 + Math.floor(i / 3)}`),
  );
  const res = runDetector(credentialAbuse, [
    ...learned,
    ...home,
    ...own.map((ip, i) => use(later + 200_000 + i * 5_000, ip)),
    ...attack,
  ]);
  assert.equal(res.firing.length, 1);
  assert.equal(res.firing[0]!.evidence.counts.newNetworks, 3);
  assert.equal(res.firing[0]!.evidence.counts.knownNetworks, 12);
});
