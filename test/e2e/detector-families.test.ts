/**
 * The bola, spec and volume detectors through the real route stage (crAPI's vendored OpenAPI
 * spec sets `event.spec` and the object ids) and the real detection runtime at the default
 * config: each injected attack raises its detector once, naming its attacker; the benign
 * population around it raises nothing in these families; every finding validates.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  type ApiEvent,
  buildEvent,
  ChdbStore,
  type Finding,
  findingValidator,
  loadConfig,
} from '@apiwatch/core';
import { BaselineSnapshot, DetectionEngine, fallbacksOf, objectOwnership } from '@apiwatch/detectors';
import { loadRouteTemplater } from '@apiwatch/ingest';

const SPEC = join(import.meta.dirname, '../fixtures/public/openapi/crapi-openapi-spec.json');
const T0 = Date.UTC(2026, 10, 3, 9, 0, 0);
const MIN = 60_000;

interface Req {
  ts: number;
  method?: string;
  target: string;
  status?: number;
  user?: string | null;
  ip?: string;
  bytes?: number;
}

let n = 0;
const routes = loadRouteTemplater({ specs: [SPEC], inferRoutes: true });

/** A crAPI call as a gateway would log it, through the route stage. */
function req(r: Req): ApiEvent {
  const q = r.target.indexOf('?');
  const path = q < 0 ? r.target : r.target.slice(0, q);
  const query = q < 0 ? '' : r.target.slice(q + 1);
  const e = buildEvent(
    {
      ts: r.ts,
      method: r.method ?? 'GET',
      path,
      queryKeys: query ? query.split('&').map((p) => p.split('=')[0]!) : [],
      status: r.status ?? 200,
      sourceKind: 'test',
      raw: `${n++}`,
      clientIp: r.ip ?? '10.1.0.1',
      userAgent: 'crapi-web/1.0',
      credentialKind: r.user ? 'jwt' : 'none',
      user: r.user ?? null,
      responseBytes: r.bytes ?? 800,
      ...(r.user ? { auth: 'success' as const } : {}),
    },
    r.ts,
  );
  routes.applyRoutes(e, { query });
  return e;
}

function benign(): ApiEvent[] {
  const out: ApiEvent[] = [];
  for (let u = 0; u < 40; u++) {
    const user = `user${u}@crapi.test`;
    const vehicle = `4bae9968-ec7f-4de3-a3a0-${String(u).padStart(12, '0')}`;
    // The day before: an owner is learned from calls that span a day or more (cross_principal).
    for (const h of [30, 27, 25])
      out.push(
        req({
          ts: T0 - h * 60 * MIN + u * 1000,
          user,
          target: `/identity/api/v2/vehicle/${vehicle}/location`,
          ip: `10.1.${u}.1`,
        }),
      );
    for (let i = 0; i < 45; i++) {
      const ts = T0 + i * 4 * MIN + u * 1000;
      out.push(req({ ts, user, target: `/identity/api/v2/vehicle/${vehicle}/location`, ip: `10.1.${u}.1` }));
      out.push(
        req({ ts: ts + 100, user, target: '/community/api/v2/community/posts/recent?limit=30&offset=0' }),
      );
      out.push(req({ ts: ts + 200, user, target: `/workshop/api/shop/orders/${u * 10 + (i % 3)}` }));
      if (i % 5 === 0) out.push(req({ ts: ts + 300, user, target: '/identity/api/v2/user/dashboard' }));
    }
  }
  return out;
}

test('bola, spec and volume attacks through the route stage and the runtime: each found once, naming its attacker', async () => {
  const events = benign();
  const at = (m: number) => T0 + m * MIN;
  // bola.object_enumeration: a user walks order ids, mostly refused.
  for (let i = 0; i < 100; i++)
    events.push(
      req({
        ts: at(60) + i * 1500,
        user: 'mallory@crapi.test',
        target: `/workshop/api/shop/orders/${5000 + i}`,
        status: i % 4 ? 403 : 200,
      }),
    );
  // bola.cross_principal: another user reads user7's and user8's vehicle locations.
  for (const [i, u] of ['7', '8'].entries())
    events.push(
      req({
        ts: at(150) + i * MIN,
        user: 'eve@crapi.test',
        target: `/identity/api/v2/vehicle/4bae9968-ec7f-4de3-a3a0-00000000000${u}/location`,
      }),
    );
  // spec.zombie_endpoint: the old v2 OTP check (crAPI's brute-force challenge), still answered.
  for (let i = 0; i < 40; i++)
    events.push(
      req({
        ts: at(80) + i * 500,
        method: 'POST',
        ip: '203.0.113.5',
        target: '/identity/api/auth/v2/check-otp',
        status: 500,
      }),
    );
  // spec.unauthenticated_access: the dashboard answers without a token.
  for (let i = 0; i < 4; i++)
    events.push(req({ ts: at(90) + i * 5000, ip: '203.0.113.6', target: '/identity/api/v2/user/dashboard' }));
  // spec.parameter_violation: a fuzzer.
  const fuzz = [
    '/workshop/api/shop/orders/abc',
    '/identity/api/v2/vehicle/not-a-uuid/location',
    '/community/api/v2/community/posts/recent?limit=x',
    '/community/api/v2/community/posts/recent?offset=-',
    '/workshop/api/shop/orders/1%27%20OR%201=1',
  ];
  for (const [i, t] of fuzz.entries()) {
    events.push(req({ ts: at(100) + i * 3000, user: 'fuzzer@crapi.test', target: t, status: 400 }));
  }
  // spec.shadow_endpoint: an internal route nobody documented, used by a job.
  for (let i = 0; i < 15; i++)
    events.push(
      req({
        ts: at(110) + i * 4000,
        user: 'ops-bot@crapi.test',
        target: '/identity/api/v2/internal/export-users',
      }),
    );
  // spec.undocumented_operation: DELETE on the dashboard works.
  for (let i = 0; i < 3; i++)
    events.push(
      req({
        ts: at(120) + i * 1000,
        method: 'DELETE',
        user: 'eve2@crapi.test',
        target: '/identity/api/v2/user/dashboard',
        status: 204,
      }),
    );
  // volume.exfiltration: one user pulls 300 MB of (the same three) videos in five minutes.
  for (let i = 0; i < 150; i++)
    events.push(
      req({
        ts: at(130) + i * 2000,
        user: 'dana@crapi.test',
        target: `/identity/api/v2/user/videos/${i % 3}`,
        bytes: 2_000_000,
      }),
    );
  events.sort((a, b) => a.ts - b.ts);

  // Every event that matched crAPI carries the annotation from the route stage.
  const sample = events.find((e) => e.request.path.includes('/check-otp'))!;
  assert.equal(sample.spec?.deprecated, true);

  // Object ownership (bola.cross_principal) is learned in the store: the history up to two
  // hours in, through the real baseline query.
  const detect = loadConfig(undefined, {}).detect;
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-families-'));
  const store = new ChdbStore(join(dir, 'chdb'));
  let ownership: Awaited<ReturnType<typeof objectOwnership>>;
  try {
    await store.start();
    await store.insertEvents(events.filter((e) => e.ts < at(120)));
    ownership = await objectOwnership(store, { fromMs: T0 - 2 * 24 * 60 * MIN, toMs: at(120) });
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(ownership.table.size >= 40, `${ownership.table.size} objects owned`);
  const snapshot = BaselineSnapshot.empty(fallbacksOf(detect), 2, 1000, ownership.table);
  const engine = new DetectionEngine(detect, { baselines: () => snapshot });
  const findings: Finding[] = events.flatMap((e) => engine.push(e));
  findings.push(...engine.drain(Number.POSITIVE_INFINITY));
  for (const f of findings) assert.ok(findingValidator.check(f), findingValidator.explain(f));

  const mine = findings.filter((f) => ['bola', 'spec', 'volume'].includes(f.family) && f.status === 'firing');
  const got = mine.map((f) => `${f.detector} ${f.entity.id}`).sort();
  assert.deepEqual(
    got,
    [
      'bola.cross_principal eve@crapi.test',
      'bola.object_enumeration mallory@crapi.test',
      'spec.parameter_violation fuzzer@crapi.test',
      'spec.shadow_endpoint GET /identity/api/v2/internal/export-users',
      'spec.undocumented_operation DELETE /identity/api/v2/user/dashboard',
      'spec.unauthenticated_access GET /identity/api/v2/user/dashboard',
      'spec.zombie_endpoint POST /identity/api/auth/v2/check-otp',
      'volume.exfiltration dana@crapi.test',
    ].sort(),
    mine.map((f) => `${f.detector}: ${f.summary}`).join('\n'),
  );
  // Resolved updates carry the episode id of their firing finding.
  for (const r of findings.filter(
    (f) => f.status === 'resolved' && f.family !== 'auth' && f.family !== 'recon',
  ))
    assert.ok(
      mine.some((f) => f.id === r.id),
      `${r.detector} resolved an episode it raised`,
    );
});
