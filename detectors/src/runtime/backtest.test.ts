import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type ApiEvent, buildEvent, ChdbStore, loadConfig } from '@apiwatch/core';
import { backtest, storedEvents } from './backtest.ts';
import { DetectionEngine } from './engine.ts';

const T0 = Date.UTC(2026, 2, 2, 10, 0, 0);
const dir = mkdtempSync(join(tmpdir(), 'apiwatch-backtest-'));
const store = new ChdbStore(dir);
const base = loadConfig(undefined, {}).detect;

function call(sec: number, ip: string, status: number, user: string | null = null): ApiEvent {
  return buildEvent({
    ts: T0 + Math.round(sec * 1000),
    method: 'POST',
    path: '/api/login',
    status,
    sourceKind: 'test',
    raw: `${sec}|${ip}|${status}|${user}`,
    clientIp: ip,
    user,
    credentialKind: user ? 'basic' : 'none',
  });
}

const events: ApiEvent[] = [];
for (let i = 0; i < 2000; i++)
  events.push(call(i * 0.5, `198.51.100.${i % 40}`, i % 41 === 0 ? 401 : 200, `u${i % 40}`));
// 15 failures in 15 s (raised at minFailures 10, not at 30) and 60 in 60 s (raised by both).
for (let i = 0; i < 15; i++) events.push(call(100 + i, '203.0.113.1', 401));
for (let i = 0; i < 60; i++) events.push(call(400 + i, '203.0.113.2', 401));
events.sort((a, b) => a.ts - b.ts);

before(async () => {
  await store.start();
  await store.insertEvents(events);
  // What the live run raised (at the defaults).
  const live = new DetectionEngine({ ...base, baselines: { ...base.baselines, enabled: false } });
  const raised = events.flatMap((e) => live.push(e));
  raised.push(...live.drain());
  await store.insertFindings(raised);
});
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('stored events read back in event-time order, identity intact', async () => {
  const back: ApiEvent[] = [];
  for await (const e of storedEvents(store, T0, T0 + 3_600_000)) back.push(e);
  assert.equal(back.length, events.length);
  for (let i = 1; i < back.length; i++) assert.ok(back[i]!.ts >= back[i - 1]!.ts);
  const failed = back.filter((e) => e.identity.auth === 'failure' && e.client.ip === '203.0.113.2');
  assert.equal(failed.length, 60);
});

test('backtest: the same config reproduces what was raised; a stricter candidate drops one', async () => {
  const same = await backtest({ store, detect: base, fromMs: T0, toMs: T0 + 3_600_000 });
  const bf = same.rows.find((r) => r.detector === 'auth.brute_force')!;
  assert.equal(same.events, events.length);
  assert.deepEqual(
    { ...bf },
    { detector: 'auth.brute_force', candidate: 2, raised: 2, both: 2, added: 0, removed: 0 },
  );

  const strict = {
    ...base,
    detectors: { 'auth.brute_force': { minFailures: 30 } },
  };
  const r = await backtest({ store, detect: strict, fromMs: T0, toMs: T0 + 3_600_000 });
  const row = r.rows.find((x) => x.detector === 'auth.brute_force')!;
  assert.equal(row.candidate, 1);
  assert.equal(row.raised, 2);
  assert.equal(row.removed, 1);
  assert.equal(r.findings[0]!.entity.id, '203.0.113.2');
});
