import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crossPrincipal } from './cross-principal.ts';
import { type CallSpec, call, DetectorHarness } from './harness.ts';

const T0 = Date.UTC(2026, 10, 3, 10, 0, 0);
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const route = '/api/v2/vehicle/{vehicleId}/location';
const veh = (id: string) => [{ name: 'vehicleId', value: id }];

/** alice uses her vehicle every 5 hours for 2.5 days: she is its owner. */
function ownerHistory(user = 'alice', id = 'veh-a-1', tenant: string | null = 'acme') {
  return Array.from({ length: 12 }, (_, i) =>
    call({ ts: T0 + i * 5 * HOUR, user, tenant, route, objects: veh(id), auth: 'success' }),
  );
}
/** After every owner history. */
const T1 = T0 + 3 * DAY;

const read = (ts: number, user: string, id = 'veh-a-1', over: Partial<CallSpec> = {}) =>
  call({ ts, user, tenant: 'acme', route, objects: veh(id), auth: 'success', ...over });

test('cross_principal positive: another user reads an object only its owner ever used', () => {
  const h = new DetectorHarness(crossPrincipal);
  h.run(ownerHistory());
  h.run([read(T1, 'mallory'), read(T1 + MIN, 'mallory')]);
  const [f, ...rest] = h.firing();
  assert.ok(f);
  assert.equal(rest.length, 0, 'one finding per episode');
  assert.equal(f.entity.kind, 'user');
  assert.equal(f.entity.id, 'mallory');
  assert.equal(f.evidence.details.owner, 'user:alice');
  assert.equal(f.evidence.counts.ownerCalls, 12);
  assert.equal(f.severity, 'medium');
  h.advance(T1 + 5 * HOUR);
  const resolved = h.drafts.filter((d) => d.status === 'resolved');
  assert.equal(resolved.length, 1);
  assert.equal(resolved[0]!.evidence.observed, 2);
  // Reported once: afterwards the object has two users and is not judged again.
  h.run([read(T1 + DAY, 'mallory'), read(T1 + DAY + MIN, 'trent')]);
  assert.equal(h.firing().length, 1);
});

test('cross_principal positive: a write from another tenant is critical; an api-key principal owns', () => {
  const h = new DetectorHarness(crossPrincipal);
  const order = { route: '/orders/{orderId}', objects: [{ name: 'orderId', value: '5512' }] };
  h.run(
    Array.from({ length: 6 }, (_, i) =>
      call({
        ts: T0 + i * 6 * HOUR,
        credential: 'fp-key-a',
        credentialKind: 'api_key',
        tenant: 'acme',
        auth: 'success',
        ...order,
      }),
    ),
  );
  h.run([
    call({ ts: T1, method: 'DELETE', status: 204, user: 'eve', tenant: 'globex', auth: 'success', ...order }),
  ]);
  const f = h.firing()[0];
  assert.ok(f);
  assert.equal(f.severity, 'critical');
  assert.equal(f.evidence.details.crossTenant, true);
  assert.equal(f.evidence.details.owner, 'credential:fp-key-a');
});

test('cross_principal positive: a project of one tenant reached through another tenant’s path (id swapped under one’s own tenant)', () => {
  const h = new DetectorHarness(crossPrincipal);
  const proj = (ts: number, user: string, tenant: string) =>
    call({
      ts,
      user,
      tenant,
      route: '/tenants/{tenantId}/projects/{projectId}',
      objects: [
        { name: 'tenantId', value: tenant },
        { name: 'projectId', value: 'p-umb-7' },
      ],
      auth: 'success',
    });
  h.run(['ann', 'bob', 'ann', 'cid'].map((u, i) => proj(T0 + i * 10 * HOUR, u, 'umbrella')));
  h.run([proj(T1, 'eve', 'acme')]);
  const [f, ...rest] = h.firing();
  assert.ok(f);
  assert.equal(rest.length, 0);
  assert.equal(f.entity.id, 'eve');
  assert.equal(f.evidence.details.owner, 'tenant:umbrella');
  assert.equal(f.severity, 'critical');
});

test('cross_principal negative: refusals, one burst is no ownership, anonymous calls, the owner’s own calls', () => {
  const h = new DetectorHarness(crossPrincipal);
  h.run(ownerHistory());
  // Refused: the API enforced ownership.
  h.run([read(T1, 'mallory', 'veh-a-1', { status: 403 })]);
  // Anonymous: no principal. The owner again.
  h.run([call({ ts: T1 + MIN, route, objects: veh('veh-a-1') }), read(T1 + 2 * MIN, 'alice')]);
  // An enumerator reads bob's vehicle a dozen times in one hour: that is no ownership, and bob
  // (its real owner) using it the next day is not foreign access.
  h.run(Array.from({ length: 12 }, (_, i) => read(T1 + i * 5 * MIN, 'scraper', 'veh-b-1')));
  h.run([read(T1 + DAY, 'bob', 'veh-b-1')]);
  assert.deepEqual(h.firing(), []);
});

test('cross_principal negative: an object two principals use is shared — a third, later, is not judged', () => {
  const h = new DetectorHarness(crossPrincipal);
  const doc = (ts: number, user: string) =>
    call({
      ts,
      user,
      tenant: 'acme',
      route: '/documents/{documentId}',
      objects: [{ name: 'documentId', value: 'd-team-1' }],
      auth: 'success',
    });
  // ann and bob both read the team document from its first days, for two weeks.
  h.run(Array.from({ length: 14 }, (_, i) => doc(T0 + i * DAY, i % 3 === 2 ? 'bob' : 'ann')));
  // carol joins the team.
  h.run([doc(T0 + 15 * DAY, 'carol')]);
  assert.deepEqual(h.firing(), []);
  assert.equal(h.states.size, 1);
  assert.ok(h.sizeOf([...h.states.keys()][0]!) < 1024);
});

test('cross_principal negative: colleagues under a tenant-scoped route; support staff of another tenant in that tenant’s path are cross_tenant’s', () => {
  const h = new DetectorHarness(crossPrincipal);
  const proj = (ts: number, user: string, tokenTenant: string, pathTenant = 'acme') =>
    call({
      ts,
      user,
      tenant: tokenTenant,
      route: '/tenants/{tenantId}/projects/{projectId}',
      objects: [
        { name: 'tenantId', value: pathTenant },
        { name: 'projectId', value: 'p-1' },
      ],
      auth: 'success',
    });
  // Support (token tenant `platform`) reads acme's project every few hours through acme's path:
  // the object is acme's, whoever reads it (the token/path mismatch is cross_tenant's).
  h.run(Array.from({ length: 8 }, (_, i) => proj(T0 + i * 8 * HOUR, 'support1', 'platform')));
  h.run([
    ...Array.from({ length: 6 }, (_, i) => proj(T0 + i * 10 * HOUR, 'ann', 'acme')),
    proj(T1, 'bob', 'acme'),
    proj(T1 + HOUR, 'support2', 'platform'),
  ]);
  // A list route addressed only by its tenant has no object.
  h.run([
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

test('cross_principal negative: a workload (an indexer) reading users’ objects, and users reading what a service wrote', () => {
  const h = new DetectorHarness(crossPrincipal);
  for (const [user, id] of [
    ['alice', 'veh-a-1'],
    ['bob', 'veh-b-1'],
    ['carol', 'veh-c-1'],
  ] as const)
    h.run(ownerHistory(user, id));
  // The search indexer reads every one of them — and does not make them shared.
  h.run(
    ['veh-a-1', 'veh-b-1', 'veh-c-1'].map((id, i) =>
      read(T1 + i * 1000, '', id, { user: null, service: 'search-indexer' }),
    ),
  );
  // A fleet record the sync job keeps, read by a user (the user is its first principal).
  h.run(
    Array.from({ length: 12 }, (_, i) =>
      read(T0 + i * 5 * HOUR, '', 'veh-fleet-9', { user: null, service: 'fleet-sync' }),
    ),
  );
  h.run([read(T1 + HOUR, 'dave', 'veh-fleet-9')]);
  assert.equal(h.firing().length, 0);
  // The indexer did not make alice's vehicle shared: mallory reading it is still found.
  h.run([read(T1 + 2 * HOUR, 'mallory')]);
  assert.equal(h.firing().length, 1);
});
