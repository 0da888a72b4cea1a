import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { type ApiEvent, apiEventValidator, buildEvent } from '@apiwatch/core';
import { loadSpecFile } from './openapi.ts';
import { createRouteTemplater, parserTemplate, queryFromRecord } from './templater.ts';

const FIXTURES = join(import.meta.dirname, '../../../test/fixtures/public/openapi');
const crapi = loadSpecFile(join(FIXTURES, 'crapi-openapi-spec.json'));
const twilio = loadSpecFile(join(FIXTURES, 'twilio_api_v2010.json'));

function event(
  method: string,
  target: string,
  extra: { route?: string; status?: number; host?: string } = {},
): ApiEvent {
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const queryKeys =
    q < 0
      ? []
      : target
          .slice(q + 1)
          .split('&')
          .map((p) => p.split('=')[0]!);
  return buildEvent(
    {
      ts: 1,
      method,
      path,
      queryKeys,
      status: extra.status ?? 200,
      sourceKind: 'test',
      raw: target,
      route: extra.route ?? null,
      host: extra.host ?? null,
    },
    1,
  );
}

test('spec first: route and path objects; the event stays valid', () => {
  const t = createRouteTemplater({ specs: [crapi] });
  const e = event('GET', '/identity/api/v2/vehicle/4bae9968-ec7f-4de3-a3a0-ba1b2ab5e5e5/location');
  const r = t.applyRoutes(e);
  assert.equal(r.source, 'spec');
  assert.equal(r.operationId, 'get_location');
  assert.equal(e.request.route, '/identity/api/v2/vehicle/{vehicleId}/location');
  assert.deepEqual(e.objects, [
    { name: 'vehicleId', value: '4bae9968-ec7f-4de3-a3a0-ba1b2ab5e5e5', in: 'path' },
  ]);
  assert.ok(apiEventValidator.check(e), apiEventValidator.explain(e));
});

test('query ids the spec marks (crAPI report_id) come from the raw record; other query values never', () => {
  const t = createRouteTemplater({ specs: [crapi] });
  const raw =
    '10.0.0.1 - - [07/Feb/2020:11:48:51 +0000] "GET /workshop/api/mechanic/mechanic_report?report_id=2&api_key=SECRETKEY123&note=hello HTTP/1.1" 200 12';
  const e = event(
    'GET',
    '/workshop/api/mechanic/mechanic_report?report_id=2&api_key=SECRETKEY123&note=hello',
  );
  t.applyRoutes(e, { recordText: raw });
  assert.deepEqual(e.objects, [{ name: 'report_id', value: '2', in: 'query' }]);
  const text = JSON.stringify(e);
  assert.ok(!text.includes('SECRETKEY123'));
  assert.ok(!text.includes('hello'));
});

test('without a spec, id-named query params with id-shaped values are objects; secret names never', () => {
  const t = createRouteTemplater();
  const e = event(
    'GET',
    '/api/orders?user_id=42&access_token=abcdef0123456789abcdef&session_id=99&sig=12345&q=shoes',
  );
  t.applyRoutes(e, {
    query: 'user_id=42&access_token=abcdef0123456789abcdef&session_id=99&sig=12345&q=shoes',
  });
  assert.deepEqual(e.objects, [{ name: 'user_id', value: '42', in: 'query' }]);
});

test('Twilio: nested ids become objects in path order', () => {
  const t = createRouteTemplater({ specs: [twilio] });
  const e = event(
    'GET',
    '/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Calls/CA0123456789abcdef0123456789abcdef.json',
  );
  t.applyRoutes(e);
  assert.equal(e.request.route, '/2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json');
  assert.deepEqual(
    e.objects.map((o) => o.name),
    ['AccountSid', 'Sid'],
  );
});

test('inference second: a path no spec has gets an inferred template and the outcome says so', () => {
  const t = createRouteTemplater({ specs: [crapi] });
  const e = event('GET', '/shadow/api/things/123');
  const r = t.applyRoutes(e);
  assert.deepEqual([r.source, r.specMatched], ['inferred', false]);
  assert.equal(e.request.route, '/shadow/api/things/{id}');
  assert.deepEqual(e.objects, [{ name: 'id', value: '123', in: 'path' }]);
  assert.equal(t.counters.inferred, 1);
});

test('no spec match and inference off: route null, flagged unmatched', () => {
  const t = createRouteTemplater({ specs: [crapi], infer: false });
  const e = event('GET', '/shadow/api/things/123');
  assert.equal(t.applyRoutes(e).source, 'unmatched');
  assert.equal(e.request.route, null);
  assert.equal(t.counters.unmatched, 1);
});

test('an undocumented method on a documented path is counted', () => {
  const t = createRouteTemplater({ specs: [crapi] });
  const e = event('DELETE', '/identity/api/v2/vehicle/1/location');
  const r = t.applyRoutes(e);
  assert.deepEqual([r.source, r.undocumentedMethod, r.operationId], ['spec', true, null]);
  assert.equal(t.counters.undocumentedMethod, 1);
});

test('a real parser template is kept (normalised) and its objects aligned past a stage prefix', () => {
  const t = createRouteTemplater({ specs: [crapi] });
  const aws = event('GET', '/prod/pets/7', { route: '/pets/{petId}' });
  assert.equal(t.applyRoutes(aws).source, 'parser');
  assert.equal(aws.request.route, '/pets/{petId}');
  assert.deepEqual(aws.objects, [{ name: 'petId', value: '7', in: 'path' }]);
  const otel = event('GET', '/api/users/5/orders/9', { route: '/api/users/:userId/orders/:orderId' });
  t.applyRoutes(otel);
  assert.equal(otel.request.route, '/api/users/{userId}/orders/{orderId}');
  assert.deepEqual(
    otel.objects.map((o) => `${o.name}=${o.value}`),
    ['userId=5', 'orderId=9'],
  );
});

test('a parser "route" that is not a template (Kong prefix, AWS $default) is replaced', () => {
  assert.equal(parserTemplate('$default', '/x'), null);
  assert.equal(parserTemplate('/orders', '/orders/17'), null);
  assert.equal(parserTemplate('/orders', '/orders/'), '/orders');
  assert.equal(parserTemplate('GET /pets/{id}', '/pets/1'), '/pets/{id}');
  const t = createRouteTemplater({ specs: [crapi] });
  const e = event('GET', '/workshop/api/shop/orders/17', { route: '/workshop' });
  assert.equal(t.applyRoutes(e).source, 'spec');
  assert.equal(e.request.route, '/workshop/api/shop/orders/{order_id}');
});

test('404s do not teach inference', () => {
  const t = createRouteTemplater({ infer: { maxLiteralsPerPosition: 2 } });
  for (const w of ['aa', 'bb', 'cc', 'dd']) t.applyRoutes(event('GET', `/api/${w}word`, { status: 404 }));
  const e = event('GET', '/api/zzword', { status: 200 });
  t.applyRoutes(e);
  assert.equal(e.request.route, '/api/zzword');
});

test('queryFromRecord finds the query after the path in text and JSON records', () => {
  assert.equal(queryFromRecord('"GET /a/b?x=1&y=2 HTTP/1.1"', '/a/b'), 'x=1&y=2');
  assert.equal(queryFromRecord('{"uri":"/a/b?x=1","status":200}', '/a/b'), 'x=1');
  assert.equal(queryFromRecord('{"uri":"/a/b","status":200}', '/a/b'), null);
});

test('tenant-named query parameters are objects whatever their shape (for bola.cross_tenant)', () => {
  const t = createRouteTemplater();
  const e = event('GET', '/reports/summary?tenant=acme&org_id=globex&note=hello');
  t.applyRoutes(e, { query: 'tenant=acme&org_id=globex&note=hello' });
  assert.deepEqual(
    e.objects.filter((o) => o.in === 'query'),
    [
      { name: 'tenant', value: 'acme', in: 'query' },
      { name: 'org_id', value: 'globex', in: 'query' },
    ],
  );
});

test('setSpecs swaps the specs under a running stage: the next event uses them, inference and counters carry on', () => {
  const t = createRouteTemplater({ specs: [] });
  const before = event('GET', '/workshop/api/shop/orders/8812');
  assert.equal(t.applyRoutes(before).source, 'inferred');
  assert.equal(before.spec, undefined, 'no specs: no spec annotation');
  t.setSpecs([crapi]);
  const after = event('GET', '/workshop/api/shop/orders/8813');
  assert.equal(t.applyRoutes(after).source, 'spec');
  assert.equal(after.request.route, '/workshop/api/shop/orders/{order_id}');
  assert.equal(after.spec?.status, 'documented');
  assert.equal(t.matcher?.specs.length, 1);
  assert.deepEqual([t.counters.inferred, t.counters.spec], [1, 1]);
  t.setSpecs([]);
  assert.equal(t.matcher, null);
  assert.equal(t.applyRoutes(event('GET', '/workshop/api/shop/orders/8814')).source, 'inferred');
});
