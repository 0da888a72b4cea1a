import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ApiEvent, ChdbStore } from '@apiwatch/core';
import { isTenantParam } from '../bola/cross-tenant.ts';
import { call } from '../bola/harness.ts';
import { OwnershipTable, objectHash, objectOwnership, TENANT_PARAM_RE2 } from './ownership.ts';
import { HOUR_MS } from './types.ts';

const T0 = Date.UTC(2026, 10, 2, 9, 0, 0);
const DAY = 24 * HOUR_MS;
const DOC = '/v1/documents/{documentId}';
const PROJECT = '/tenants/{tenantId}/projects/{projectId}';

describe('object ownership from the store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-ownership-'));
  const store = new ChdbStore(dir);
  const doc = (ts: number, user: string | null, id: string, over: Partial<Parameters<typeof call>[0]> = {}) =>
    call({ ts, user, tenant: 'acme', route: DOC, objects: [{ name: 'documentId', value: id }], ...over });
  const events: ApiEvent[] = [];
  for (const d of [0, 1, 2]) {
    // d-private: alice alone, over two days (a service's backup reads and bob's refusals do not count).
    events.push(doc(T0 + d * DAY, 'alice', 'd-private'));
    events.push(doc(T0 + d * DAY + 1000, null, 'd-private', { service: 'backup' }));
    events.push(doc(T0 + d * DAY + 2000, 'bob', 'd-private', { status: 403 }));
    // d-shared: alice and bob.
    events.push(doc(T0 + d * DAY, d === 1 ? 'bob' : 'alice', 'd-shared'));
    // A project under tenant acme's path, read by two colleagues: the tenant owns it.
    events.push(
      call({
        ts: T0 + d * DAY,
        user: d === 1 ? 'bob' : 'alice',
        tenant: 'acme',
        route: PROJECT,
        objects: [
          { name: 'tenantId', value: 'Acme' },
          { name: 'projectId', value: 'p1' },
        ],
      }),
    );
    // The primary object is the last path id, else the first query id.
    events.push(
      call({
        ts: T0 + d * DAY,
        user: 'carol',
        tenant: 'initech',
        route: '/v1/reports',
        objects: [
          { name: 'tenant', value: 'initech', in: 'query' },
          { name: 'reportId', value: 'r9', in: 'query' },
        ],
      }),
    );
  }
  // d-once: one call only.
  events.push(doc(T0, 'alice', 'd-once'));

  before(async () => {
    await store.start();
    await store.insertEvents(events);
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the objects one owner used over the window, and nothing else', async () => {
    const r = await objectOwnership(store, { fromMs: T0 - DAY, toMs: T0 + 4 * DAY });
    const t = r.table;
    assert.deepEqual(t.lookup(DOC, 'documentId', 'd-private'), {
      owner: 'user:alice',
      ownerTenant: 'acme',
      calls: 3,
      first: Math.floor(T0 / 1000) * 1000,
      last: Math.floor((T0 + 2 * DAY) / 1000) * 1000,
    });
    assert.equal(t.lookup(DOC, 'documentId', 'd-shared'), null, 'two owners: shared');
    assert.equal(t.lookup(DOC, 'documentId', 'd-once'), null, 'one call is no habit');
    assert.equal(t.lookup(PROJECT, 'projectId', 'p1')?.owner, 'tenant:acme');
    assert.equal(t.lookup(PROJECT, 'projectId', 'p1')?.ownerTenant, 'acme');
    assert.equal(t.lookup('/v1/reports', 'reportId', 'r9')?.owner, 'tenant:initech');
    assert.equal(t.size, 3);
    assert.deepEqual(r.keys, { found: 3, kept: 3, dropped: 0 });
  });

  it('keeps the most recently used objects under the cap and reads only the window', async () => {
    const capped = await objectOwnership(store, { fromMs: T0 - DAY, toMs: T0 + 4 * DAY, maxObjects: 1 });
    assert.deepEqual(capped.keys, { found: 3, kept: 1, dropped: 2 });
    // Up to the start of day 2 alice's document spans a day: still hers; bob's refusal never counted.
    const early = await objectOwnership(store, { fromMs: T0 - DAY, toMs: T0 + DAY + HOUR_MS });
    assert.equal(early.table.lookup(DOC, 'documentId', 'd-private')?.calls, 2);
    // d-shared: alice's call, then bob's a day later: shared already.
    assert.equal(early.table.lookup(DOC, 'documentId', 'd-shared'), null);
  });
});

describe('OwnershipTable', () => {
  it('finds every object it holds and none it does not, and drops colliding hashes', () => {
    const rows = Array.from({ length: 5000 }, (_, i) => ({
      route: DOC,
      name: 'documentId',
      value: `doc-${i}`,
      owner: `user:u${i % 97}`,
      ownerTenant: i % 2 ? 'acme' : null,
      calls: 3 + (i % 5),
      first: T0,
      last: T0 + DAY,
    }));
    const t = new OwnershipTable(rows);
    assert.equal(t.size, 5000);
    for (const r of rows) {
      const o = t.lookup(r.route, r.name, r.value);
      assert.equal(o?.owner, r.owner);
      assert.equal(o?.ownerTenant, r.ownerTenant);
      assert.equal(o?.calls, r.calls);
    }
    assert.equal(t.lookup(DOC, 'documentId', 'doc-5000'), null);
    assert.equal(t.lookup('/v2/documents/{documentId}', 'documentId', 'doc-1'), null);
    // 194 owners: 97 principals, each seen with and without a tenant.
    assert.ok(t.bytes < 5000 * 24 + 194 * 64, `${t.bytes} B`);
    const twice = new OwnershipTable([rows[0]!, { ...rows[0]!, owner: 'user:other' }, rows[1]!]);
    assert.equal(twice.lookup(DOC, 'documentId', 'doc-0'), null, 'a collision makes both unknown');
    assert.equal(twice.lookup(DOC, 'documentId', 'doc-1')?.owner, rows[1]!.owner);
  });

  it('hashes route, name and value apart', () => {
    assert.notEqual(objectHash('/a', 'id', '12'), objectHash('/a', 'id1', '2'));
    assert.notEqual(objectHash('/a/{id}', 'id', '1'), objectHash('/b/{id}', 'id', '1'));
    assert.ok(Number.isSafeInteger(objectHash('/a', 'id', 'x')));
  });

  it('the SQL tenant-parameter pattern is bola.cross_tenant’s', () => {
    const re = new RegExp(TENANT_PARAM_RE2.replace('(?i)', ''), 'i');
    for (const name of [
      'tenant',
      'tenantId',
      'tenant_id',
      'TenantID',
      'orgs',
      'organization_slug',
      'organisationKey',
      'workspace-id',
      'company',
      'account_id',
      'documentId',
      'teamId',
      'tenants',
      'orgId',
      'contenant',
    ])
      assert.equal(re.test(name), isTenantParam(name), name);
  });
});
