import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ApiEvent } from '@apiwatch/core';
import { passwordSpraying } from './password-spraying.ts';
import { call, HOUR, MIN, natLogins, rng, runDetector, T0 } from './testing.ts';

/** Ordinary users, each from their own address, logging in through the day; some mistype. */
function users(o: {
  count: number;
  start: number;
  spanMs: number;
  loginsPerUser: number;
  seed: number;
  path?: string;
}): ApiEvent[] {
  const out: ApiEvent[] = [];
  for (let u = 0; u < o.count; u++) {
    out.push(
      ...natLogins({
        ip: `198.51.${Math.floor(u / 200)}.${u % 200}`,
        users: 1,
        startMs: o.start,
        spanMs: o.spanMs,
        loginsPerUser: o.loginsPerUser,
        typoRate: 0.07,
        giveUpRate: 0.02,
        seed: o.seed * 10_000 + u,
        userPrefix: `user${u}-`,
        ...(o.path ? { path: o.path } : {}),
      }),
    );
  }
  return out;
}

/**
 * A spray: `passwords` rounds, each trying every account once, paced over `spanMs`, from a pool of
 * `sources` addresses that each send only a handful of attempts.
 */
function spray(o: {
  accounts: number;
  passwords: number;
  spanMs: number;
  sources: number;
  start: number;
  seed: number;
  path?: string;
}): ApiEvent[] {
  const r = rng(o.seed);
  const names = Array.from(
    { length: o.accounts },
    (_, i) => `${['j', 'm', 'a', 's'][i % 4]}.${Math.floor(r() * 1e8).toString(36)}@corp.test`,
  );
  const total = o.accounts * o.passwords;
  const gap = o.spanMs / total;
  const out: ApiEvent[] = [];
  for (let k = 0; k < total; k++) {
    const ip = `${80 + (k % 13)}.${Math.floor(r() * 250)}.${Math.floor(r() * 250)}.${k % o.sources}`;
    out.push(
      call(o.start + Math.floor(k * gap + r() * gap), {
        ip,
        status: 401,
        user: names[k % o.accounts]!,
        path: o.path ?? '/api/login',
      }),
    );
  }
  return out;
}

/** Episodes among the firing drafts (an update of an open episode keeps its firstSeen). */
const episodes = (firing: ReadonlyArray<{ firstSeen: number }>) =>
  new Set(firing.map((f) => f.firstSeen)).size;

const positives = [
  {
    name: 'slow: 80 accounts/h, 3 passwords over 9 h, 300 sources',
    accounts: 240,
    passwords: 3,
    spanMs: 9 * HOUR,
    sources: 300,
    background: 1500,
  },
  {
    name: 'medium: 400 accounts, 2 passwords over 4 h, 120 sources',
    accounts: 400,
    passwords: 2,
    spanMs: 4 * HOUR,
    sources: 120,
    background: 3000,
  },
  {
    name: 'quiet endpoint: 60 accounts/h, 1 password, 60 sources',
    accounts: 120,
    passwords: 1,
    spanMs: 2 * HOUR,
    sources: 60,
    background: 200,
  },
];
for (const [n, c] of positives.entries()) {
  test(`positive: ${c.name} → one endpoint finding within 60 min, resolved after`, () => {
    const start = T0 + 6 * HOUR;
    const attack = spray({
      accounts: c.accounts,
      passwords: c.passwords,
      spanMs: c.spanMs,
      sources: c.sources,
      start,
      seed: 3 + n,
    });
    const events = [
      ...users({ count: c.background, start: T0, spanMs: 20 * HOUR, loginsPerUser: 3, seed: 20 + n }),
      ...attack,
    ];
    const res = runDetector(passwordSpraying, events);
    assert.equal(episodes(res.firing), 1, res.firing.map((f) => f.summary).join('\n'));
    const f = res.firing[0]!;
    assert.deepEqual(f.entity, {
      kind: 'endpoint',
      id: 'POST /api/login',
      name: 'POST /api/login',
      ref: null,
    });
    assert.ok(f.at - start <= 60 * MIN, `time to detect ${(f.at - start) / MIN} min`);
    assert.match(
      f.summary,
      /^\d+ accounts failed logins on POST \/api\/login from \d+ source networks in 1 h/,
    );
    assert.ok((f.evidence.counts.sourceNetworks ?? 0) >= 10);
    assert.equal(res.resolved.length, 1);
    assert.ok(res.resolved[0]!.endedAt! >= attack[attack.length - 1]!.ts - c.spanMs / 4);
  });
}

test('negative: a day of ordinary logins with typos, an office NAT and a carrier NAT on the same endpoint', () => {
  const events = [
    ...users({ count: 2500, start: T0, spanMs: 24 * HOUR, loginsPerUser: 3, seed: 1 }),
    ...natLogins({
      ip: '192.0.2.10',
      users: 400,
      startMs: T0,
      spanMs: 9 * HOUR,
      loginsPerUser: 4,
      typoRate: 0.08,
      giveUpRate: 0.03,
      seed: 2,
      userPrefix: 'office',
    }),
    ...natLogins({
      ip: '100.64.7.1',
      users: 3000,
      startMs: T0,
      spanMs: 24 * HOUR,
      loginsPerUser: 2,
      typoRate: 0.06,
      giveUpRate: 0.03,
      seed: 3,
      userPrefix: 'mobile',
    }),
    // Monday 09:00: everyone at once, password-expiry day (one failure then a success).
    ...natLogins({
      ip: '192.0.2.11',
      users: 600,
      startMs: T0,
      spanMs: 30 * MIN,
      loginsPerUser: 1,
      typoRate: 0.4,
      giveUpRate: 0.02,
      seed: 4,
      userPrefix: 'expiry',
    }),
  ];
  const res = runDetector(passwordSpraying, events);
  assert.equal(res.firing.length, 0, res.firing.map((f) => f.summary).join('\n'));
  // Four quarter-hour buckets of two 512-bit maps and an HLL, and 24 closed-bucket counts, per login endpoint.
  assert.ok(Math.max(...res.sizes) < 3072, `endpoint state ${Math.max(...res.sizes)} B`);
});

test('negative: one fast source is credential stuffing, not spraying', () => {
  const r = rng(9);
  const attack = Array.from({ length: 600 }, (_, i) =>
    call(T0 + 2 * HOUR + i * 1000, { ip: '203.0.113.5', status: 401, user: `v${Math.floor(r() * 1e9)}` }),
  );
  const events = [
    ...users({ count: 800, start: T0, spanMs: 6 * HOUR, loginsPerUser: 2, seed: 5 }),
    ...attack,
  ];
  assert.equal(runDetector(passwordSpraying, events).firing.length, 0);
});

test('negative: an identity-provider outage (everyone retries, then gets in) is not a spray', () => {
  const events = users({ count: 1000, start: T0, spanMs: 8 * HOUR, loginsPerUser: 2, seed: 6 });
  const r = rng(10);
  for (let u = 0; u < 300; u++) {
    const t = T0 + 3 * HOUR + Math.floor(r() * 20 * MIN);
    const ip = `198.51.${Math.floor(u / 200)}.${u % 200}`;
    for (let k = 0; k < 5; k++)
      events.push(call(t + k * 30_000, { ip, status: 401, user: `user${u}-staff0@example.com` }));
    events.push(call(t + 40 * MIN, { ip, status: 200, user: `user${u}-staff0@example.com` }));
  }
  assert.equal(runDetector(passwordSpraying, events).firing.length, 0);
});

test('thresholds come from config', () => {
  const attack = spray({ accounts: 40, passwords: 1, spanMs: HOUR, sources: 40, start: T0, seed: 1 });
  assert.equal(episodes(runDetector(passwordSpraying, attack).firing), 1);
  assert.equal(runDetector(passwordSpraying, attack, { config: { minAccounts: 60 } }).firing.length, 0);
});

test('positive: a slow spray, 30 accounts an hour for 4 h from 30 sources, is found within the hour', () => {
  const start = T0 + 3 * HOUR;
  const attack = spray({ accounts: 120, passwords: 1, spanMs: 4 * HOUR, sources: 30, start, seed: 31 });
  const res = runDetector(passwordSpraying, [
    ...users({ count: 300, start: T0, spanMs: 10 * HOUR, loginsPerUser: 2, seed: 32 }),
    ...attack,
  ]);
  assert.equal(episodes(res.firing), 1);
  assert.ok(res.firing[0]!.at - start <= 60 * MIN, `time to detect ${(res.firing[0]!.at - start) / MIN} min`);
});

test('positive: a very slow spray, 53 accounts over 8 h (≈7 an hour) from 17 sources, is found by the long look-back', () => {
  const start = T0 + 8 * HOUR;
  const attack = spray({ accounts: 53, passwords: 1, spanMs: 8 * HOUR, sources: 17, start, seed: 41 });
  const events = [
    ...users({ count: 400, start: T0, spanMs: 20 * HOUR, loginsPerUser: 4, seed: 42 }),
    ...attack,
  ];
  const res = runDetector(passwordSpraying, events);
  assert.equal(res.firing.length, 1, res.firing.map((f) => f.summary).join('\n'));
  assert.ok(res.firing[0]!.at <= start + 10 * HOUR, 'before the attack ends plus the 2 h grace');
  assert.equal(runDetector(passwordSpraying, events, { config: { longWindowSeconds: 0 } }).firing.length, 0);
});

/** A small API: 120 users logging in twice a day for a week, behind home addresses and one office NAT. */
function smallApi(seed: number, days: number): ApiEvent[] {
  return [
    ...users({ count: 80, start: T0, spanMs: days * 24 * HOUR, loginsPerUser: 2 * days, seed }),
    ...natLogins({
      ip: '192.0.2.50',
      users: 40,
      startMs: T0,
      spanMs: days * 24 * HOUR,
      loginsPerUser: 2 * days,
      typoRate: 0.08,
      giveUpRate: 0.03,
      seed: seed + 1,
      userPrefix: 'office',
    }),
  ];
}

test('positive: a small API learns its own rate over a week; a spray of 7 accounts an hour is found within the hour', () => {
  const start = T0 + 7 * 24 * HOUR + 3 * HOUR;
  const attack = spray({ accounts: 35, passwords: 2, spanMs: 10 * HOUR, sources: 15, start, seed: 51 });
  const res = runDetector(passwordSpraying, [...smallApi(50, 8), ...attack]);
  assert.equal(episodes(res.firing), 1, res.firing.map((f) => f.summary).join('\n'));
  assert.ok(res.firing[0]!.at - start <= 60 * MIN, `time to detect ${(res.firing[0]!.at - start) / MIN} min`);
  assert.ok(res.firing[0]!.at >= start);
});

test('negative: the same small API for two weeks with its typos, give-ups and office NAT raises nothing', () => {
  const res = runDetector(passwordSpraying, smallApi(60, 14));
  assert.equal(res.firing.length, 0, res.firing.map((f) => f.summary).join('\n'));
});

test('positive: a second campaign during an open episode is an update of it, not silence', () => {
  const start = T0 + 4 * HOUR;
  const first = spray({ accounts: 120, passwords: 1, spanMs: 4 * HOUR, sources: 30, start, seed: 61 });
  const second = spray({
    accounts: 300,
    passwords: 1,
    spanMs: 2 * HOUR,
    sources: 80,
    start: start + 2 * HOUR,
    seed: 62,
  });
  const res = runDetector(passwordSpraying, [
    ...users({ count: 300, start: T0, spanMs: 10 * HOUR, loginsPerUser: 2, seed: 63 }),
    ...first,
    ...second,
  ]);
  assert.equal(episodes(res.firing), 1);
  // Updates only when the spray doubled: a handful per episode, one after the second campaign began.
  const [a, ...updates] = res.firing;
  assert.ok(updates.length >= 1 && updates.length <= 6, `${updates.length} updates`);
  const later = updates.find((u) => u.at >= start + 2 * HOUR);
  assert.ok(later, 'an update after the second campaign began');
  assert.ok(later.evidence.observed >= 2 * a!.evidence.observed);
});
