import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crossTenant } from './cross-tenant.ts';
import { call, DetectorHarness } from './harness.ts';

const T0 = Date.UTC(2026, 10, 3, 10, 0, 0);
const MIN = 60_000;

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
