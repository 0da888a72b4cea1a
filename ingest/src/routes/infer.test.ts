import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRouteInferrer } from './infer.ts';

const shapes: Array<[string, string]> = [
  ['/users/12345', '/users/{id}'],
  ['/orders/550e8400-e29b-41d4-a716-446655440000/items/3', '/orders/{uuid}/items/{id}'],
  ['/blobs/deadbeefcafebabe0011', '/blobs/{hex}'],
  ['/docs/507f1f77bcf86cd799439011', '/docs/{objectId}'],
  ['/events/01ARZ3NDEKTSV4RRFFQ69G5FAV', '/events/{ulid}'],
  ['/people/jane.doe@example.com/profile', '/people/{email}/profile'],
  [
    '/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Calls.json',
    '/2010-04-01/Accounts/{hex}/Calls.json',
  ],
  ['/v1/customers/cus_J8a9s7d6f5g4h3', '/v1/customers/{id}'],
  ['/files/aB3dE5fG7hJ9kL1mN3pQ', '/files/{key}'],
  ['/a/1/b/2', '/a/{id}/b/{id2}'],
  ['/api/getAccountSettingsForUser', '/api/getAccountSettingsForUser'],
  ['/identity/api/auth/v4.0/user/login-with-token', '/identity/api/auth/v4.0/user/login-with-token'],
  ['/', '/'],
  ['/health/', '/health'],
];
for (const [path, route] of shapes) {
  test(`infer by shape: ${path} → ${route}`, () => {
    assert.equal(createRouteInferrer().infer(path).route, route);
  });
}

test('a position with more than N distinct literals becomes {param}, and never flips back', () => {
  const inf = createRouteInferrer({ maxLiteralsPerPosition: 5 });
  const routes = ['alice', 'bob', 'carol', 'dave', 'erin'].map(
    (u) => inf.infer(`/users/v1/${u}/email`).route,
  );
  assert.deepEqual(
    new Set(routes),
    new Set([
      '/users/v1/alice/email',
      '/users/v1/bob/email',
      '/users/v1/carol/email',
      '/users/v1/dave/email',
      '/users/v1/erin/email',
    ]),
  );
  assert.equal(inf.infer('/users/v1/frank/email').route, '/users/v1/{param}/email');
  assert.deepEqual(inf.infer('/users/v1/frank/email').params, [{ name: 'param', value: 'frank' }]);
  // Stable: earlier values now map to the template too, and learning nothing more changes it.
  assert.equal(inf.infer('/users/v1/alice/email').route, '/users/v1/{param}/email');
  for (let i = 0; i < 1000; i++) inf.infer(`/other/${i}x${i}`);
  assert.equal(inf.infer('/users/v1/alice/email').route, '/users/v1/{param}/email');
  assert.equal(inf.infer('/users/v1/bob', false).route, '/users/v1/{param}');
  assert.equal(inf.counters.promoted >= 1, true);
});

test('sibling literals under one prefix below the threshold stay literal', () => {
  const inf = createRouteInferrer({ maxLiteralsPerPosition: 5 });
  for (let i = 0; i < 100; i++) for (const s of ['profile', 'settings', 'orders']) inf.infer(`/me/${s}`);
  assert.equal(inf.infer('/me/settings').route, '/me/settings');
  assert.equal(inf.counters.promoted, 0);
});

test('the first segment is never promoted and non-teaching calls do not learn', () => {
  const inf = createRouteInferrer({ maxLiteralsPerPosition: 3 });
  for (let i = 0; i < 50; i++) inf.infer(`/scan${String.fromCharCode(97 + (i % 26))}${i}word/x`);
  assert.equal(inf.infer('/api/x').route, '/api/x');
  for (let i = 0; i < 50; i++)
    inf.infer(
      `/api/probe-${String.fromCharCode(97 + (i % 26))}word${String.fromCharCode(98 + (i % 20))}`,
      false,
    );
  assert.equal(inf.infer('/api/users', false).route, '/api/users');
  assert.equal(inf.size().promoted, 0);
});

test('memory is bounded: sketches are evicted (counted), promotions capped (counted), never un-promoted', () => {
  const inf = createRouteInferrer({ maxLiteralsPerPosition: 2, maxPositions: 10, maxPromoted: 1 });
  for (const v of ['a', 'b', 'c']) inf.infer(`/t/${v}word/leaf`);
  assert.equal(inf.infer('/t/zword/leaf').route, '/t/{param}/leaf');
  for (const v of ['a', 'b', 'c', 'd']) inf.infer(`/u/${v}word`);
  assert.equal(inf.counters.promotionsRefused >= 1, true);
  assert.equal(inf.infer('/u/eword').route, '/u/eword');
  for (let i = 0; i < 100; i++) inf.infer(`/k${i}/name/thing`);
  assert.ok(inf.size().positions <= 10);
  assert.ok(inf.counters.evicted > 0);
  assert.equal(inf.infer('/t/yword/leaf').route, '/t/{param}/leaf');
});

test('overlong segments are parameters; literal braces cannot fake a parameter', () => {
  const inf = createRouteInferrer();
  assert.equal(inf.infer(`/x/${'word'.repeat(20)}`).route, '/x/{param}');
  assert.equal(inf.infer('/x/%7Bid%7D').route, '/x/%7Bid%7D');
});
