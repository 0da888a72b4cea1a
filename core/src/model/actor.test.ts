import assert from 'node:assert/strict';
import { test } from 'node:test';
import { actorEntity, actorKey, memoActorKey } from './actor.ts';
import { buildEvent, type EventDraft } from './build.ts';

const base: EventDraft = {
  ts: 1,
  method: 'GET',
  path: '/',
  status: 200,
  sourceKind: 't',
  raw: 'x',
  clientIp: '192.0.2.7',
};

const cases: Array<[string, Partial<EventDraft>, string]> = [
  [
    'api key: its fingerprint',
    { credentialKind: 'api_key', credentialFingerprint: 'k1:abc', user: 'alice' },
    'credential:k1:abc',
  ],
  [
    'JWT with a subject: the user, not the token',
    { credentialKind: 'jwt', credentialFingerprint: 'k1:tok', user: 'alice', service: 'web' },
    'user:alice',
  ],
  [
    'machine JWT: the client',
    { credentialKind: 'jwt', credentialFingerprint: 'k1:tok', service: 'batch-job' },
    'service:batch-job',
  ],
  ['basic: the username', { credentialKind: 'basic', user: 'bob' }, 'user:bob'],
  [
    'mTLS: the workload',
    { credentialKind: 'mtls', service: 'spiffe://example.org/ns/a/sa/b' },
    'service:spiffe://example.org/ns/a/sa/b',
  ],
  ['anonymous: the client IP', {}, 'ip:192.0.2.7'],
  [
    'failed login with a guessed key: the origin IP',
    { status: 401, credentialKind: 'api_key', credentialFingerprint: 'k1:guess' },
    'ip:192.0.2.7',
  ],
  [
    'failed call over verified mTLS: the workload',
    { status: 401, credentialKind: 'mtls', service: 'spiffe://x/y' },
    'service:spiffe://x/y',
  ],
  ['no IP at all', { clientIp: null }, 'ip:unknown'],
];
for (const [name, draft, expected] of cases) {
  test(`actorKey: ${name}`, () => {
    assert.equal(actorKey(buildEvent({ ...base, ...draft })), expected);
  });
}

test('actorEntity splits on the first colon only', () => {
  assert.deepEqual(actorEntity('credential:k1:abc'), { kind: 'credential', id: 'k1:abc' });
  assert.throws(() => actorEntity('tenant:x'));
});

test('memoActorKey: the armed event answers with one string; other events, and the event once cleared, are computed', () => {
  const a = buildEvent({ ...base, credentialKind: 'api_key', credentialFingerprint: 'k1:abc' });
  const b = buildEvent({ ...base, user: 'bob' });
  memoActorKey(a);
  try {
    const first = actorKey(a);
    assert.equal(first, 'credential:k1:abc');
    assert.equal(actorKey(a), first);
    assert.equal(actorKey(b), 'user:bob');
  } finally {
    memoActorKey(null);
  }
  const changed = { ...a, identity: { ...a.identity, auth: 'failure' as const } };
  assert.equal(actorKey(changed), 'ip:192.0.2.7');
  assert.equal(actorKey(a), 'credential:k1:abc');
});
