import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createSecretResolver, type Environment, loadConfig, StartupError } from '@apiwatch/core';
import { loadIdentityContext } from './key.ts';

const OLD = 'aa'.repeat(32);
const NEW = 'bb'.repeat(32);
const dir = () => mkdtempSync(join(tmpdir(), 'apiwatch-key-'));

/** Through the real loader: the documented variables become identity.fingerprintKey and co. */
function contextFor(dataDir: string, env: Environment, file?: string, source?: string) {
  const config = loadConfig(file, { ...env, APIWATCH__DATADIR: dataDir });
  return loadIdentityContext(config, createSecretResolver(env), source);
}

test('a key file is created once (mode 600) and gives stable fingerprints', () => {
  const d = dir();
  const a = contextFor(d, {}).fingerprint('secret');
  const b = contextFor(d, {}).fingerprint('secret');
  assert.equal(a, b);
  assert.match(a, /^k1:/);
  assert.equal(statSync(join(d, 'fingerprint-key')).mode & 0o777, 0o600);
  assert.match(readFileSync(join(d, 'fingerprint-key'), 'utf8'), /^[0-9a-f]{64}\n$/);
});

test('env key and id: the id prefixes every fingerprint', () => {
  const ctx = contextFor(dir(), {
    APIWATCH_FINGERPRINT_KEY: NEW,
    APIWATCH_FINGERPRINT_KEY_ID: 'k2',
  });
  assert.equal(ctx.keyId, 'k2');
  assert.match(ctx.fingerprint('x'), /^k2:[A-Za-z0-9_-]{32}$/);
  assert.equal(ctx.previousFingerprint('x'), null);
});

test('rotation overlap: both fingerprints are computed and the pairs drained once', () => {
  const d = dir();
  const before = contextFor(d, { APIWATCH_FINGERPRINT_KEY: OLD, APIWATCH_FINGERPRINT_KEY_ID: 'k1' });
  const oldFp = before.fromApiKey('the-api-key').fingerprint;
  const keyFile = join(d, 'old-key');
  writeFileSync(keyFile, `${OLD}\n`);
  const during = contextFor(d, {
    APIWATCH_FINGERPRINT_KEY: NEW,
    APIWATCH_FINGERPRINT_KEY_ID: 'k2',
    APIWATCH_FINGERPRINT_PREVIOUS_KEY_FILE: keyFile,
    APIWATCH_FINGERPRINT_PREVIOUS_KEY_ID: 'k1',
  }).forSource('nginx');
  const newFp = during.fromApiKey('the-api-key').fingerprint;
  assert.notEqual(newFp, oldFp);
  assert.equal(during.previousFingerprint('the-api-key'), oldFp);
  during.fromApiKey('the-api-key');
  assert.deepEqual(during.drainRotationAliases(), [{ current: newFp, previous: oldFp }]);
  assert.deepEqual(during.drainRotationAliases(), []);
});

test('rotation aliases are bounded and the overflow counted', async () => {
  const { createIdentityContext } = await import('./context.ts');
  const ctx = createIdentityContext(Buffer.from(NEW, 'hex'), 'k2', {
    previous: { key: Buffer.from(OLD, 'hex'), keyId: 'k1' },
    maxRotationAliases: 3,
  });
  for (let i = 0; i < 5; i++) ctx.fingerprint(`s${i}`);
  assert.equal(ctx.drainRotationAliases().length, 3);
  assert.equal(ctx.rotationAliasesDropped, 2);
});

const bad: Array<[string, Environment, RegExp]> = [
  ['short key', { APIWATCH_FINGERPRINT_KEY: 'abcd' }, /at least 16 bytes/],
  [
    'same id for both keys',
    {
      APIWATCH_FINGERPRINT_KEY: NEW,
      APIWATCH_FINGERPRINT_PREVIOUS_KEY: OLD,
      APIWATCH_FINGERPRINT_PREVIOUS_KEY_ID: 'k1',
    },
    /another id/,
  ],
  [
    'previous key without an id',
    { APIWATCH_FINGERPRINT_KEY: NEW, APIWATCH_FINGERPRINT_PREVIOUS_KEY: OLD },
    /PREVIOUS_KEY_ID/,
  ],
  [
    'missing previous key file',
    { APIWATCH_FINGERPRINT_PREVIOUS_KEY_FILE: '/nonexistent/k', APIWATCH_FINGERPRINT_PREVIOUS_KEY_ID: 'k0' },
    /identity\.previousFingerprintKey\.secret: cannot read \/nonexistent\/k/,
  ],
  [
    'key id with a colon',
    { APIWATCH_FINGERPRINT_KEY: NEW, APIWATCH_FINGERPRINT_KEY_ID: 'k:1' },
    /must match/,
  ],
];
for (const [name, env, pattern] of bad) {
  test(`bad fingerprint key setup is a start-up error: ${name}`, () => {
    assert.throws(
      () => contextFor(dir(), env),
      (e: unknown) => e instanceof StartupError && pattern.test(e.message),
    );
  });
}

test('the identity config section and source reach the context', () => {
  const d = dir();
  const file = join(d, 'c.yaml');
  writeFileSync(file, 'identity:\n  sources:\n    kong:\n      apiKeyHeaders: [x-kong-key]\n');
  const ctx = contextFor(d, { APIWATCH_FINGERPRINT_KEY: NEW }, file, 'kong');
  assert.equal(ctx.source, 'kong');
  assert.deepEqual(ctx.rules.apiKeyHeaders, ['x-kong-key']);
  assert.deepEqual(ctx.forSource('nginx').rules.apiKeyHeaders, [
    'x-api-key',
    'apikey',
    'api-key',
    'x-apikey',
  ]);
});

test('the keys are config entries: a secret reference in the file works like the variables', () => {
  const d = dir();
  const keyFile = join(d, 'key');
  writeFileSync(keyFile, `${NEW}\n`);
  const file = join(d, 'c.yaml');
  writeFileSync(file, `identity:\n  fingerprintKey:\n    secret: file:${keyFile}\n    id: k7\n`);
  const fromFile = contextFor(d, {}, file);
  const fromEnv = contextFor(dir(), { APIWATCH_FINGERPRINT_KEY: NEW, APIWATCH_FINGERPRINT_KEY_ID: 'k7' });
  assert.equal(fromFile.fingerprint('s'), fromEnv.fingerprint('s'));
  const viaNamedVar = join(d, 'c2.yaml');
  writeFileSync(viaNamedVar, 'identity:\n  fingerprintKey:\n    secret: env:MY_FP_KEY\n    id: k7\n');
  assert.equal(contextFor(d, { MY_FP_KEY: NEW }, viaNamedVar).fingerprint('s'), fromEnv.fingerprint('s'));
  assert.throws(
    () => contextFor(d, {}, viaNamedVar),
    (e: unknown) =>
      e instanceof StartupError &&
      /identity\.fingerprintKey\.secret: environment variable MY_FP_KEY is not set/.test(e.message),
  );
});
