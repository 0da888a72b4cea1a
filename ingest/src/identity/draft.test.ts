import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type ApiEvent, buildEvent, loadConfig } from '@apiwatch/core';
import { createIdentityContext } from './context.ts';
import { credentialDraft, type IdentityClues, parseXfcc } from './draft.ts';

const KEY = Buffer.alloc(32, 7);

function jwt(claims: Record<string, unknown>): string {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc({ alg: 'RS256', typ: 'JWT' })}.${enc(claims)}.c2lnbmF0dXJlLW5vdC1jaGVja2Vk`;
}

function configFile(yaml: string): string | undefined {
  if (!yaml) return undefined;
  const file = join(mkdtempSync(join(tmpdir(), 'apiwatch-identity-')), 'apiwatch.yaml');
  writeFileSync(file, yaml);
  return file;
}

/** Through the real config loader, the identity context, and buildEvent: what lands in the event. */
function identityOf(yaml: string, source: string, clues: IdentityClues, status = 200): ApiEvent['identity'] {
  const config = loadConfig(configFile(yaml), {});
  const ctx = createIdentityContext(KEY, 'k1', { identity: config.identity, source });
  const draft = credentialDraft(ctx, clues);
  return buildEvent({ ts: 0, method: 'GET', path: '/', status, sourceKind: source, raw: 'x', ...draft }, 0)
    .identity;
}

const userJwt = jwt({
  iss: 'https://idp.example',
  sub: 'user-42',
  azp: 'web-app',
  tid: 'acme',
  scope: 'read write',
  jti: 'tok-1',
});
const machineJwt = jwt({ iss: 'https://idp.example', sub: 'etl-job', client_id: 'etl-job', scope: 'ingest' });
const auth0Machine = jwt({
  iss: 'https://t.auth0.com/',
  sub: 'abc123@clients',
  azp: 'abc123',
  gty: 'client-credentials',
});
const azureApp = jwt({
  iss: 'https://login.microsoftonline.com/t/v2.0',
  sub: 'sp-object',
  appid: 'app-1',
  idtyp: 'app',
  tid: 't-9',
  roles: ['Read'],
});
const customClaims = jwt({
  iss: 'kc',
  sub: 'opaque-id',
  email: 'ann@example.com',
  org: 'blue',
  perms: ['a:read', 'b:write'],
  cid: 'portal',
});
const basic = `Basic ${Buffer.from('alice:s3cr3t-pw').toString('base64')}`;

type Expect = Partial<{
  kind: string;
  fingerprintPrefix: string | null;
  ref: string | null;
  issuer: string | null;
  user: string | null;
  service: string | null;
  tenant: string | null;
  scopes: string[];
  principal: string;
  auth: string;
}>;

const cases: Array<{
  name: string;
  yaml?: string;
  source?: string;
  clues: IdentityClues;
  status?: number;
  expect: Expect;
}> = [
  {
    name: 'JWT defaults: sub is the user, azp the service, tid the tenant, scope split, jti the ref',
    clues: { authorization: `Bearer ${userJwt}` },
    expect: {
      kind: 'jwt',
      fingerprintPrefix: 'k1:',
      ref: 'tok-1',
      issuer: 'https://idp.example',
      user: 'user-42',
      service: 'web-app',
      tenant: 'acme',
      scopes: ['read', 'write'],
      principal: 'user',
      auth: 'success',
    },
  },
  {
    name: 'client-credentials JWT (sub = client_id) is a batch call with no user',
    clues: { authorization: `Bearer ${machineJwt}` },
    expect: { kind: 'jwt', user: null, service: 'etl-job', principal: 'batch', scopes: ['ingest'] },
  },
  {
    name: 'Auth0 machine token (gty, @clients) is batch',
    clues: { authorization: `Bearer ${auth0Machine}` },
    expect: { user: null, service: 'abc123', principal: 'batch' },
  },
  {
    name: 'Azure AD app-only token (idtyp: app) is batch; appid is the service',
    clues: { authorization: `Bearer ${azureApp}` },
    expect: { user: null, service: 'app-1', tenant: 't-9', principal: 'batch' },
  },
  {
    name: 'configured claims: userClaim email, tenantClaim org, scopesClaim perms',
    yaml: 'identity:\n  jwt:\n    userClaim: email\n    tenantClaim: org\n    scopesClaim: perms\n',
    clues: { authorization: `Bearer ${customClaims}` },
    expect: { user: 'ann@example.com', tenant: 'blue', scopes: ['a:read', 'b:write'], service: 'portal' },
  },
  {
    name: 'a per-source override applies to its source only (nginx)',
    yaml: 'identity:\n  sources:\n    nginx:\n      jwt:\n        userClaim: [email, sub]\n',
    source: 'nginx',
    clues: { authorization: `Bearer ${customClaims}` },
    expect: { user: 'ann@example.com' },
  },
  {
    name: 'the same override leaves another source on the defaults (kong)',
    yaml: 'identity:\n  sources:\n    nginx:\n      jwt:\n        userClaim: [email, sub]\n',
    source: 'kong',
    clues: { authorization: `Bearer ${customClaims}` },
    expect: { user: 'opaque-id' },
  },
  {
    name: 'gateway-decoded claims (no token) map by the same rules, no fingerprint',
    clues: { jwtClaims: { sub: 'u-7', client_id: 'mobile', iss: 'cognito' }, scopes: ['s1'] },
    expect: {
      kind: 'jwt',
      fingerprintPrefix: null,
      user: 'u-7',
      service: 'mobile',
      issuer: 'cognito',
      scopes: ['s1'],
    },
  },
  {
    name: 'API key from a default header is fingerprinted',
    clues: { headers: { 'X-Api-Key': 'live_9f8e7d6c5b4a' } },
    expect: { kind: 'api_key', fingerprintPrefix: 'k1:', principal: 'unknown', auth: 'success' },
  },
  {
    name: 'API key with the Kong consumer as service and the credential id as ref',
    clues: { apiKey: 'kong-raw-key', service: 'billing-app', credentialRef: 'cred-uuid-1' },
    expect: { kind: 'api_key', ref: 'cred-uuid-1', service: 'billing-app', user: null, principal: 'batch' },
  },
  {
    name: 'an API-key header name configured per source',
    yaml: 'identity:\n  sources:\n    nginx:\n      apiKeyHeaders: [x-partner-key]\n',
    source: 'nginx',
    clues: { headers: { 'x-partner-key': 'pk_123', 'x-api-key': 'ignored-here' } },
    expect: { kind: 'api_key', fingerprintPrefix: 'k1:' },
  },
  {
    name: 'Basic keeps the username only',
    clues: { authorization: basic },
    expect: { kind: 'basic', fingerprintPrefix: null, user: 'alice', ref: 'alice', principal: 'user' },
  },
  {
    name: 'Basic 401 is an auth failure',
    clues: { basicUser: 'mallory' },
    status: 401,
    expect: { kind: 'basic', user: 'mallory', auth: 'failure' },
  },
  {
    name: 'mTLS: the SPIFFE id is the service, its trust domain the issuer',
    clues: { mtlsSubject: 'URI:spiffe://prod.example/ns/pay/sa/api', mtlsVerified: true },
    expect: {
      kind: 'mtls',
      service: 'spiffe://prod.example/ns/pay/sa/api',
      issuer: 'spiffe://prod.example',
      user: null,
      principal: 'batch',
    },
  },
  {
    name: 'mTLS: a subject DN when there is no SPIFFE id',
    clues: {
      mtlsSubject: 'CN=My Client,O=Amazon Web Services,C=US',
      mtlsIssuer: 'CN=My Private CA',
      mtlsRef: '1',
    },
    expect: {
      kind: 'mtls',
      service: 'CN=My Client,O=Amazon Web Services,C=US',
      issuer: 'CN=My Private CA',
      ref: '1',
    },
  },
  {
    name: 'an unverified client certificate is not an identity',
    clues: { mtlsSubject: 'CN=forged', mtlsVerified: false },
    expect: { kind: 'none', service: null, principal: 'anonymous' },
  },
  {
    name: 'XFCC header (when trusted) gives the caller SPIFFE id; JWT gives the user (dual identity)',
    yaml: 'identity:\n  trustedHeaders:\n    clientCert: [x-forwarded-client-cert]\n',
    clues: {
      authorization: `Bearer ${userJwt}`,
      headers: {
        'x-forwarded-client-cert':
          'By=spiffe://c/ns/a/sa/b;Hash=abc;Subject="";URI=spiffe://c/ns/web/sa/frontend',
      },
    },
    expect: { kind: 'jwt', user: 'user-42', service: 'spiffe://c/ns/web/sa/frontend', principal: 'user' },
  },
  {
    name: 'XFCC is ignored unless configured (client-settable header)',
    clues: { headers: { 'x-forwarded-client-cert': 'URI=spiffe://c/ns/evil/sa/x' } },
    expect: { kind: 'none', service: null },
  },
  {
    name: 'Kerberos: Negotiate plus the gateway principal header',
    yaml: 'identity:\n  trustedHeaders:\n    kerberosPrincipal: [x-remote-user]\n',
    clues: {
      authorization: 'Negotiate YIIGhgYJKoZIhvcSAQICAQBuggZ1MIIGcaADAgEF',
      headers: { 'X-Remote-User': 'bob@CORP.EXAMPLE' },
    },
    expect: {
      kind: 'kerberos',
      fingerprintPrefix: null,
      user: 'bob@CORP.EXAMPLE',
      ref: 'bob@CORP.EXAMPLE',
      issuer: 'CORP.EXAMPLE',
      principal: 'user',
    },
  },
  {
    name: 'Kerberos service principal (name/instance@REALM) is a batch service',
    yaml: 'identity:\n  trustedHeaders:\n    kerberosPrincipal: [x-kerberos-principal]\n',
    clues: { headers: { 'x-kerberos-principal': 'etl/worker01.corp.example@CORP.EXAMPLE' } },
    expect: {
      kind: 'kerberos',
      user: null,
      service: 'etl/worker01.corp.example@CORP.EXAMPLE',
      principal: 'batch',
    },
  },
  {
    name: 'trusted ext_authz headers give user and tenant when configured',
    yaml: 'identity:\n  trustedHeaders:\n    user: [x-user-id]\n    tenant: [x-tenant]\n',
    clues: { apiKey: 'k-1', headers: { 'x-user-id': 'user1@example.com', 'x-tenant': 'acme' } },
    expect: { kind: 'api_key', user: 'user1@example.com', tenant: 'acme', principal: 'user' },
  },
  {
    name: 'forwarded identity headers are ignored when not configured',
    clues: { apiKey: 'k-1', headers: { 'x-user-id': 'admin' } },
    expect: { user: null },
  },
  {
    name: 'a session cookie is fingerprinted; other cookies are not credentials',
    clues: { headers: { cookie: 'theme=dark; JSESSIONID=ABCDEF0123456789; _ga=GA1.2' } },
    expect: { kind: 'session', fingerprintPrefix: 'k1:' },
  },
  {
    name: 'an already-redacted Authorization (Kong 3.x) is not a credential',
    clues: { authorization: 'REDACTED' },
    expect: { kind: 'none', fingerprintPrefix: null, principal: 'anonymous', auth: 'none' },
  },
  {
    name: 'opaque bearer token: a session fingerprint',
    clues: { authorization: 'Bearer 2YotnFZFEjr1zCsicMWpAA' },
    expect: { kind: 'session', fingerprintPrefix: 'k1:' },
  },
  {
    name: 'AWS SigV4: the access key id is the ref, the signature is dropped',
    clues: {
      authorization:
        'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240101/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024',
    },
    expect: { kind: 'api_key', ref: 'AKIAIOSFODNN7EXAMPLE', fingerprintPrefix: 'k1:' },
  },
  {
    name: 'the gateway verdict wins over the status',
    clues: { apiKey: 'k', authOutcome: 'failure' },
    status: 403,
    expect: { auth: 'failure' },
  },
  {
    name: 'no credential at all: anonymous',
    clues: {},
    expect: { kind: 'none', user: null, service: null, principal: 'anonymous', auth: 'none' },
  },
];

for (const c of cases) {
  test(`identity: ${c.name}`, () => {
    const id = identityOf(c.yaml ?? '', c.source ?? 'canonical', c.clues, c.status);
    const e = c.expect;
    if (e.kind !== undefined) assert.equal(id.credential.kind, e.kind);
    if (e.fingerprintPrefix === null) assert.equal(id.credential.fingerprint, null);
    else if (e.fingerprintPrefix !== undefined)
      assert.match(id.credential.fingerprint ?? '', new RegExp(`^${e.fingerprintPrefix}[A-Za-z0-9_-]{32}$`));
    if (e.ref !== undefined) assert.equal(id.credential.ref, e.ref);
    if (e.issuer !== undefined) assert.equal(id.credential.issuer, e.issuer);
    if (e.user !== undefined) assert.equal(id.user, e.user);
    if (e.service !== undefined) assert.equal(id.service, e.service);
    if (e.tenant !== undefined) assert.equal(id.tenant, e.tenant);
    if (e.scopes !== undefined) assert.deepEqual(id.scopes, e.scopes);
    if (e.principal !== undefined) assert.equal(id.principal, e.principal);
    if (e.auth !== undefined) assert.equal(id.auth, e.auth);
  });
}

test('identity: no secret from the clues appears anywhere in the event', () => {
  const secrets = [
    's3cr3t-pw',
    userJwt,
    'live_9f8e7d6c5b4a',
    'ABCDEF0123456789',
    '2YotnFZFEjr1zCsicMWpAA',
    'fe5f80f77d5fa3beca038a248ff027d0',
  ];
  const clueSets: IdentityClues[] = [
    { authorization: basic },
    { authorization: `Bearer ${userJwt}` },
    { headers: { 'x-api-key': 'live_9f8e7d6c5b4a', cookie: 'sessionid=ABCDEF0123456789' } },
    { authorization: 'Bearer 2YotnFZFEjr1zCsicMWpAA' },
    {
      authorization:
        'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/x/y/z/aws4_request, Signature=fe5f80f77d5fa3beca038a248ff027d0',
    },
  ];
  for (const clues of clueSets) {
    const text = JSON.stringify(identityOf('', 'canonical', clues));
    for (const s of secrets) assert.ok(!text.includes(s), `${s.slice(0, 12)}… leaked into ${text}`);
  }
});

test('identity: the same secret has the same fingerprint across sources, a different one under another key', () => {
  const a = createIdentityContext(KEY, 'k1').forSource('nginx').fromApiKey('abc').fingerprint;
  const b = createIdentityContext(KEY, 'k1').forSource('kong').fromApiKey('abc').fingerprint;
  const c = createIdentityContext(Buffer.alloc(32, 8), 'k2').fromApiKey('abc').fingerprint;
  assert.equal(a, b);
  assert.notEqual(a, c);
  assert.ok(c?.startsWith('k2:'));
});

test('identity: unknown keys in the identity section are config errors naming the key', () => {
  const file = configFile('identity:\n  sources:\n    nginx:\n      jwt:\n        usrClaim: email\n');
  assert.throws(() => loadConfig(file, {}), /identity\.sources\.nginx\.jwt/);
});

test('XFCC parsing takes the nearest element and honours quotes', () => {
  const v = parseXfcc(
    `By=spiffe://a;URI=spiffe://first,By=spiffe://b;Subject="CN=x, O=y";Hash=${'a'.repeat(64)}`,
  );
  assert.deepEqual(v, { subject: 'CN=x, O=y', hash: 'a'.repeat(64) });
});
