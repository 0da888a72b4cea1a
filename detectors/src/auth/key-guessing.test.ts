import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ApiEvent } from '@apiwatch/core';
import { keyGuessing } from './key-guessing.ts';
import { call, HOUR, MIN, mean, rng, runDetector, T0 } from './testing.ts';

const key = (ms: number, ip: string, fp: string, status = 401, path = '/v1/orders'): ApiEvent =>
  call(ms, { ip, status, fingerprint: fp, path, method: 'GET', credentialKind: 'api_key' });

for (const [n, c] of [
  { rate: 120, guesses: 300 },
  { rate: 3, guesses: 40 },
  { rate: 1200, guesses: 5000 },
].entries()) {
  test(`positive: one origin guessing ${c.guesses} keys at ${c.rate}/min → one finding naming it, within 5 min, resolved`, () => {
    const r = rng(n);
    const ip = `203.0.113.${n + 1}`;
    const attack = Array.from({ length: c.guesses }, (_, i) =>
      key(T0 + Math.floor((i * 60_000) / c.rate), ip, `k1:${Math.floor(r() * 1e12).toString(36)}`),
    );
    const res = runDetector(keyGuessing, attack);
    assert.equal(res.firing.length, 1);
    const f = res.firing[0]!;
    assert.deepEqual(f.entity, { kind: 'ip', id: ip, name: ip, ref: null });
    assert.ok(f.at - T0 <= 5 * MIN, `time to detect ${(f.at - T0) / 1000} s`);
    assert.match(
      f.summary,
      new RegExp(`^ip ${ip.replaceAll('.', '\\.')} presented \\d+ distinct invalid api_key credentials`),
    );
    assert.equal(res.resolved.length, 1);
    assert.ok(res.resolved[0]!.evidence.observed >= Math.min(c.guesses, 16));
    assert.ok(mean(res.sizes) < 1024, `state ${mean(res.sizes)} B`);
  });
}

test('negative: a fleet replaying one revoked key from 200 addresses, and an office retrying 6 stale keys', () => {
  const events: ApiEvent[] = [];
  for (let i = 0; i < 4000; i++) events.push(key(T0 + i * 900, `10.20.${i % 200}.7`, 'k1:revoked-old-key'));
  for (let i = 0; i < 3000; i++) events.push(key(T0 + i * 1200, '192.0.2.10', `k1:stale-${i % 6}`));
  assert.equal(runDetector(keyGuessing, events).firing.length, 0);
});

test('negative: an office NAT where 300 developers each mistype or rotate a key now and then', () => {
  const r = rng(4);
  const events: ApiEvent[] = [];
  for (let d = 0; d < 300; d++) {
    if (r() < 0.1) {
      const t = T0 + Math.floor(r() * 8 * HOUR);
      for (let k = 0; k < 4; k++) events.push(key(t + k * 20_000, '192.0.2.20', `k1:dev${d}-typo`));
    }
  }
  assert.equal(runDetector(keyGuessing, events).firing.length, 0);
});

test('negative: failures without a presented credential are not key guesses', () => {
  const events = Array.from({ length: 100 }, (_, i) =>
    call(T0 + i * 1000, { ip: '203.0.113.9', status: 401, method: 'GET', path: '/v1/x' }),
  );
  assert.equal(runDetector(keyGuessing, events).keys, 0);
});

test('thresholds come from config', () => {
  const events = Array.from({ length: 12 }, (_, i) => key(T0 + i * 1000, '203.0.113.40', `k1:g${i}`));
  assert.equal(runDetector(keyGuessing, events).firing.length, 1);
  assert.equal(runDetector(keyGuessing, events, { config: { minDistinctKeys: 20 } }).firing.length, 0);
});
