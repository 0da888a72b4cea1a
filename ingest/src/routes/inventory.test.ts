import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ApiEvent, buildEvent, ChdbStore } from '@apiwatch/core';
import { classifyInventory, readInventory, saveSpecStatus } from './inventory.ts';
import { loadSpecFile } from './openapi.ts';
import { createRouteTemplater } from './templater.ts';

const FIXTURES = join(import.meta.dirname, '../../../test/fixtures/public/openapi');
const crapi = loadSpecFile(join(FIXTURES, 'crapi-openapi-spec.json'));
const T0 = Date.UTC(2026, 10, 5, 8, 0, 0);

describe('endpoint inventory: the store keeps the catalogue, the specs classify it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-inventory-'));
  const store = new ChdbStore(dir);
  const routes = createRouteTemplater({ specs: [crapi] });
  let n = 0;
  const ev = (ts: number, method: string, path: string, status = 200): ApiEvent => {
    const e = buildEvent(
      {
        ts,
        method,
        path,
        status,
        sourceKind: 'test',
        raw: `${n++}`,
        host: 'crapi.test',
        user: 'u1',
        credentialKind: 'jwt',
      },
      ts,
    );
    routes.applyRoutes(e);
    return e;
  };

  before(async () => {
    await store.start();
    const events: ApiEvent[] = [];
    for (let i = 0; i < 20; i++) {
      events.push(ev(T0 + i * 1000, 'GET', `/workshop/api/shop/orders/${i}`, i % 10 === 0 ? 500 : 200));
      events.push(ev(T0 + i * 1000, 'GET', '/identity/api/v2/user/dashboard'));
    }
    events.push(ev(T0 + 5000, 'POST', '/identity/api/auth/v2/check-otp'));
    events.push(ev(T0 + 6000, 'DELETE', '/identity/api/v2/user/dashboard', 204));
    for (let i = 0; i < 3; i++)
      events.push(ev(T0 + 7000 + i, 'GET', `/identity/api/v2/internal/export/${i}`));
    events.push(ev(T0 + 9000, 'GET', '/identity/api/v1/user/dashboard'));
    await store.insertEvents(events);
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists every seen endpoint with first/last seen and counts, classified; documented but unseen operations too', async () => {
    const rows = await readInventory(store);
    const orders = rows.find((r) => r.route === '/workshop/api/shop/orders/{order_id}')!;
    assert.equal(orders.requests, 20);
    assert.equal(orders.errors, 2);
    assert.equal(orders.firstSeen, T0);
    assert.equal(orders.lastSeen, T0 + 19_000);
    assert.equal(orders.storedStatus, 'unknown');
    const matcher = routes.matcher!;
    const entries = classifyInventory(rows, matcher);
    const status = (method: string, route: string) =>
      entries.find((e) => e.method === method && e.route === route)?.specStatus;
    assert.equal(status('GET', '/workshop/api/shop/orders/{order_id}'), 'documented');
    assert.equal(status('POST', '/identity/api/auth/v2/check-otp'), 'deprecated');
    assert.equal(status('DELETE', '/identity/api/v2/user/dashboard'), 'undocumented_method');
    assert.equal(status('GET', '/identity/api/v2/internal/export/{id}'), 'shadow');
    assert.equal(status('GET', '/identity/api/v1/user/dashboard'), 'deprecated');
    assert.equal(status('POST', '/identity/api/auth/v3/check-otp'), 'unseen');
    assert.ok(entries.filter((e) => e.specStatus === 'unseen').length > 30);
    assert.equal(classifyInventory(rows, null)[0]!.specStatus, 'unspecified');
  });

  it('--save keeps the classification in the store without touching first/last seen or counts', async () => {
    const entries = classifyInventory(await readInventory(store), routes.matcher!);
    const saved = await saveSpecStatus(store, entries, T0 + 3_600_000);
    assert.equal(saved, entries.filter((e) => e.specStatus !== 'unseen').length);
    const again = await readInventory(store);
    const orders = again.find((r) => r.route === '/workshop/api/shop/orders/{order_id}')!;
    assert.equal(orders.storedStatus, 'documented');
    assert.equal(orders.requests, 20);
    assert.equal(orders.firstSeen, T0);
    assert.equal(orders.lastSeen, T0 + 19_000);
    assert.equal(
      again.find((r) => r.route === '/identity/api/v2/internal/export/{id}')!.storedStatus,
      'shadow',
    );
  });
});
