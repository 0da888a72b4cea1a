import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { deserialize, serialize } from 'node:v8';
import { type ApiEvent, buildEvent, loadConfig } from '@apiwatch/core';
import { CappedDistinct } from '../auth/sketch.ts';
import { LinearCounter, TopK } from '../bola/common.ts';
import { DETECTORS } from '../registry.ts';
import { DetectionEngine } from './engine.ts';
import { decodeState, encodeState } from './state-codec.ts';

const roundTrip = (state: unknown) => decodeState(deserialize(serialize(encodeState(state))));

describe('detector state through a checkpoint', () => {
  test('registered classes come back with their methods, inside Maps, Sets and arrays', () => {
    const accounts = new CappedDistinct(4, 5);
    for (let h = 1; h <= 40; h++) accounts.add(h * 2654435761);
    const small = new CappedDistinct(16);
    small.add(7);
    const seen = new LinearCounter(32);
    for (let h = 0; h < 50; h++) seen.add(h * 40503);
    const top = new TopK(3);
    for (const k of ['a', 'b', 'a', 'c', 'a', 'd']) top.add(k);
    const state = {
      accounts,
      byRoute: new Map([['GET /x', { small, n: 3 }]]),
      list: [seen],
      tags: new Set(['x']),
      top,
      bytes: new Uint8Array([1, 2, 3]),
    };
    const back = roundTrip(state) as typeof state;
    assert.ok(back.accounts instanceof CappedDistinct);
    assert.equal(back.accounts.count, accounts.count);
    assert.equal(back.accounts.add(1 * 2654435761), accounts.add(1 * 2654435761));
    const restoredSmall = back.byRoute.get('GET /x')!.small;
    assert.ok(restoredSmall instanceof CappedDistinct);
    assert.equal(restoredSmall.has(7), true);
    assert.equal(restoredSmall.add(8), true);
    assert.equal(restoredSmall.count, 2);
    assert.ok(back.list[0] instanceof LinearCounter);
    assert.equal(back.list[0]!.estimate(), seen.estimate());
    assert.ok(back.top instanceof TopK);
    assert.deepEqual(back.top.top(), top.top());
    assert.deepEqual([...back.tags], ['x']);
    assert.deepEqual([...back.bytes], [1, 2, 3]);
  });

  test('an instance of an unregistered class fails the snapshot, naming the class', () => {
    class Unknown {
      n = 1;
    }
    assert.throws(() => encodeState({ x: [new Unknown()] }), /Unknown instance.*registerStateClass/);
  });

  test('every built-in detector: a lane restored mid-stream continues exactly as one never stopped', () => {
    const events = workload();
    const whole = runAll(new DetectionEngine(detect(), {}), events);
    const raised = new Set(whole.map((f) => f.detector));
    // The workload reaches detectors whose state holds sketches and counters.
    for (const id of ['auth.credential_stuffing', 'auth.brute_force', 'bola.object_enumeration'])
      assert.ok(raised.has(id), `${id} raised on the uninterrupted run`);
    for (const cut of [Math.floor(events.length / 3), Math.floor((events.length * 2) / 3)]) {
      const a = new DetectionEngine(detect(), {});
      const before = events.slice(0, cut).flatMap((e) => a.push(e));
      // Actor-scoped detectors live in the partition's lane, global ones (stuffing, spraying,
      // route volume) in the local-mode global lane: both are snapshotted.
      const lane = a.snapshot(0);
      const global = a.snapshot('global');
      const b = new DetectionEngine(detect(), {});
      b.restore(0, lane);
      b.restore('global', global);
      const after = events.slice(cut).flatMap((e) => b.push(e));
      after.push(...b.drain(END));
      assert.deepEqual([...before, ...after], whole, `cut at event ${cut}`);
      const errors = b.stats().filter((s) => s.errors > 0);
      assert.deepEqual(
        errors.map((s) => s.id),
        [],
        'no detector threw on its restored state',
      );
    }
  });
});

function detect() {
  return { ...loadConfig(undefined, {}).detect, idleWatermarkMs: 0 };
}

function runAll(e: DetectionEngine, events: ApiEvent[]) {
  const out = events.flatMap((x) => e.push(x));
  out.push(...e.drain(END));
  assert.ok(DETECTORS.length > 20);
  return out;
}

const T0 = Date.UTC(2026, 2, 2, 9, 0, 0);
/** Two hours past the last event: every quiet period has passed, every open episode resolves. */
const END = T0 + 1_800_000 + 7_200_000;

/** Ordinary sign-ins and order reads, a credential stuffer, a brute forcer and an id walker. */
function workload(): ApiEvent[] {
  const out: ApiEvent[] = [];
  let i = 0;
  const add = (ms: number, d: Partial<Parameters<typeof buildEvent>[0]>) =>
    out.push(
      buildEvent({
        ts: T0 + ms,
        method: 'GET',
        path: '/',
        status: 200,
        sourceKind: 'test',
        raw: `${i++}`,
        ...d,
      }),
    );
  for (let s = 0; s < 1800; s++) {
    const u = s % 40;
    add(s * 1000, {
      method: 'POST',
      path: '/api/login',
      route: '/api/login',
      status: s % 23 === 0 ? 401 : 200,
      clientIp: `198.51.100.${u}`,
      user: `user${u}@example.com`,
      credentialKind: 'basic',
    });
  }
  // Stuffing: one source, a new account each try, spread over the cut points.
  for (let k = 0; k < 120; k++)
    add(300_000 + k * 7000, {
      method: 'POST',
      path: '/api/login',
      route: '/api/login',
      status: 401,
      clientIp: '203.0.113.50',
      user: `victim${k}@mail.example`,
      credentialKind: 'basic',
      userAgent: 'python-requests/2.31',
    });
  // Brute force on one account.
  for (let k = 0; k < 30; k++)
    add(900_000 + k * 1500, {
      method: 'POST',
      path: '/api/login',
      route: '/api/login',
      status: 401,
      clientIp: '203.0.113.66',
      user: 'admin',
      credentialKind: 'basic',
    });
  // An id walk over order objects by one signed-in user.
  for (let k = 0; k < 400; k++) {
    const e = {
      path: `/api/orders/${50_000 + k}`,
      route: '/api/orders/{id}',
      status: k % 4 === 0 ? 404 : 200,
      clientIp: '192.0.2.17',
      user: 'user-1007',
      credentialKind: 'jwt' as const,
      credentialFingerprint: 'fp-user-1007',
    };
    add(200_000 + k * 3500, e);
    out[out.length - 1]!.objects = [{ name: 'id', value: String(50_000 + k), in: 'path' }];
  }
  return out.sort((a, b) => a.ts - b.ts);
}
