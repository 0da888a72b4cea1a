/**
 * bola.cross_principal against ownership learned by the real baseline: each test's history goes
 * into one embedded store (chDB), the refresher reads it as of the test's time, and the detector
 * runs on the calls after it with that snapshot — as replay and detect do.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ApiEvent, actorKey, ChdbStore, type Finding, loadConfig } from '@apiwatch/core';
import { BaselineRefresher, type BaselineSnapshot } from '../baselines/index.ts';
import { DetectionEngine } from '../runtime/engine.ts';
import { fnv1a } from './common.ts';
import { crossPrincipal } from './cross-principal.ts';
import { type CallSpec, call, DetectorHarness } from './harness.ts';

const T0 = Date.UTC(2026, 10, 3, 10, 0, 0);
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** After every owner history. */
const T1 = T0 + 3 * DAY;
const VEHICLE = '/api/v2/vehicle/{vehicleId}/location';
const DOC = '/documents/{documentId}';
const DOWNLOAD = '/documents/{documentId}/download';
const PROJECT = '/tenants/{tenantId}/projects/{projectId}';

const on =
  (route: string, name: string) =>
  (ts: number, user: string | null, id: string, over: Partial<CallSpec> = {}) =>
    call({ ts, user, tenant: 'acme', route, objects: [{ name, value: id }], auth: 'success', ...over });
const veh = on(VEHICLE, 'vehicleId');
const doc = on(DOC, 'documentId');
const download = on(DOWNLOAD, 'documentId');
const proj = (ts: number, user: string, tokenTenant: string, pathTenant: string, id: string) =>
  call({
    ts,
    user,
    tenant: tokenTenant,
    route: PROJECT,
    objects: [
      { name: 'tenantId', value: pathTenant },
      { name: 'projectId', value: id },
    ],
    auth: 'success',
  });

/** `user` uses `id` every 5 hours for 2.5 days: its owner. */
const owns = (user: string, id: string, f = veh, over: Partial<CallSpec> = {}) =>
  Array.from({ length: 12 }, (_, i) => f(T0 + i * 5 * HOUR, user, id, over));

const FALLBACK = {
  seasonal: { requestsPerHour: { median: 100, mad: 50 }, actorsPerHour: { median: 10, mad: 5 } },
  objects: { p50: 2, p95: 10, p99: 20 },
  authFailureRate: 0.05,
};

describe('bola.cross_principal', () => {
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-cross-principal-'));
  const store = new ChdbStore(dir);
  const history: ApiEvent[] = [
    // alice's vehicles and documents, bob's and carol's vehicles.
    ...['veh-a-1', 'veh-a-2', 'veh-a-3'].flatMap((id) => owns('alice', id)),
    ...owns('bob', 'veh-b-1'),
    ...owns('carol', 'veh-c-1'),
    ...['doc-a-1', 'doc-a-2', 'doc-a-3'].flatMap((id) => owns('alice', id, doc)),
    // A team document only ann opened for weeks; two ann and bob both read.
    ...owns('ann', 'doc-team-1', doc),
    ...Array.from({ length: 14 }, (_, i) =>
      doc(T0 - 14 * DAY + i * DAY, i % 3 === 2 ? 'bob' : 'ann', 'doc-team-2'),
    ),
    ...Array.from({ length: 14 }, (_, i) =>
      doc(T0 - 14 * DAY + i * DAY, i % 2 ? 'bob' : 'ann', 'doc-team-3'),
    ),
    // An api-key principal's orders (tenant acme).
    ...['5512', '5513'].flatMap((id) =>
      owns('', id, on('/orders/{orderId}', 'orderId'), {
        user: null,
        credential: 'fp-key-a',
        credentialKind: 'api_key',
      }),
    ),
    // umbrella's project, used by its colleagues under umbrella's path; acme's project, read by
    // acme's colleagues and by support staff (token tenant `platform`) through acme's path.
    ...['ann', 'bob', 'ann', 'cid'].map((u, i) =>
      proj(T0 + i * 10 * HOUR, u, 'umbrella', 'umbrella', 'p-umb-7'),
    ),
    ...Array.from({ length: 8 }, (_, i) =>
      proj(T0 + i * 8 * HOUR, 'support1', 'platform', 'acme', 'p-acme-1'),
    ),
    ...Array.from({ length: 6 }, (_, i) => proj(T0 + i * 10 * HOUR, 'ann', 'acme', 'acme', 'p-acme-1')),
    // An enumerator reads dave's vehicle a dozen times in one hour (no ownership), then dave.
    ...Array.from({ length: 12 }, (_, i) => veh(T0 + i * 5 * MIN, 'scraper', 'veh-d-1')),
    ...Array.from({ length: 4 }, (_, i) => veh(T0 + DAY + i * 5 * HOUR, 'dave', 'veh-d-1')),
    // The search indexer reads everyone's vehicles (and makes none shared); a fleet record the
    // sync job keeps.
    ...['veh-a-1', 'veh-b-1', 'veh-c-1'].map((id, i) =>
      veh(T0 + DAY + i * 1000, null, id, { service: 'search-indexer' }),
    ),
    ...owns('', 'veh-fleet-9', veh, { user: null, service: 'fleet-sync' }),
    // Refused calls are the API enforcing ownership: they do not make an object shared.
    veh(T0 + 2 * DAY, 'mallory', 'veh-c-1', { status: 403 }),
  ];
  let snapshot: BaselineSnapshot;

  /** The baselines as a refresh at `at` reads them (the history up to its last whole hour). */
  async function baselinesAt(at: number): Promise<BaselineSnapshot> {
    const r = new BaselineRefresher({ store, fallback: FALLBACK, now: () => at });
    await r.flush();
    await r.close();
    return r.snapshot();
  }
  const harness = (config = {}, baselines = snapshot) =>
    new DetectorHarness(crossPrincipal, { baselines, config });

  before(async () => {
    await store.start();
    await store.insertEvents(history);
    snapshot = await baselinesAt(T1);
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('positive: another user of the tenant reads three private documents of one owner', () => {
    const h = harness();
    h.run([
      doc(T1, 'mallory', 'doc-a-1'),
      download(T1 + 3000, 'mallory', 'doc-a-1'),
      doc(T1 + 9 * MIN, 'mallory', 'doc-a-2'),
      doc(T1 + 20 * MIN, 'mallory', 'doc-a-3'),
    ]);
    const [f, ...rest] = h.firing();
    assert.ok(f, 'found');
    assert.equal(rest.length, 0, 'one finding per episode');
    assert.equal(f.entity.kind, 'user');
    assert.equal(f.entity.id, 'mallory');
    assert.equal(f.at, T1 + 9 * MIN, 'on the second document: a document and its download are one object');
    assert.equal(f.firstSeen, T1);
    assert.equal(f.evidence.observed, 2);
    assert.equal(f.evidence.threshold, 2);
    assert.equal(f.evidence.details.owner, 'user:alice');
    assert.equal(f.evidence.details.ownerTenant, 'acme');
    assert.equal(f.evidence.counts.ownerCalls, 12);
    assert.equal(f.severity, 'medium');
    h.advance(T1 + 5 * HOUR);
    const resolved = h.drafts.filter((d) => d.status === 'resolved');
    assert.equal(resolved.length, 1);
    assert.equal(
      resolved[0]!.evidence.observed,
      3,
      'the download repeats an object the episode already counts',
    );
    assert.ok(h.sizeOf([...h.states.keys()][0]!) < 1024);
  });

  it('negative: one colleague reading one team document that only another colleague read for weeks', () => {
    const h = harness();
    h.run([
      doc(T1, 'bob', 'doc-team-1'),
      download(T1 + 3000, 'bob', 'doc-team-1'),
      doc(T1 + 40 * MIN, 'bob', 'doc-team-1'),
      // Two documents several colleagues use are shared, not others' objects.
      doc(T1 + 10 * MIN, 'bob', 'doc-team-2'),
      doc(T1 + 11 * MIN, 'carol', 'doc-team-3'),
      doc(T1 + 12 * MIN, 'carol', 'doc-team-2'),
      // The owners' own calls.
      doc(T1 + 13 * MIN, 'ann', 'doc-team-1'),
      veh(T1 + 14 * MIN, 'alice', 'veh-a-1'),
    ]);
    assert.deepEqual(h.firing(), []);
  });

  it('negative: two objects of others hours apart are not one episode (windowSeconds)', () => {
    const h = harness();
    h.run([veh(T1, 'trent', 'veh-a-1'), veh(T1 + 2 * HOUR, 'trent', 'veh-b-1')]);
    assert.deepEqual(h.firing(), []);
    const wide = harness({ windowSeconds: 3 * 3600 });
    wide.run([veh(T1, 'trent', 'veh-a-1'), veh(T1 + 2 * HOUR, 'trent', 'veh-b-1')]);
    assert.equal(wide.firing().length, 1);
  });

  it('positive: a write from another tenant is critical on its own; an api-key principal owns', () => {
    const h = harness();
    h.run([
      call({
        ts: T1,
        method: 'DELETE',
        status: 204,
        user: 'eve',
        tenant: 'globex',
        auth: 'success',
        route: '/orders/{orderId}',
        objects: [{ name: 'orderId', value: '5512' }],
      }),
    ]);
    const f = h.firing()[0];
    assert.ok(f);
    assert.equal(f.severity, 'critical');
    assert.equal(f.evidence.details.crossTenant, true);
    assert.equal(f.evidence.details.corroborated, false);
    assert.equal(f.evidence.details.owner, 'credential:fp-key-a');
    // Without crossTenantAlone, one object of another tenant waits for a second.
    const strict = harness({ crossTenantAlone: false });
    strict.run([veh(T1, 'eve', 'veh-a-1', { tenant: 'globex' })]);
    assert.deepEqual(strict.firing(), []);
    strict.run([veh(T1 + MIN, 'eve', 'veh-a-2', { tenant: 'globex' })]);
    assert.equal(strict.firing()[0]?.severity, 'critical');
  });

  it('positive: a project of one tenant reached through another tenant’s path (the id swapped under one’s own tenant)', () => {
    const h = harness();
    h.run([proj(T1, 'eve', 'acme', 'acme', 'p-umb-7')]);
    const [f, ...rest] = h.firing();
    assert.ok(f);
    assert.equal(rest.length, 0);
    assert.equal(f.entity.id, 'eve');
    assert.equal(f.evidence.details.owner, 'tenant:umbrella');
    assert.equal(f.severity, 'critical');
  });

  it('negative: colleagues under a tenant-scoped route; support staff in that tenant’s path are cross_tenant’s', () => {
    const h = harness();
    h.run([
      proj(T1, 'bob', 'acme', 'acme', 'p-acme-1'),
      proj(T1 + MIN, 'support2', 'platform', 'acme', 'p-acme-1'),
      proj(T1 + 2 * MIN, 'cid', 'umbrella', 'umbrella', 'p-umb-7'),
      // A list route addressed only by its tenant has no object.
      call({
        ts: T1,
        user: 'carl',
        tenant: 'acme',
        route: '/tenants/{tenantId}/projects',
        objects: [{ name: 'tenantId', value: 'acme' }],
        auth: 'success',
      }),
    ]);
    assert.deepEqual(h.firing(), []);
  });

  it('negative: refusals, anonymous calls, a burst is no ownership, workloads and what they wrote', () => {
    const h = harness();
    h.run([
      veh(T1, 'mallory', 'veh-a-1', { status: 403 }),
      veh(T1 + MIN, 'mallory', 'veh-a-2', { status: 404 }),
      veh(T1 + 2 * MIN, null, 'veh-a-1'),
      veh(T1 + 3 * MIN, null, 'veh-a-2'),
      // veh-d-1: the scraper's burst owns nothing, and made it two principals' (shared).
      veh(T1 + 4 * MIN, 'erin', 'veh-d-1'),
      // The sync job's fleet record: services own nothing.
      veh(T1 + 5 * MIN, 'erin', 'veh-fleet-9'),
      // The indexer reading everyone's vehicles is not judged.
      veh(T1 + 6 * MIN, null, 'veh-a-3', { service: 'search-indexer' }),
      veh(T1 + 7 * MIN, null, 'veh-c-1', { service: 'search-indexer' }),
    ]);
    assert.deepEqual(h.firing(), []);
    // The indexer and mallory's refusal made nothing shared: bob's and carol's vehicles read
    // by mallory are found.
    h.run([veh(T1 + HOUR, 'mallory', 'veh-b-1'), veh(T1 + HOUR + MIN, 'mallory', 'veh-c-1')]);
    assert.equal(h.firing().length, 1);
    assert.equal(h.firing()[0]!.evidence.details.owner, 'user:carol');
  });

  it('no ownership baseline (no store, cold start): nothing is judged', () => {
    const h = new DetectorHarness(crossPrincipal);
    h.run([
      doc(T1, 'mallory', 'doc-a-1'),
      doc(T1 + MIN, 'mallory', 'doc-a-2'),
      doc(T1 + 2 * MIN, 'mallory', 'doc-a-3'),
    ]);
    assert.deepEqual(h.firing(), []);
  });

  it('reported once: after an episode the next refresh sees the objects as two principals’ (shared)', async () => {
    const episode = [veh(T1 + HOUR, 'oscar', 'veh-a-2'), veh(T1 + HOUR + 2 * MIN, 'oscar', 'veh-a-3')];
    const h = harness();
    h.run(episode);
    assert.equal(h.firing().length, 1);
    await store.insertEvents(episode);
    const later = harness({}, await baselinesAt(T1 + DAY));
    later.run([veh(T1 + DAY + HOUR, 'oscar', 'veh-a-2'), veh(T1 + DAY + HOUR + MIN, 'oscar', 'veh-a-3')]);
    assert.deepEqual(later.firing(), []);
  });

  it('two instances (events split by actor, as the events topic is) raise exactly the findings of one', () => {
    const detect = loadConfig(undefined, {}).detect;
    const events = [
      doc(T1, 'mallory', 'doc-a-1'),
      doc(T1 + 4 * MIN, 'mallory', 'doc-a-2'),
      veh(T1 + 5 * MIN, 'trent', 'veh-a-1'),
      veh(T1 + 6 * MIN, 'trent', 'veh-b-1'),
      veh(T1 + 7 * MIN, 'eve', 'veh-c-1', { tenant: 'globex' }),
      doc(T1 + 8 * MIN, 'bob', 'doc-team-1'),
      veh(T1 + 9 * MIN, 'alice', 'veh-a-1'),
      veh(T1 + 10 * MIN, 'bob', 'veh-b-1'),
    ];
    const run = (engines: DetectionEngine[]) => {
      const out: Finding[] = [];
      for (const e of events) out.push(...engines[fnv1a(actorKey(e)) % engines.length]!.push(e));
      for (const en of engines) out.push(...en.drain(Number.POSITIVE_INFINITY));
      return out
        .filter((f) => f.detector === crossPrincipal.id)
        .map((f) => `${f.id} ${f.status} ${f.entity.id} ${f.detectedAt}`)
        .sort();
    };
    const engine = () => new DetectionEngine(detect, { baselines: () => snapshot });
    const one = run([engine()]);
    assert.equal(one.filter((f) => f.includes(' firing ')).length, 3, one.join('\n'));
    assert.deepEqual(run([engine(), engine()]), one);
    assert.deepEqual(run([engine(), engine(), engine()]), one);
  });
});
