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
