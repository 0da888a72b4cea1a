import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ApiEvent } from '@apiwatch/core';
import { credentialStuffing } from './credential-stuffing.ts';
import { call, HOUR, MIN, mean, natLogins, rng, runDetector, T0 } from './testing.ts';

/** One source tries `accounts` accounts once each at `perMinute`, `hits` of them with the right password. */
function stuffing(o: {
  ip: string;
  accounts: number;
  perMinute: number;
  hits: number;
  start: number;
  seed: number;
  path?: string;
  prefix?: string;
}): ApiEvent[] {
  const r = rng(o.seed);
  const gap = 60_000 / o.perMinute;
  const hitAt = new Set(Array.from({ length: o.hits }, () => Math.floor(r() * o.accounts)));
  return Array.from({ length: o.accounts }, (_, i) =>
    call(o.start + Math.floor(i * gap + r() * gap * 0.5), {
      ip: o.ip,
      status: hitAt.has(i) ? 200 : 401,
      user: `${o.prefix ?? 'u'}${Math.floor(r() * 1e9).toString(36)}@mail.test`,
      path: o.path ?? '/api/login',
    }),
  );
}

/** Background: ordinary users logging in from their own addresses, some mistyping. */
function background(start: number, spanMs: number, users: number, seed: number): ApiEvent[] {
  const out: ApiEvent[] = [];
  const r = rng(seed);
  for (let u = 0; u < users; u++) {
    const ip = `198.51.${Math.floor(u / 250)}.${u % 250}`;
    out.push(
      ...natLogins({
        ip,
        users: 1,
        startMs: start,
        spanMs,
        loginsPerUser: 2,
        typoRate: 0.08,
        giveUpRate: 0.02,
        seed: seed + u,
        userPrefix: `bg${u}-`,
      }),
    );
    if (r() < 0.001) out.push(call(start + r() * spanMs, { ip, status: 401, user: `ghost${u}` }));
  }
  return out;
}

const cases = [
  { name: 'fast bot, 1 per second, 150 accounts', accounts: 150, perMinute: 60, hits: 3 },
  { name: 'slow bot, 6 per minute, 60 accounts', accounts: 60, perMinute: 6, hits: 1 },
  { name: 'burst, 20 per second, 2000 accounts', accounts: 2000, perMinute: 1200, hits: 25 },
];
for (const [n, c] of cases.entries()) {
  test(`positive, single source: ${c.name} → one finding naming the IP, within 5 min, then resolved`, () => {
    const ip = `203.0.113.${10 + n}`;
    const attack = stuffing({
      ip,
      accounts: c.accounts,
      perMinute: c.perMinute,
      hits: c.hits,
      start: T0 + 20 * MIN,
      seed: 7 + n,
    });
    const events = [...background(T0, HOUR, 400, 100 + n), ...attack];
    const res = runDetector(credentialStuffing, events);
    assert.equal(res.firing.length, 1, JSON.stringify(res.firing.map((f) => f.summary)));
    const f = res.firing[0]!;
    assert.deepEqual(f.entity, { kind: 'ip', id: ip, name: ip, ref: null });
    assert.equal(f.route, '/api/login');
    assert.equal(f.method, 'POST');
    assert.ok(f.at - attack[0]!.ts <= 5 * MIN, `time to detect ${(f.at - attack[0]!.ts) / 1000} s`);
    assert.ok(f.evidence.observed >= 20, `observed ${f.evidence.observed}`);
    assert.match(
      f.summary,
      new RegExp(
        `^ip ${ip.replaceAll('.', '\\.')} failed logins for \\d+ distinct accounts in .* on POST /api/login`,
      ),
    );
    assert.equal(res.resolved.length, 1);
    assert.equal(res.resolved[0]!.firstSeen, f.firstSeen, 'the resolved update belongs to the same episode');
    assert.ok(res.resolved[0]!.endedAt! >= attack[attack.length - 1]!.ts - 1000);
    // One state per login endpoint: 8 tracked sources at most, each with at most 40 accounts.
    assert.ok(Math.max(...res.sizes) < 3 * 1024, `endpoint state under attack ${Math.max(...res.sizes)} B`);
  });
}

test('positive, rotating pool: 300 addresses, 1–3 accounts each, names the endpoint with top sources', () => {
  const r = rng(5);
  const attack: ApiEvent[] = [];
  const start = T0 + 30 * MIN;
  for (let i = 0; i < 600; i++) {
    const ip = `45.${10 + (i % 7)}.${Math.floor(r() * 250)}.${Math.floor(r() * 250)}`;
    attack.push(
      call(start + i * 800, {
        ip,
        status: i % 97 === 0 ? 200 : 401,
        user: `victim${i}@mail.test`,
        path: '/v2/auth/token',
        route: '/v2/auth/token',
      }),
    );
  }
  const events = [
    ...background(T0, 2 * HOUR, 300, 9).map((e) => ({
      ...e,
      request: { ...e.request, path: '/v2/auth/token', route: '/v2/auth/token' },
    })),
    ...attack,
  ];
  const res = runDetector(credentialStuffing, events);
  const pool = res.firing.filter((f) => f.entity.kind === 'endpoint');
  assert.equal(pool.length, 1, JSON.stringify(res.firing.map((f) => f.summary)));
  assert.equal(pool[0]!.entity.id, 'POST /v2/auth/token');
  assert.ok(pool[0]!.at - start <= 5 * MIN, `time to detect ${(pool[0]!.at - start) / 1000} s`);
  assert.ok((pool[0]!.evidence.counts.failingSources ?? 0) >= 10);
  assert.equal(
    res.firing.filter((f) => f.entity.kind === 'ip').length,
    0,
    'no single address did enough on its own',
  );
  assert.equal(res.resolved.length, 1);
});

test('negative: an office NAT — 400 users behind one IP over a working day, a few typos each', () => {
  const events = natLogins({
    ip: '192.0.2.10',
    users: 400,
    startMs: T0,
    spanMs: 9 * HOUR,
    loginsPerUser: 6,
    typoRate: 0.08,
    giveUpRate: 0.02,
    seed: 1,
  });
  // Morning rush: everyone logs in within 20 minutes.
  events.push(
    ...natLogins({
      ip: '192.0.2.10',
      users: 400,
      startMs: T0 - 30 * MIN,
      spanMs: 20 * MIN,
      loginsPerUser: 1,
      typoRate: 0.1,
      giveUpRate: 0.03,
      seed: 2,
      userPrefix: 'staff',
    }),
  );
  const res = runDetector(credentialStuffing, events);
  assert.equal(res.firing.length, 0, res.firing.map((f) => f.summary).join('\n'));
  // The endpoint's state: the pool bitmaps (~400 B) and one source slot holding its 40 accounts.
  assert.ok(mean(res.sizes) < 1.5 * 1024, `benign endpoint state ${mean(res.sizes)} B`);
});

test('negative: a carrier NAT — 3000 subscribers behind one address, mobile app logins and stale passwords', () => {
  const events = natLogins({
    ip: '100.64.7.1',
    users: 3000,
    startMs: T0,
    spanMs: 2 * HOUR,
    loginsPerUser: 2,
    typoRate: 0.06,
    giveUpRate: 0.03,
    seed: 3,
    userPrefix: 'sub',
  });
  const res = runDetector(credentialStuffing, events);
  assert.equal(res.firing.length, 0, res.firing.map((f) => f.summary).join('\n'));
});

test('negative: brute force on one account and a stale-password retry loop are not stuffing', () => {
  const events = [
    ...Array.from({ length: 200 }, (_, i) =>
      call(T0 + i * 1000, { ip: '203.0.113.50', status: 401, user: 'admin' }),
    ),
    ...Array.from({ length: 500 }, (_, i) =>
      call(T0 + i * 5000, { ip: '203.0.113.51', status: 401, user: `svc${i % 4}` }),
    ),
  ];
  assert.equal(runDetector(credentialStuffing, events).firing.length, 0);
});

test('negative: form-login failures with no account and no success are brute force, left to auth.brute_force', () => {
  const events = Array.from({ length: 200 }, (_, i) =>
    call(T0 + i * 500, { ip: '203.0.113.60', status: 401 }),
  );
  assert.equal(runDetector(credentialStuffing, events).firing.length, 0);
});

test('a NAT with an attacker behind it: stuffing above the NAT allowance still fires', () => {
  const events = [
    ...natLogins({
      ip: '100.64.9.9',
      users: 500,
      startMs: T0,
      spanMs: HOUR,
      loginsPerUser: 1,
      typoRate: 0.05,
      giveUpRate: 0.02,
      seed: 11,
    }),
    ...stuffing({ ip: '100.64.9.9', accounts: 200, perMinute: 40, hits: 2, start: T0 + 10 * MIN, seed: 12 }),
  ];
  const res = runDetector(credentialStuffing, events);
  assert.equal(res.firing.length, 1);
  assert.equal(res.firing[0]!.entity.id, '100.64.9.9');
});

test('thresholds come from config', () => {
  const events = stuffing({ ip: '203.0.113.70', accounts: 30, perMinute: 30, hits: 0, start: T0, seed: 4 });
  assert.equal(runDetector(credentialStuffing, events).firing.length, 1);
  assert.equal(runDetector(credentialStuffing, events, { config: { minAccounts: 40 } }).firing.length, 0);
});

test('positive, small pool: 6 addresses, 15 accounts each, none above the single-source floor', () => {
  const attack: ApiEvent[] = [];
  for (let ip = 0; ip < 6; ip++) {
    attack.push(
      ...stuffing({
        ip: `185.220.101.${ip + 1}`,
        accounts: 15,
        perMinute: 5,
        hits: 0,
        start: T0 + 40 * MIN + ip * 7000,
        seed: 50 + ip,
      }),
    );
  }
  const res = runDetector(credentialStuffing, [...background(T0, 2 * HOUR, 300, 77), ...attack]);
  assert.deepEqual(
    res.firing.map((f) => f.entity.kind),
    ['endpoint'],
    res.firing.map((f) => f.summary).join('\n'),
  );
  assert.ok(res.firing[0]!.at - (T0 + 40 * MIN) <= 5 * MIN);
});

/** A form/JSON login: the log names no account; failure is a 401, success a 200. */
const formLogin = (ms: number, ip: string, ok: boolean, ua = 'okhttp/4.9.0') =>
  call(ms, {
    ip,
    status: ok ? 200 : 401,
    user: null,
    credentialKind: 'none',
    path: '/identity/api/auth/login',
    userAgent: ua,
  });

test('positive, accounts not logged: one source failing 195 form logins at 20/min, logging in twice and going on', () => {
  const r = rng(61);
  const start = T0 + 30 * MIN;
  const attack = Array.from({ length: 195 }, (_, i) =>
    formLogin(
      start + i * 3000 + Math.floor(r() * 1000),
      '45.142.188.23',
      i === 40 || i === 130,
      'curl/8.5.0',
    ),
  );
  const res = runDetector(credentialStuffing, attack);
  assert.equal(res.firing.length, 1, res.firing.map((f) => f.summary).join('\n'));
  assert.equal(res.firing[0]!.entity.id, '45.142.188.23');
  assert.equal(res.firing[0]!.severity, 'critical');
  assert.match(res.firing[0]!.summary, /accounts not logged/);
  assert.ok(res.firing[0]!.at - start <= 5 * MIN);
});

test('positive, accounts not logged: a pool of 300 addresses failing form logins', () => {
  const r = rng(62);
  const start = T0 + 20 * MIN;
  const attack = Array.from({ length: 700 }, (_, i) =>
    formLogin(
      start + i * 1100,
      `${30 + (i % 50)}.${Math.floor(r() * 250)}.${Math.floor(r() * 250)}.${i % 300}`,
      i % 120 === 7,
    ),
  );
  const office = Array.from({ length: 400 }, (_, i) =>
    formLogin(T0 + Math.floor(r() * 3 * HOUR), `198.51.100.${i % 200}`, r() > 0.15, `App/${i}`),
  );
  const res = runDetector(credentialStuffing, [...attack, ...office]);
  assert.deepEqual(
    res.firing.map((f) => f.entity.id),
    ['POST /identity/api/auth/login'],
  );
  assert.ok(res.firing[0]!.at - start <= 5 * MIN);
});

test('negative, accounts not logged: brute force that never gets in, and an office NAT of 400 form logins with typos', () => {
  const brute = Array.from({ length: 300 }, (_, i) =>
    formLogin(T0 + i * 2000, '203.0.113.90', false, 'hydra'),
  );
  const r = rng(63);
  const office: ApiEvent[] = [];
  for (let u = 0; u < 400; u++) {
    const t = T0 + Math.floor(r() * 30 * MIN);
    if (r() < 0.15) office.push(formLogin(t, '192.0.2.10', false, `Browser/${u % 30}`));
    if (r() < 0.05) office.push(formLogin(t + 5000, '192.0.2.10', false, `Browser/${u % 30}`));
    office.push(formLogin(t + 10_000, '192.0.2.10', true, `Browser/${u % 30}`));
  }
  const res = runDetector(credentialStuffing, [...brute, ...office]);
  assert.equal(res.firing.length, 0, res.firing.map((f) => f.summary).join('\n'));
});
