import assert from 'node:assert/strict';
import { test } from 'node:test';
import { call, DetectorHarness, specOf } from '../bola/harness.ts';
import { missingScope } from './missing-scope.ts';

const T0 = Date.UTC(2026, 10, 4, 8, 0, 0);
const read = specOf({ operationId: 'getPetById', securityRequired: true, requiredScopes: ['read:pets'] });
const write = specOf({ operationId: 'deletePet', securityRequired: true, requiredScopes: ['write:pets'] });

test('positive: a read-only token deletes a pet and gets 204', () => {
  const h = new DetectorHarness(missingScope);
  h.run([
    call({
      ts: T0,
      user: 'ro-app',
      scopes: ['read:pets'],
      auth: 'success',
      route: '/pet/{petId}',
      spec: read,
    }),
    call({
      ts: T0 + 1000,
      user: 'ro-app',
      scopes: ['read:pets'],
      auth: 'success',
      method: 'DELETE',
      status: 204,
      route: '/pet/{petId}',
      spec: write,
    }),
    call({
      ts: T0 + 2000,
      user: 'ro-app',
      scopes: ['read:pets'],
      auth: 'success',
      method: 'DELETE',
      status: 204,
      route: '/pet/{petId}',
      spec: write,
    }),
  ]);
  const [f, ...rest] = h.firing();
  assert.ok(f);
  assert.equal(rest.length, 0);
  assert.equal(f.severity, 'critical');
  assert.deepEqual(f.evidence.details.missingScopes, ['write:pets']);
});

test('positive: a token sharing part of the required scopes is judged on first sight', () => {
  const h = new DetectorHarness(missingScope);
  const both = specOf({ operationId: 'updatePet', requiredScopes: ['read:pets', 'write:pets'] });
  h.run([
    call({
      ts: T0,
      user: 'u',
      scopes: ['read:pets'],
      auth: 'success',
      method: 'PUT',
      route: '/pet',
      spec: both,
    }),
  ]);
  assert.equal(h.firing().length, 1);
});

test('negative: refused calls, tokens with the scopes, tokens without scope claims or another vocabulary', () => {
  const h = new DetectorHarness(missingScope);
  h.run([
    call({
      ts: T0,
      user: 'a',
      scopes: ['read:pets'],
      auth: 'success',
      method: 'DELETE',
      status: 403,
      route: '/pet/{petId}',
      spec: write,
    }),
    call({
      ts: T0 + 1,
      user: 'b',
      scopes: ['write:pets', 'read:pets'],
      auth: 'success',
      method: 'DELETE',
      status: 204,
      route: '/pet/{petId}',
      spec: write,
    }),
    call({
      ts: T0 + 2,
      user: 'c',
      scopes: [],
      auth: 'success',
      method: 'DELETE',
      status: 204,
      route: '/pet/{petId}',
      spec: write,
    }),
    call({
      ts: T0 + 3,
      user: 'd',
      scopes: ['pets.manage'],
      auth: 'success',
      method: 'DELETE',
      status: 204,
      route: '/pet/{petId}',
      spec: write,
    }),
  ]);
  assert.deepEqual(h.firing(), []);
});

test('an actor’s scope vocabulary is kept across a month away (the runtime evicts idle state after idleMs)', () => {
  const cfg = { minCalls: 1, quietSeconds: 3600 };
  assert.ok(missingScope.idleMs!(cfg) >= 30 * 86_400_000);
});
