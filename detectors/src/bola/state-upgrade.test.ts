/**
 * States restored from a checkpoint taken before decision 0026's packing still work: each state
 * is put back into its old shape half-way through a stream, and the detector must give the same
 * findings as an uninterrupted run. bola.cross_principal changed its key (decision 0027): its
 * old states are restored through the engine and handled explicitly.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deserialize, serialize } from 'node:v8';
import { type ApiEvent, loadConfig } from '@apiwatch/core';
import { credentialAbuse } from '../auth/credential-abuse.ts';
import { DetectionEngine } from '../runtime/engine.ts';
import { episodeId, fingerprintOf } from '../runtime/envelope.ts';
import { encodeState } from '../runtime/state-codec.ts';
import { LinearCounter } from './common.ts';
import { crossPrincipal } from './cross-principal.ts';
import { call, DetectorHarness, type EmittedDraft } from './harness.ts';
import { objectEnumeration } from './object-enumeration.ts';

const T0 = Date.UTC(2026, 10, 2, 9, 0, 0);
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

// biome-ignore lint/suspicious/noExplicitAny: states of three different detectors, reshaped by hand.
type AnyState = any;

function compare(
  // biome-ignore lint/suspicious/noExplicitAny: any of the three detectors.
  detector: any,
  events: ApiEvent[],
  toOld: (s: AnyState) => void,
): { plain: EmittedDraft[]; upgraded: EmittedDraft[] } {
  const plain = new DetectorHarness(detector);
  plain.run(events);
  const h = new DetectorHarness(detector);
  const half = Math.floor(events.length / 2);
  h.run(events.slice(0, half));
  assert.ok(h.states.size > 0);
  for (const s of h.states.values()) toOld(s);
  h.run(events.slice(half));
  const view = (d: EmittedDraft) => [
    d.status,
    d.key,
    d.firstSeen,
    d.lastSeen,
    d.evidence.observed,
    d.evidence.threshold,
  ];
  assert.deepEqual(h.drafts.map(view), plain.drafts.map(view));
  return { plain: plain.drafts, upgraded: h.drafts };
}

test('object_enumeration: a state with two LinearCounters (cur, prev) and the episode as fields is upgraded', () => {
  const events = Array.from({ length: 120 }, (_, i) =>
    call({
      ts: T0 + i * 30_000,
      user: 'mallory',
      route: '/shop/orders/{order_id}',
      objects: [{ name: 'order_id', value: String(1000 + i) }],
      status: i % 3 === 0 ? 200 : 403,
    }),
  );
  const { plain } = compare(objectEnumeration, events, (s) => {
    // The bitmaps, whether the state holds them or the string of their set bits.
    const bits = s.bits ?? new Uint8Array(256);
    for (const c of s.marks ?? '') bits[c.charCodeAt(0) >>> 3] |= 1 << (c.charCodeAt(0) & 7);
    const cur = new LinearCounter();
    const prev = new LinearCounter();
    cur.bits.set(bits.subarray(0, 128));
    prev.bits.set(bits.subarray(128));
    s.cur = cur;
    s.prev = prev;
    delete s.bits;
    delete s.marks;
    s.samples ??= [];
    s.sampleIds ??= [];
    // The episode as fields.
    const e = s.episode;
    s.open = e !== null;
    s.episodeStart = 0;
    s.lastAbove = e?.lastAbove ?? 0;
    s.peakDistinct = e?.peakDistinct ?? 0;
    s.ref = e?.ref ?? null;
    delete s.episode;
  });
  assert.ok(
    plain.some((d) => d.status !== 'resolved'),
    'the stream raises a finding',
  );
});

test('credential_abuse: a state with known / knownWindow / windowNets arrays is upgraded', () => {
  const use = (ts: number, ip: string) =>
    call({ ts, ip, service: 'acme-billing', credential: 'k1:partner-key', route: '/v1/invoices' });
  const events: ApiEvent[] = [];
  for (let h = 0; h < 72; h++)
    for (let k = 0; k < 10; k++) events.push(use(T0 + h * HOUR + k * 6 * MIN, '198.51.100.10'));
  const start = T0 + 3 * DAY + 10 * MIN;
  ['91.1.1.1', '91.1.1.2', '92.2.2.2', '92.2.2.3', '93.3.3.3', '93.3.3.4'].forEach((ip, i) => {
    events.push(use(start + i * 20_000, ip));
  });
  const { plain } = compare(credentialAbuse, events, (s) => {
    const cap = s.nets.length / 3;
    s.known = Array.from(s.nets.slice(0, s.knownCount), (h: number) => h >>> 0);
    s.knownWindow = Array.from(s.nets.slice(cap, cap + s.knownCount));
    s.windowNets = Array.from(s.nets.slice(2 * cap, 2 * cap + s.windowNetCount), (h: number) => h >>> 0);
    delete s.nets;
    delete s.knownCount;
    delete s.windowNetCount;
  });
  assert.ok(plain.length > 0, 'the stream raises a finding');
});

test('credential_abuse: a state with the networks in an Int32Array (and firstSeen / lastSeen) still works', () => {
  const use = (ts: number, ip: string) =>
    call({ ts, ip, service: 'acme-billing', credential: 'k1:partner-key', route: '/v1/invoices' });
  const events: ApiEvent[] = [];
  for (let h = 0; h < 72; h++)
    for (let k = 0; k < 10; k++) events.push(use(T0 + h * HOUR + k * 6 * MIN, '198.51.100.10'));
  const start = T0 + 3 * DAY + 10 * MIN;
  ['91.1.1.1', '91.1.1.2', '92.2.2.2', '92.2.2.3', '93.3.3.3', '93.3.3.4'].forEach((ip, i) => {
    events.push(use(start + i * 20_000, ip));
  });
  const { plain } = compare(credentialAbuse, events, (s) => {
    s.nets = Int32Array.from(s.nets);
    s.firstSeen = T0;
    s.lastSeen = T0;
  });
  assert.ok(plain.length > 0, 'the stream raises a finding');
});

test('cross_principal: object-keyed states of a checkpoint from before decision 0027 restore; an open episode resolves once', () => {
  // Before 0027 the detector was global (stage 2), keyed by the object. Such a checkpoint holds
  // its object states under the detector id: one with an open episode, one shared, one whose
  // owner is an object (before 0026). Restored into today's engine they never see an event
  // (object keys are not actor keys): the open episode resolves after its quiet time, with the
  // episode's identity, and nothing else is raised.
  const detect = loadConfig(undefined, {}).detect;
  const first = new DetectionEngine(detect);
  const ev = (ts: number) =>
    call({
      ts,
      user: 'alice',
      tenant: 'acme',
      route: '/vehicles/{vehicleId}',
      objects: [{ name: 'vehicleId', value: 'veh-a-1' }],
    });
  first.push(ev(T0));
  const snap = deserialize(first.snapshot('global')) as {
    stores: Array<[string, Array<[string, unknown, number, number, Record<string, unknown>]>]>;
    timers: Array<[number, string, string]>;
  };
  const ref = {
    entity: { kind: 'user', id: 'mallory', name: 'mallory', ref: null },
    route: '/vehicles/{vehicleId}',
    method: 'GET',
    tenant: 'acme',
    firstSeen: T0 - 6 * DAY,
    fingerprintExtra: 'vehicleId',
  };
  const oldConfig = { ownerMinCalls: 3, ownerMinSpanSeconds: 86_400, memoryDays: 35, quietSeconds: 3600 };
  const key = (id: string) => `/vehicles/{vehicleId}\u0000vehicleId\u0000${id}`;
  const wake = T0 + 30 * MIN;
  const old: Array<[string, unknown, number, number, Record<string, unknown>]> = [
    [
      key('veh-open'),
      encodeState({
        owner: 'user:alice',
        ownerTenant: 'acme',
        calls: 6,
        first: T0 - 6 * DAY,
        last: T0 - DAY,
        shared: false,
        open: { accessor: 'user:mallory', last: T0 - 30 * MIN, calls: 2, ref },
      }),
      wake,
      T0 - 30 * MIN,
      oldConfig,
    ],
    [
      key('veh-shared'),
      encodeState({
        owner: 'user:bob',
        ownerTenant: 'acme',
        calls: 3,
        first: 0,
        last: 0,
        shared: true,
        open: null,
      }),
      Number.NaN,
      T0 - DAY,
      oldConfig,
    ],
    [
      key('veh-0025'),
      encodeState({
        owner: { id: 'user:carol', tenant: null, calls: 4, first: 0, last: 0 },
        shared: false,
        open: null,
      }),
      Number.NaN,
      T0 - DAY,
      oldConfig,
    ],
  ];
  snap.stores = snap.stores.filter(([id]) => id !== crossPrincipal.id);
  snap.stores.push([crossPrincipal.id, old]);
  snap.timers.push([wake, crossPrincipal.id, key('veh-open')]);
  const restored = new DetectionEngine(detect);
  restored.restore('global', serialize(snap));
  const out = [...restored.push(ev(T0 + HOUR)), ...restored.drain(T0 + 2 * DAY)].filter(
    (f) => f.detector === crossPrincipal.id,
  );
  assert.equal(out.length, 1, out.map((f) => f.summary).join('\n'));
  const [r] = out;
  assert.equal(r!.status, 'resolved');
  assert.equal(r!.entity.id, 'mallory');
  assert.equal(r!.endedAt, T0 - 30 * MIN);
  assert.equal(r!.evidence.observed, 2);
  // The episode id of the finding the old engine raised: same fingerprint fields, same first seen.
  assert.equal(r!.id, episodeId(fingerprintOf(crossPrincipal, ref as never), ref.firstSeen));
});
