import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crossPrincipal } from './cross-principal.ts';
import { crossTenant } from './cross-tenant.ts';
import { call, DetectorHarness } from './harness.ts';

const T0 = Date.UTC(2026, 10, 3, 10, 0, 0);
const MIN = 60_000;
const route = '/api/v2/vehicle/{vehicleId}/location';
const veh = (id: string) => [{ name: 'vehicleId', value: id }];

/** alice uses her vehicle every 5 minutes for an hour: she is its owner. */
function ownerHistory(user = 'alice', id = 'veh-a-1', tenant: string | null = 'acme') {
  return Array.from({ length: 12 }, (_, i) =>
    call({ ts: T0 + i * 5 * MIN, user, tenant, route, objects: veh(id), auth: 'success' }),
  );
}

test('cross_principal positive: another user reads an object only its owner ever used', () => {
  const h = new DetectorHarness(crossPrincipal);
  h.run(ownerHistory());
  h.run([
    call({
      ts: T0 + 70 * MIN,
      user: 'mallory',
      tenant: 'acme',
      route,
      objects: veh('veh-a-1'),
      auth: 'success',
    }),
  ]);
  const [f, ...rest] = h.firing();
  assert.ok(f);
  assert.equal(rest.length, 0);
  assert.equal(f.entity.kind, 'user');
  assert.equal(f.entity.id, 'mallory');
  assert.equal(f.evidence.details.owner, 'user:alice');
  assert.equal(f.severity, 'medium');
  h.advance(T0 + 5 * 3_600_000);
  assert.equal(h.drafts.filter((d) => d.status === 'resolved').length, 1);
});

test('cross_principal positive: a write from another tenant is critical; an api-key principal counts', () => {
  const h = new DetectorHarness(crossPrincipal);
  h.run(
    Array.from({ length: 6 }, (_, i) =>
      call({
        ts: T0 + i * 10 * MIN,
        credential: 'fp-svc-a',
        credentialKind: 'api_key',
        tenant: 'acme',
        route: '/orders/{orderId}',
        objects: [{ name: 'orderId', value: '5512' }],
        auth: 'success',
      }),
    ),
  );
  h.run([
    call({
      ts: T0 + 2 * 3_600_000,
      method: 'DELETE',
      status: 204,
      user: 'eve',
      tenant: 'globex',
      route: '/orders/{orderId}',
      objects: [{ name: 'orderId', value: '5512' }],
      auth: 'success',
    }),
  ]);
  const f = h.firing()[0];
  assert.ok(f);
  assert.equal(f.severity, 'critical');
  assert.equal(f.evidence.details.crossTenant, true);
});

test('cross_principal negative: a failed (403/404) attempt, an unlearned object, a shared object', () => {
  const h = new DetectorHarness(crossPrincipal);
  h.run(ownerHistory());
  // Refused: the API enforced ownership.
  h.run([
    call({
      ts: T0 + 70 * MIN,
      user: 'mallory',
      route,
      objects: veh('veh-a-1'),
      status: 403,
      auth: 'success',
    }),
  ]);
  // One burst of calls does not make an owner (span < 10 min).
  h.run([
    call({ ts: T0 + 80 * MIN, user: 'bob', route, objects: veh('veh-b-1'), auth: 'success' }),
    call({ ts: T0 + 80 * MIN + 1000, user: 'bob', route, objects: veh('veh-b-1'), auth: 'success' }),
    call({ ts: T0 + 80 * MIN + 2000, user: 'bob', route, objects: veh('veh-b-1'), auth: 'success' }),
    call({ ts: T0 + 81 * MIN, user: 'carol', route, objects: veh('veh-b-1'), auth: 'success' }),
  ]);
  assert.deepEqual(h.firing(), []);
  // A team object used by four people from the start is shared, never judged.
  const team = ['u1', 'u2', 'u3', 'u4'];
  const events = [];
  for (let i = 0; i < 20; i++)
    events.push(
      call({
        ts: T0 + 2 * 3_600_000 + i * 3 * MIN,
        user: team[i % 4]!,
        route: '/boards/{boardId}',
        objects: [{ name: 'boardId', value: 'b1' }],
        auth: 'success',
      }),
    );
  events.push(
    call({
      ts: T0 + 4 * 3_600_000,
      user: 'u5',
      route: '/boards/{boardId}',
      objects: [{ name: 'boardId', value: 'b1' }],
      auth: 'success',
    }),
  );
  h.run(events);
  assert.deepEqual(h.firing(), []);
});

test('cross_principal negative: anonymous and owner-only traffic never fires', () => {
  const h = new DetectorHarness(crossPrincipal);
  h.run(ownerHistory());
  h.run([call({ ts: T0 + 70 * MIN, route, objects: veh('veh-a-1') })]); // anonymous: no principal
  h.run(ownerHistory('alice', 'veh-a-1').map((e) => ({ ...e, ts: e.ts + 2 * 3_600_000, id: `${e.id}x` })));
  assert.deepEqual(h.firing(), []);
});

test('cross_tenant positive: a tenant path parameter that is not the token tenant, 2xx', () => {
  const h = new DetectorHarness(crossTenant);
  h.run([
    call({
      ts: T0,
      user: 'ann',
      tenant: 'acme',
      route: '/tenants/{tenantId}/invoices',
      objects: [{ name: 'tenantId', value: 'acme' }],
    }),
    call({
      ts: T0 + MIN,
      user: 'ann',
      tenant: 'acme',
      route: '/tenants/{tenantId}/invoices',
      objects: [{ name: 'tenantId', value: 'Globex' }],
    }),
    call({
      ts: T0 + 2 * MIN,
      user: 'ann',
      tenant: 'acme',
      route: '/tenants/{tenantId}/invoices',
      objects: [{ name: 'tenantId', value: 'globex' }],
    }),
  ]);
  const [f, ...rest] = h.firing();
  assert.ok(f);
  assert.equal(rest.length, 0, 'one finding per foreign tenant and episode');
  assert.equal(f.entity.id, 'ann');
  assert.equal(f.evidence.details.requestedTenant, 'Globex');
  h.advance(T0 + 3 * 3_600_000);
  assert.equal(h.drafts.filter((d) => d.status === 'resolved').length, 1);
});

test('cross_tenant positive: a learned account parameter (query) reaching another account', () => {
  const h = new DetectorHarness(crossTenant);
  const mk = (ts: number, v: string) =>
    call({
      ts,
      credential: 'fp-k',
      credentialKind: 'api_key',
      tenant: 'AC123',
      route: '/calls',
      path: '/calls',
      objects: [{ name: 'account_id', value: v, in: 'query' }],
    });
  h.run([mk(T0, 'AC123'), mk(T0 + MIN, 'AC999')]);
  assert.equal(h.firing().length, 1);
});

test('cross_tenant negative: refused cross-tenant calls, exempt admins, unlearned account ids, same tenant', () => {
  const h = new DetectorHarness(crossTenant);
  h.run([
    call({
      ts: T0,
      user: 'ann',
      tenant: 'acme',
      route: '/orgs/{org}/users',
      objects: [{ name: 'org', value: 'globex' }],
      status: 403,
    }),
    call({
      ts: T0 + 1,
      user: 'root',
      tenant: 'platform',
      scopes: ['platform:admin'],
      route: '/orgs/{org}/users',
      objects: [{ name: 'org', value: 'globex' }],
    }),
    // Twilio-style: AccountSid never equal to the token tenant name: not comparable.
    call({
      ts: T0 + 2,
      user: 'ann',
      tenant: 'acme',
      route: '/Accounts/{AccountSid}/Calls',
      objects: [{ name: 'AccountSid', value: 'ACdeadbeef' }],
    }),
    call({
      ts: T0 + 3,
      user: 'ann',
      tenant: 'acme',
      route: '/customers/{customer_id}',
      objects: [{ name: 'customer_id', value: '77' }],
    }),
    call({
      ts: T0 + 4,
      user: 'ann',
      tenant: 'ACME',
      route: '/orgs/{org}/users',
      objects: [{ name: 'org', value: 'acme' }],
    }),
    call({
      ts: T0 + 5,
      user: 'ann',
      tenant: null,
      route: '/orgs/{org}/users',
      objects: [{ name: 'org', value: 'globex' }],
    }),
  ]);
  assert.deepEqual(h.firing(), []);
});

test('cross_principal negative: colleagues of one tenant under a tenant-scoped route; tenant ids are never the object', () => {
  const h = new DetectorHarness(crossPrincipal);
  const proj = (user: string, ts: number) =>
    call({
      ts,
      user,
      tenant: 'acme',
      route: '/tenants/{tenantId}/projects/{projectId}',
      objects: [
        { name: 'tenantId', value: 'acme' },
        { name: 'projectId', value: 'p-1' },
      ],
      auth: 'success',
    });
  h.run([
    ...Array.from({ length: 6 }, (_, i) => proj('ann', T0 + i * 5 * MIN)),
    proj('bob', T0 + 2 * 3_600_000),
  ]);
  h.run([
    ...Array.from({ length: 6 }, (_, i) =>
      call({
        ts: T0 + i * 5 * MIN,
        user: 'ann',
        tenant: 'acme',
        route: '/tenants/{tenantId}/projects',
        objects: [{ name: 'tenantId', value: 'acme' }],
        auth: 'success',
      }),
    ),
    call({
      ts: T0 + 3 * 3_600_000,
      user: 'carl',
      tenant: 'acme',
      route: '/tenants/{tenantId}/projects',
      objects: [{ name: 'tenantId', value: 'acme' }],
      auth: 'success',
    }),
  ]);
  assert.deepEqual(h.firing(), []);
});

test('cross_tenant negative: a platform support principal whose own tenant no route addresses', () => {
  const h = new DetectorHarness(crossTenant);
  h.run(
    ['acme', 'globex', 'initech', 'wayne'].map((t, i) =>
      call({
        ts: T0 + i * MIN,
        user: 'support1',
        tenant: 'platform',
        route: '/tenants/{tenantId}/projects',
        objects: [{ name: 'tenantId', value: t }],
      }),
    ),
  );
  assert.deepEqual(h.firing(), []);
});

test('cross_principal negative: a workload (an indexer) reading users’ objects, and users reading what a service wrote', () => {
  const h = new DetectorHarness(crossPrincipal);
  // Three users' vehicles, each learned as owned.
  for (const [user, id] of [
    ['alice', 'veh-a-1'],
    ['bob', 'veh-b-1'],
    ['carol', 'veh-c-1'],
  ] as const)
    h.run(ownerHistory(user, id));
  // The search indexer reads every one of them.
  h.run(
    ['veh-a-1', 'veh-b-1', 'veh-c-1'].map((id, i) =>
      call({
        ts: T0 + 70 * MIN + i * 1000,
        service: 'search-indexer',
        tenant: 'acme',
        route,
        objects: veh(id),
        auth: 'success',
      }),
    ),
  );
  // A service-owned object (a fleet record the sync job keeps) read by a user.
  h.run(
    Array.from({ length: 12 }, (_, i) =>
      call({
        ts: T0 + i * 5 * MIN,
        service: 'fleet-sync',
        tenant: 'acme',
        route,
        objects: veh('veh-fleet-9'),
        auth: 'success',
      }),
    ),
  );
  h.run([
    call({
      ts: T0 + 80 * MIN,
      user: 'dave',
      tenant: 'acme',
      route,
      objects: veh('veh-fleet-9'),
      auth: 'success',
    }),
  ]);
  assert.equal(h.firing().length, 0);
});
