import assert from 'node:assert/strict';
import { test } from 'node:test';
import { call, DetectorHarness, specOf } from '../bola/harness.ts';
import { undocumentedOperation } from './undocumented-operation.ts';

const T0 = Date.UTC(2026, 10, 4, 8, 0, 0);
const undocMethod = specOf({
  status: 'undocumented_method',
  operationId: null,
  violations: [{ code: 'method_undocumented', name: null, in: null }],
});
const undocStatus = specOf({ violations: [{ code: 'status_undocumented', name: null, in: null }] });

test('positive: DELETE works on a path that documents only GET (method tampering)', () => {
  const h = new DetectorHarness(undocumentedOperation);
  h.run(
    [0, 1, 2].map((i) =>
      call({
        ts: T0 + i,
        method: 'DELETE',
        status: 204,
        user: 'eve',
        route: '/users/{id}',
        spec: undocMethod,
      }),
    ),
  );
  const [f, ...rest] = h.firing();
  assert.ok(f);
  assert.equal(rest.length, 0);
  assert.equal(f.entity.id, 'DELETE /users/{id}');
  assert.equal(f.severity, 'high');
});

test('positive: an operation keeps answering an undocumented 409 to several callers', () => {
  const h = new DetectorHarness(undocumentedOperation);
  h.run(
    Array.from({ length: 25 }, (_, i) =>
      call({
        ts: T0 + i * 30_000,
        user: `u${i % 4}`,
        method: 'POST',
        route: '/orders',
        status: 409,
        spec: undocStatus,
      }),
    ),
  );
  const [f] = h.firing();
  assert.ok(f);
  assert.equal(f.evidence.details.undocumented, 'status 409');
});

test('negative: refused methods, preflight, gateway statuses, 5xx, one looping client', () => {
  const h = new DetectorHarness(undocumentedOperation);
  const events = [];
  for (let i = 0; i < 60; i++) {
    events.push(call({ ts: T0 + i, method: 'DELETE', status: 405, route: '/users/{id}', spec: undocMethod }));
    events.push(
      call({ ts: T0 + i, method: 'OPTIONS', status: 204, route: '/users/{id}', spec: undocMethod }),
    );
    events.push(call({ ts: T0 + i, user: `u${i % 5}`, status: 429, route: '/orders', spec: undocStatus }));
    events.push(call({ ts: T0 + i, user: `u${i % 5}`, status: 401, route: '/orders', spec: undocStatus }));
    events.push(call({ ts: T0 + i, user: `u${i % 5}`, status: 503, route: '/orders', spec: undocStatus }));
    events.push(call({ ts: T0 + i, user: 'buggy', status: 422, route: '/carts', spec: undocStatus }));
  }
  h.run(events);
  assert.deepEqual(h.firing(), []);
});
