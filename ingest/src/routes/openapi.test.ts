import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { StartupError } from '@apiwatch/core';
import { createRouteMatcher, type LoadedSpec, loadSpecFile, parseSpecText } from './openapi.ts';

const FIXTURES = join(import.meta.dirname, '../../../test/fixtures/public/openapi');
const spec = (name: string) => loadSpecFile(join(FIXTURES, name));

const crapi = spec('crapi-openapi-spec.json');
const vampi = spec('vampi-openapi3.yml');
const petstore = spec('petstore-v3-openapi.yaml');
const juice = spec('juice-shop-b2b-swagger.yml');
const twilio = spec('twilio_api_v2010.json');

const cases: Array<{
  spec: LoadedSpec;
  method: string;
  path: string;
  route: string | null;
  params?: Record<string, string>;
  documented?: boolean;
}> = [
  {
    spec: crapi,
    method: 'GET',
    path: '/identity/api/v2/vehicle/4bae9968-ec7f-4de3-a3a0-ba1b2ab5e5e5/location',
    route: '/identity/api/v2/vehicle/{vehicleId}/location',
    params: { vehicleId: '4bae9968-ec7f-4de3-a3a0-ba1b2ab5e5e5' },
  },
  {
    spec: crapi,
    method: 'GET',
    path: '/identity/api/v2/vehicle/vehicles',
    route: '/identity/api/v2/vehicle/vehicles',
    params: {},
  },
  {
    spec: crapi,
    method: 'GET',
    path: '/community/api/v2/community/posts/recent',
    route: '/community/api/v2/community/posts/recent',
  },
  {
    spec: crapi,
    method: 'GET',
    path: '/community/api/v2/community/posts/abc123',
    route: '/community/api/v2/community/posts/{postId}',
    params: { postId: 'abc123' },
  },
  {
    spec: crapi,
    method: 'GET',
    path: '/workshop/api/shop/orders/all',
    route: '/workshop/api/shop/orders/all',
  },
  {
    spec: crapi,
    method: 'GET',
    path: '/workshop/api/shop/orders/17',
    route: '/workshop/api/shop/orders/{order_id}',
    params: { order_id: '17' },
  },
  { spec: crapi, method: 'GET', path: '/workshop/api/mechanic/', route: '/workshop/api/mechanic/' },
  {
    spec: vampi,
    method: 'GET',
    path: '/users/v1/alice',
    route: '/users/v1/{username}',
    params: { username: 'alice' },
  },
  { spec: vampi, method: 'GET', path: '/users/v1/_debug', route: '/users/v1/_debug', params: {} },
  { spec: vampi, method: 'POST', path: '/users/v1/register', route: '/users/v1/register' },
  {
    spec: vampi,
    method: 'PUT',
    path: '/users/v1/name1/email',
    route: '/users/v1/{username}/email',
    params: { username: 'name1' },
  },
  {
    spec: vampi,
    method: 'GET',
    path: '/books/v1/bookTitle77',
    route: '/books/v1/{book_title}',
    params: { book_title: 'bookTitle77' },
  },
  {
    spec: vampi,
    method: 'GET',
    path: '/books/v1/War%20and%20Peace',
    route: '/books/v1/{book_title}',
    params: { book_title: 'War and Peace' },
  },
  { spec: vampi, method: 'GET', path: '/', route: '/' },
  { spec: petstore, method: 'GET', path: '/pet/123', route: '/pet/{petId}', params: { petId: '123' } },
  { spec: petstore, method: 'GET', path: '/api/v3/pet/123', route: '/pet/{petId}', params: { petId: '123' } },
  { spec: petstore, method: 'GET', path: '/api/v3/pet/findByStatus', route: '/pet/findByStatus', params: {} },
  {
    spec: petstore,
    method: 'POST',
    path: '/pet/9/uploadImage',
    route: '/pet/{petId}/uploadImage',
    params: { petId: '9' },
  },
  { spec: petstore, method: 'GET', path: '/pet/123/', route: '/pet/{petId}' },
  { spec: petstore, method: 'GET', path: '//pet//123', route: '/pet/{petId}' },
  { spec: petstore, method: 'PATCH', path: '/pet/5', route: '/pet/{petId}', documented: false },
  { spec: petstore, method: 'HEAD', path: '/pet/5', route: '/pet/{petId}', documented: true },
  {
    spec: petstore,
    method: 'GET',
    path: '/store/order/42',
    route: '/store/order/{orderId}',
    params: { orderId: '42' },
  },
  { spec: petstore, method: 'GET', path: '/user/logout', route: '/user/logout' },
  { spec: petstore, method: 'GET', path: '/user/jane', route: '/user/{username}' },
  { spec: juice, method: 'POST', path: '/b2b/v2/orders', route: '/orders' },
  { spec: juice, method: 'GET', path: '/b2b/v2/customers', route: null },
  {
    spec: twilio,
    method: 'GET',
    path: '/2010-04-01/Accounts/ACaaaa/Calls/CAbbbb.json',
    route: '/2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json',
    params: { AccountSid: 'ACaaaa', Sid: 'CAbbbb' },
  },
  {
    spec: twilio,
    method: 'GET',
    path: '/2010-04-01/Accounts/ACaaaa/Calls.json',
    route: '/2010-04-01/Accounts/{AccountSid}/Calls.json',
    params: { AccountSid: 'ACaaaa' },
  },
  {
    spec: twilio,
    method: 'GET',
    path: '/2010-04-01/Accounts/ACaaaa.json',
    route: '/2010-04-01/Accounts/{Sid}.json',
    params: { Sid: 'ACaaaa' },
  },
  {
    spec: twilio,
    method: 'GET',
    path: '/2010-04-01/Accounts.json',
    route: '/2010-04-01/Accounts.json',
    params: {},
  },
  {
    spec: twilio,
    method: 'GET',
    path: '/2010-04-01/Accounts/AC1/IncomingPhoneNumbers/Local.json',
    route: '/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers/Local.json',
  },
  {
    spec: twilio,
    method: 'GET',
    path: '/2010-04-01/Accounts/AC1/IncomingPhoneNumbers/PN1.json',
    route: '/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers/{Sid}.json',
    params: { AccountSid: 'AC1', Sid: 'PN1' },
  },
  {
    spec: twilio,
    method: 'GET',
    path: '/2010-04-01/Accounts/AC1/IncomingPhoneNumbers/PN1/AssignedAddOns/XE1/Extensions/XF1.json',
    route:
      '/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers/{ResourceSid}/AssignedAddOns/{AssignedAddOnSid}/Extensions/{Sid}.json',
    params: { AccountSid: 'AC1', ResourceSid: 'PN1', AssignedAddOnSid: 'XE1', Sid: 'XF1' },
  },
  { spec: twilio, method: 'GET', path: '/2010-04-01/Accounts/AC1/Calls/CA1', route: null },
];

for (const c of cases) {
  test(`spec ${c.spec.title ?? c.spec.origin}: ${c.method} ${c.path} → ${c.route}`, () => {
    const m = createRouteMatcher([c.spec]).match(c.method, c.path);
    assert.equal(m?.route ?? null, c.route);
    if (c.params)
      assert.deepEqual(Object.fromEntries((m?.pathParams ?? []).map((p) => [p.name, p.value])), c.params);
    if (c.documented !== undefined) assert.equal(m?.methodDocumented, c.documented);
  });
}

test('all five specs in one matcher keep their own templates', () => {
  const m = createRouteMatcher([crapi, vampi, petstore, juice, twilio]);
  assert.equal(
    m.match('GET', '/identity/api/v2/vehicle/1/location')?.route,
    '/identity/api/v2/vehicle/{vehicleId}/location',
  );
  assert.equal(m.match('GET', '/users/v1/bob')?.route, '/users/v1/{username}');
  assert.equal(
    m.match('GET', '/2010-04-01/Accounts/AC1/Calls/CA1.json')?.route,
    '/2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json',
  );
  assert.ok(m.operationCount > 250);
  assert.ok(m.hasOperation('get', '/pet/{petId}'));
  assert.ok(!m.hasOperation('GET', '/pet/{id}'));
});

test('literal segments beat parameters whatever the declaration order, with backtracking', () => {
  const s = parseSpecText(
    JSON.stringify({
      openapi: '3.1.0',
      paths: {
        '/items/{id}': { get: {} },
        '/items/{id}/tags': { get: {} },
        '/items/new': { get: {} },
        '/items/new/preview': { post: {} },
      },
    }),
    'inline',
  );
  const m = createRouteMatcher([s]);
  assert.equal(m.match('GET', '/items/new')?.route, '/items/new');
  assert.equal(m.match('GET', '/items/7')?.route, '/items/{id}');
  // `new` is literal but `/items/new/tags` exists only under the parameter: backtrack to it.
  assert.equal(m.match('GET', '/items/new/tags')?.route, '/items/{id}/tags');
  assert.deepEqual(m.match('GET', '/items/new/tags')?.pathParams, [{ name: 'id', value: 'new' }]);
});

test('Swagger 2.0: basePath, host, and parameters without schema', () => {
  const s = parseSpecText(
    [
      'swagger: "2.0"',
      'host: api.example.com:443',
      'basePath: /v2/',
      'paths:',
      '  /accounts/{accountId}/invoices:',
      '    parameters:',
      '      - { name: accountId, in: path, required: true, type: string }',
      '    get:',
      '      parameters:',
      '        - { name: invoice_id, in: query, type: integer }',
      '        - { name: limit, in: query, type: integer }',
    ].join('\n'),
    'swagger2.yaml',
  );
  assert.deepEqual(s.basePaths, ['/v2']);
  assert.deepEqual(s.hosts, ['api.example.com']);
  const m = createRouteMatcher([s]);
  const hit = m.match('GET', '/v2/accounts/A1/invoices', 'api.example.com');
  assert.equal(hit?.route, '/accounts/{accountId}/invoices');
  assert.deepEqual(
    hit?.operation.params.map((p) => [p.name, p.in, p.isId]),
    [
      ['invoice_id', 'query', true],
      ['limit', 'query', false],
      ['accountId', 'path', true],
    ],
  );
});

test('server URL variables and hosts: a spec that names the host wins', () => {
  const a = parseSpecText(
    JSON.stringify({
      openapi: '3.0.3',
      servers: [
        {
          url: 'https://{env}.a.example/{base}',
          variables: { env: { default: 'prod' }, base: { default: 'api' } },
        },
      ],
      paths: { '/x/{id}': { get: { operationId: 'a' } } },
    }),
    'a',
  );
  const b = parseSpecText(
    JSON.stringify({
      openapi: '3.0.3',
      servers: [{ url: 'https://b.example' }],
      paths: { '/x/{key}': { get: { operationId: 'b' } } },
    }),
    'b',
  );
  assert.deepEqual(a.hosts, ['prod.a.example']);
  assert.deepEqual(a.basePaths, ['/api']);
  const m = createRouteMatcher([a, b]);
  assert.equal(m.match('GET', '/x/1', 'b.example')?.operation.operationId, 'b');
  assert.equal(m.match('GET', '/x/1', 'prod.a.example:443')?.operation.operationId, 'a');
  assert.equal(m.match('GET', '/api/x/1')?.operation.operationId, 'a');
});

test('stage prefixes: listed, detected, and not stripped when the segment is a known literal', () => {
  const listed = createRouteMatcher([petstore], { stagePrefixes: ['prod'], detectStagePrefix: false });
  assert.equal(listed.match('GET', '/prod/pet/1')?.strippedPrefix, '/prod');
  assert.equal(listed.match('GET', '/dev/pet/1'), null);
  const detected = createRouteMatcher([petstore]);
  assert.equal(detected.match('GET', '/dev/pet/1')?.route, '/pet/{petId}');
  assert.equal(detected.match('GET', '/dev/pet/1')?.strippedPrefix, '/dev');
  // `pet` is a root literal of the spec, so `/pet/pet/1` is not "stage pet + /pet/1".
  assert.equal(detected.match('GET', '/pet/pet/1'), null);
});

test('format suffixes: /pets/42.json matches /pet/{petId} when nothing more specific does', () => {
  const m = createRouteMatcher([petstore]);
  assert.equal(m.match('GET', '/store/inventory.json')?.route, '/store/inventory');
});

test('bad specs are start-up errors naming the file', () => {
  assert.throws(
    () => parseSpecText('{"openapi":"3.0.0"}', 'nopaths.json'),
    (e: unknown) => e instanceof StartupError && /nopaths\.json/.test(e.message),
  );
  assert.throws(() => parseSpecText('swagger: "1.2"\npaths: {}', 'old.yaml'), /old\.yaml: not an OpenAPI/);
  assert.throws(() => parseSpecText('{ not json', 'broken.json'), /broken\.json: not valid JSON or YAML/);
  assert.throws(
    () => loadSpecFile('/nonexistent/spec.yaml'),
    /cannot read OpenAPI spec \/nonexistent\/spec\.yaml/,
  );
});

test('spec query parameters marked as ids: crAPI report_id, Twilio *Sid; secrets never', () => {
  const report = crapi.operations.find(
    (o) => o.route === '/workshop/api/mechanic/mechanic_report' && o.method === 'GET',
  );
  assert.deepEqual(
    report?.params.filter((p) => p.isId).map((p) => p.name),
    ['report_id'],
  );
  const calls = twilio.operations.find(
    (o) => o.route === '/2010-04-01/Accounts/{AccountSid}/Calls.json' && o.method === 'GET',
  );
  const ids = calls?.params.filter((p) => p.in === 'query' && p.isId).map((p) => p.name) ?? [];
  assert.ok(ids.includes('ParentCallSid'));
  assert.ok(!ids.includes('To'));
});
