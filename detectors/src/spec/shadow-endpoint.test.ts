import assert from 'node:assert/strict';
import { test } from 'node:test';
import { call, DetectorHarness, specOf } from '../bola/harness.ts';
import { shadowEndpoint } from './shadow-endpoint.ts';

const T0 = Date.UTC(2026, 10, 4, 8, 0, 0);
const shadow = specOf({ status: 'shadow', operationId: null });

test('positive: one internal service keeps calling an unlisted endpoint; count, callers, first/last seen', () => {
  const h = new DetectorHarness(shadowEndpoint);
  h.run(
    Array.from({ length: 30 }, (_, i) =>
      call({
        ts: T0 + i * 10_000,
        service: 'billing',
        credential: 'fp-b',
        route: '/internal/export',
        spec: shadow,
      }),
    ),
  );
  const [f, ...rest] = h.firing();
  assert.ok(f);
  assert.equal(rest.length, 0);
  assert.equal(f.entity.kind, 'endpoint');
  assert.equal(f.entity.id, 'GET /internal/export');
  // Three 2xx answers show the API serves it: raised on the third call, not after ten.
  assert.equal(f.evidence.observed, 3);
  assert.equal(f.evidence.counts.successes, 3);
  assert.equal(f.at, T0 + 20_000);
  assert.equal(f.firstSeen, T0);
  h.advance(T0 + 7 * 3_600_000);
  assert.equal(h.drafts.filter((d) => d.status === 'resolved').length, 1);
});

test('positive: a few calls from several callers (a debug route everyone found)', () => {
  const h = new DetectorHarness(shadowEndpoint);
  h.run(
    ['u1', 'u2', 'u3', 'u4'].map((u, i) =>
      call({
        ts: T0 + i * 60_000,
        user: u,
        method: 'POST',
        route: '/api/v3/debug/{id}',
        spec: shadow,
        status: 500,
      }),
    ),
  );
  assert.equal(h.firing().length, 1);
});

test('negative: scanner 404s, health checks, CORS preflight, documented and uncovered calls', () => {
  const h = new DetectorHarness(shadowEndpoint);
  const events = [];
  for (let i = 0; i < 50; i++) {
    events.push(
      call({ ts: T0 + i, ip: '203.0.113.9', route: `/wp-admin/x${i}.php`, spec: shadow, status: 404 }),
    );
    events.push(call({ ts: T0 + i, route: '/healthz', path: '/healthz', spec: shadow }));
    events.push(call({ ts: T0 + i, method: 'OPTIONS', route: '/api/v3/pet', spec: shadow, status: 204 }));
    events.push(call({ ts: T0 + i, route: '/api/v3/pet/{petId}', spec: specOf() }));
    events.push(call({ ts: T0 + i, route: '/other-api/things', spec: null }));
  }
  // A deprecated shadow path is a zombie, not a shadow endpoint.
  for (let i = 0; i < 20; i++)
    events.push(call({ ts: T0 + i, route: '/api/v1/pet', spec: { ...shadow, deprecated: true } }));
  h.run(events);
  assert.deepEqual(h.firing(), []);
});

test('positive: probes answered 4xx/5xx need minCalls; two 2xx answers alone do not raise', () => {
  const h = new DetectorHarness(shadowEndpoint);
  const probe = (i: number, status: number) =>
    call({ ts: T0 + i * 30_000, ip: '198.51.100.7', route: '/v1/internal/dump', spec: shadow, status });
  // Seven 400s and two 200s from one caller: neither rule holds yet.
  h.run([...Array.from({ length: 7 }, (_, i) => probe(i, 400)), probe(7, 200), probe(8, 200)]);
  assert.deepEqual(h.firing(), []);
  // The tenth non-ignored call raises it.
  h.run([probe(11, 403)]);
  assert.equal(h.firing().length, 1);
  assert.equal(h.firing()[0]!.evidence.threshold, 10);
});
