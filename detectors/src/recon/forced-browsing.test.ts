import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ApiEvent } from '@apiwatch/core';
import { call, HOUR, MIN, mean, rng, runDetector, T0 } from '../auth/testing.ts';
import { forcedBrowsing } from './forced-browsing.ts';

const WORDS = [
  'admin',
  '.env',
  'wp-login.php',
  'backup',
  'config',
  'phpmyadmin',
  'api/v0',
  'debug',
  'actuator',
  'server-status',
  '.git/config',
  'console',
  'swagger.json',
  'graphql',
  'old',
  'test',
  'internal',
  'metrics',
  'private',
  'db',
];

for (const [n, c] of [
  { rate: 600, paths: 400, ua: 'Nuclei - Open-source project (github.com/projectdiscovery/nuclei)' },
  { rate: 10, paths: 60, ua: 'Mozilla/5.0' },
  { rate: 3000, paths: 5000, ua: 'gobuster/3.6' },
].entries()) {
  test(`positive: a scanner at ${c.rate}/min over ${c.paths} paths → one finding naming it within 5 min, resolved`, () => {
    const r = rng(n);
    const ip = `203.0.113.${100 + n}`;
    const events = Array.from({ length: c.paths }, (_, i) =>
      call(T0 + Math.floor((i * 60_000) / c.rate), {
        ip,
        status: r() < 0.97 ? 404 : 200,
        method: 'GET',
        path: `/${WORDS[i % WORDS.length]}${i >= WORDS.length ? `-${Math.floor(r() * 1e6)}` : ''}`,
        route: null,
        userAgent: c.ua,
      }),
    );
    const res = runDetector(forcedBrowsing, events);
    assert.equal(res.firing.length, 1);
    const f = res.firing[0]!;
    assert.deepEqual(f.entity, { kind: 'ip', id: ip, name: ip, ref: null });
    assert.ok(f.at - T0 <= 5 * MIN, `time to detect ${(f.at - T0) / 1000} s`);
    assert.match(
      f.summary,
      new RegExp(`^ip ${ip.replaceAll('.', '\\.')} requested \\d+ distinct unknown paths`),
    );
    assert.equal(res.resolved.length, 1);
    assert.ok(mean(res.sizes) < 1024, `state ${mean(res.sizes)} B`);
  });
}

/** Many people behind one address using a web app: mostly hits, some missing assets and stale deep links. */
function officeNat(ip: string, users: number, events: number, seed: number): ApiEvent[] {
  const r = rng(seed);
  const out: ApiEvent[] = [];
  for (let i = 0; i < events; i++) {
    const u = Math.floor(r() * users);
    const roll = r();
    const t = T0 + Math.floor(r() * 8 * HOUR);
    const ua = `Mozilla/5.0 (${['Windows', 'Mac', 'Linux', 'iPhone'][u % 4]}) build ${u % 37}`;
    if (roll < 0.03)
      out.push(
        call(t, {
          ip,
          status: 404,
          method: 'GET',
          path: `/app/static/chunk-${Math.floor(r() * 500)}.js`,
          route: null,
          userAgent: ua,
        }),
      );
    else if (roll < 0.06)
      out.push(
        call(t, {
          ip,
          status: 404,
          method: 'GET',
          path: `/old-page-${Math.floor(r() * 200)}`,
          route: null,
          userAgent: ua,
        }),
      );
    else if (roll < 0.1)
      out.push(
        call(t, {
          ip,
          status: 404,
          method: 'GET',
          path: `/api/orders/${Math.floor(r() * 1e6)}`,
          route: '/api/orders/{id}',
          userAgent: ua,
        }),
      );
    else
      out.push(
        call(t, {
          ip,
          status: 200,
          method: 'GET',
          path: `/api/orders/${Math.floor(r() * 1e6)}`,
          route: '/api/orders/{id}',
          userAgent: ua,
        }),
      );
  }
  return out;
}

test('negative: an office NAT (300 users) and a carrier NAT (3000) with missing assets and stale links', () => {
  const events = [...officeNat('192.0.2.10', 300, 20_000, 1), ...officeNat('100.64.7.1', 3000, 40_000, 2)];
  const res = runDetector(forcedBrowsing, events);
  assert.equal(res.firing.length, 0, res.firing.map((f) => f.summary).join('\n'));
});

test('negative: an id walk answering 404 on a templated route is a missing object, not a scan', () => {
  const events = Array.from({ length: 500 }, (_, i) =>
    call(T0 + i * 200, {
      ip: '203.0.113.200',
      status: 404,
      method: 'GET',
      path: `/api/orders/${i}`,
      route: '/api/orders/{id}',
    }),
  );
  assert.equal(runDetector(forcedBrowsing, events).firing.length, 0);
});

test('negative: a monitoring probe hitting one missing path every 10 s all day', () => {
  const events = Array.from({ length: 8640 }, (_, i) =>
    call(T0 + i * 10_000, { ip: '198.51.100.9', status: 404, method: 'GET', path: '/healthz', route: null }),
  );
  assert.equal(runDetector(forcedBrowsing, events).firing.length, 0);
});

test('thresholds come from config', () => {
  const events = WORDS.map((w, i) =>
    call(T0 + i * 1000, { ip: '203.0.113.201', status: 404, method: 'GET', path: `/${w}`, route: null }),
  );
  assert.equal(runDetector(forcedBrowsing, events).firing.length, 1);
  assert.equal(runDetector(forcedBrowsing, events, { config: { minDistinctPaths: 30 } }).firing.length, 0);
});
