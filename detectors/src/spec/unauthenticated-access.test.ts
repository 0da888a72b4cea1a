import assert from 'node:assert/strict';
import { test } from 'node:test';
import { call, DetectorHarness, specOf } from '../bola/harness.ts';
import { unauthenticatedAccess } from './unauthenticated-access.ts';

const T0 = Date.UTC(2026, 10, 4, 8, 0, 0);
const secured = specOf({ securityRequired: true, operationId: 'get_dashboard' });

function authenticatedHistory(route: string, n = 20) {
  return Array.from({ length: n }, (_, i) =>
    call({ ts: T0 + i * 1000, user: `u${i % 7}`, auth: 'success', route, spec: secured }),
  );
}

test('positive: a secured operation answers 2xx to calls without credentials', () => {
  const h = new DetectorHarness(unauthenticatedAccess);
  h.run(authenticatedHistory('/identity/api/v2/user/dashboard'));
  h.run(
    [0, 1, 2, 3].map((i) =>
      call({
        ts: T0 + 60_000 + i * 5000,
        ip: '192.0.2.50',
        route: '/identity/api/v2/user/dashboard',
        spec: secured,
      }),
    ),
  );
  const [f, ...rest] = h.firing();
  assert.ok(f);
  assert.equal(rest.length, 0);
  assert.equal(f.entity.id, 'GET /identity/api/v2/user/dashboard');
  assert.deepEqual(Object.keys(f.evidence.details.topCallers as object), ['ip:192.0.2.50']);
  h.advance(T0 + 3 * 3_600_000);
  assert.equal(h.drafts.filter((d) => d.status === 'resolved').length, 1);
});

test('negative: 401s, open operations, and routes that never log credentials (auth upstream)', () => {
  const h = new DetectorHarness(unauthenticatedAccess);
  const events = [...authenticatedHistory('/a')];
  for (let i = 0; i < 30; i++) {
    events.push(call({ ts: T0 + 60_000 + i, route: '/a', spec: secured, status: 401 }));
    events.push(call({ ts: T0 + 60_000 + i, route: '/open', spec: specOf({ securityRequired: false }) }));
    // Every call on /b is anonymous: credentials are checked upstream and not logged.
    events.push(call({ ts: T0 + 60_000 + i, route: '/b', spec: secured }));
  }
  h.run(events);
  assert.deepEqual(h.firing(), []);
});
