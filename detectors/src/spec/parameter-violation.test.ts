import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SpecViolationCode } from '@apiwatch/core';
import { call, DetectorHarness, specOf } from '../bola/harness.ts';
import { parameterViolation } from './parameter-violation.ts';

const T0 = Date.UTC(2026, 10, 4, 8, 0, 0);
const v = (code: SpecViolationCode, name: string, where: 'path' | 'query' = 'query') =>
  specOf({ violations: [{ code, name, in: where }] });

test('positive: a fuzzer breaks many rules across operations within minutes', () => {
  const h = new DetectorHarness(parameterViolation);
  const shapes: Array<[SpecViolationCode, string, 'path' | 'query']> = [
    ['param_type', 'limit', 'query'],
    ['param_type', 'order_id', 'path'],
    ['param_format', 'vehicleId', 'path'],
    ['param_enum', 'status', 'query'],
    ['param_length', 'AccountSid', 'path'],
  ];
  h.run(
    shapes.map(([c, n, w], i) =>
      call({ ts: T0 + i * 20_000, user: 'fuzzer', route: `/r${i}`, spec: v(c, n, w), status: 400 }),
    ),
  );
  const [f] = h.firing();
  assert.ok(f);
  assert.equal(f.entity.id, 'fuzzer');
  assert.ok(f.evidence.observed >= 4);
});

test('positive: parameter mining with many unknown names', () => {
  const h = new DetectorHarness(parameterViolation);
  h.run(
    Array.from({ length: 15 }, (_, i) =>
      call({
        ts: T0 + i * 1000,
        credential: 'fp-x',
        route: '/search',
        spec: v('param_unknown', `debug${i}`),
      }),
    ),
  );
  assert.equal(h.firing().length, 1);
});

test('negative: a buggy client repeating one violation, tracking parameters, undocumented statuses', () => {
  const h = new DetectorHarness(parameterViolation);
  const events = [];
  for (let i = 0; i < 300; i++) {
    events.push(
      call({
        ts: T0 + i * 2000,
        user: 'buggy',
        route: '/posts/recent',
        spec: v('param_type', 'limit'),
        status: 400,
      }),
    );
    events.push(
      call({
        ts: T0 + i * 2000,
        user: 'marketing',
        route: '/products',
        spec: specOf({
          violations: ['utm_source', 'utm_medium', 'utm_campaign', 'fbclid', '_'].map((n) => ({
            code: 'param_unknown' as const,
            name: n,
            in: 'query' as const,
          })),
        }),
      }),
    );
    events.push(
      call({
        ts: T0 + i * 2000,
        user: 'x',
        route: '/y',
        spec: specOf({ violations: [{ code: 'status_undocumented', name: null, in: null }] }),
      }),
    );
  }
  h.run(events);
  assert.deepEqual(h.firing(), []);
});

test('positive: a partner key tampering with two parameters, the path one with varying values', () => {
  const h = new DetectorHarness(parameterViolation);
  const events = [];
  const bad = ['abc', '1.5', 'null', 'abc', '1.5'];
  for (let i = 0; i < 10; i++) {
    events.push(
      i % 2 === 0
        ? call({
            ts: T0 + i * 30_000,
            service: 'zoo',
            credential: 'fp-z',
            route: '/pet/findByStatus',
            spec: v('param_enum', 'status'),
            status: 400,
          })
        : call({
            ts: T0 + i * 30_000,
            service: 'zoo',
            credential: 'fp-z',
            route: '/pet/{petId}',
            path: `/api/v3/pet/${bad[i >> 1]}`,
            spec: v('param_type', 'petId', 'path'),
            status: 400,
          }),
    );
  }
  h.run(events);
  const [f] = h.firing();
  assert.ok(f);
  assert.equal(f.evidence.counts.distinctPairs, 2);
  assert.ok(f.evidence.observed >= 4);
});

test('negative: a client whose ids do not match the spec (accepted), and one garbage path value loop', () => {
  const h = new DetectorHarness(parameterViolation);
  const events = [];
  for (let i = 0; i < 200; i++) {
    // The spec says uuid, the API serves integer ids: every call a violation, every path different, all 200.
    events.push(
      call({
        ts: T0 + i * 5000,
        user: 'reader',
        route: '/documents/{documentId}',
        path: `/documents/${1000 + i}`,
        spec: v('param_format', 'documentId', 'path'),
        status: 200,
      }),
    );
    // A JS client bug: undefined, null, NaN and [object Object] in one path parameter, rejected.
    const junk = ['undefined', 'null', 'NaN', '%5Bobject%20Object%5D'][i % 4]!;
    events.push(
      call({
        ts: T0 + i * 5000,
        user: 'spa',
        route: '/orders/{orderId}',
        path: `/orders/${junk}`,
        spec: v('param_type', 'orderId', 'path'),
        status: 400,
      }),
    );
  }
  h.run(events);
  assert.deepEqual(h.firing(), []);
});
