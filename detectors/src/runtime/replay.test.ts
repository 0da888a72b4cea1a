import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type ApiEvent, ChdbStore, loadConfig } from '@apiwatch/core';
import { patternedHistory, type TrafficRoute } from '@apiwatch/test';
import { Type as T } from '@sinclair/typebox';
import { HOUR_MS, hourOfWeek } from '../baselines/types.ts';
import { defineDetector } from './define.ts';
import { ReplayRunner } from './replay.ts';

const START = Date.UTC(2025, 0, 6); // a Monday
const ROUTE: TrafficRoute = {
  tenant: 'acme',
  method: 'GET',
  route: '/v1/orders/{orderId}',
  param: 'orderId',
};

/** Records, per event, what the baselines said about its route and hour (confidence, median). */
function probe(seen: Array<{ ts: number; confidence: string; median: number; historyEnd: number }>) {
  return defineDetector({
    id: 'volume.test_probe',
    title: 'probe',
    owasp: 'API4:2023',
    nist: 'monitoring',
    severity: 'info',
    configSchema: T.Object({}, { additionalProperties: false }),
    scope: 'actor',
    fingerprint: ['route'],
    keyBy: (e) => (e.request.route ? 'k' : null),
    init: () => ({ n: 0 }),
    onEvent(s, e, ctx) {
      if (s.n++ % 50 !== 0) return undefined;
      const snap = ctx.baselines();
      const cell = snap.get(
        { tenant: e.identity.tenant ?? '', route: e.request.route ?? '', method: e.request.method },
        hourOfWeek(e.ts),
      ).requests;
      seen.push({
        ts: e.ts,
        confidence: cell.confidence,
        median: cell.median,
        historyEnd: snap.historyEndMs,
      });
      return undefined;
    },
  });
}

async function replay(events: ApiEvent[]) {
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-replay-runner-'));
  const store = new ChdbStore(dir);
  await store.start();
  const seen: Array<{ ts: number; confidence: string; median: number; historyEnd: number }> = [];
  try {
    const detect = loadConfig(undefined, {}).detect;
    const runner = new ReplayRunner({
      detect: { ...detect, baselines: { ...detect.baselines, refreshMinutes: 24 * 60 } },
      baselineStore: store,
      sink: store,
      detectors: [probe(seen)],
    });
    for (const e of events) await runner.push(e);
    await runner.finish();
    return { seen, refreshes: runner.refreshCount };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('replay learns as live does: baselines come from the replayed history on event time', async () => {
  const weeks = 3;
  const { events } = patternedHistory(
    ROUTE,
    { businessPerHour: 60, nightPerHour: 6, weekendPerHour: 3, noise: 0.1 },
    { fromMs: START, hours: weeks * 168, actors: 40, seed: 7 },
  );
  events.sort((a, b) => a.ts - b.ts);
  const a = await replay(events);
  assert.equal(a.refreshes, weeks * 7, 'one refresh per day of replayed event time');
  const first = a.seen[0]!;
  assert.equal(first.confidence, 'low', 'nothing learned at the start');
  assert.equal(first.historyEnd, START, 'the first refresh reads history ending at the first boundary');
  const lastWeek = a.seen.filter((s) => s.ts >= START + 2 * 168 * HOUR_MS + 24 * HOUR_MS);
  assert.ok(lastWeek.length > 5);
  // In the third week each hour of the week has two weeks of history: confidence high, and the
  // business-hour median is near the injected 60/h.
  const business = lastWeek.filter((s) => {
    const how = hourOfWeek(s.ts);
    return how % 24 >= 9 && how % 24 < 17 && how < 120;
  });
  assert.ok(business.length > 0);
  for (const s of business) {
    assert.equal(s.confidence, 'high');
    assert.ok(s.median > 45 && s.median < 75, `median ${s.median}`);
    assert.ok(
      s.historyEnd <= s.ts && s.ts - s.historyEnd < 24 * HOUR_MS,
      'history ends at the last boundary before the event',
    );
  }
  const b = await replay(events);
  assert.equal(
    JSON.stringify(b.seen),
    JSON.stringify(a.seen),
    'the same input twice: identical baselines at every event',
  );
});
