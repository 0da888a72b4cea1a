import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { StartupError } from '../errors.ts';
import { createSecretResolver, parseSecretRef } from './secrets.ts';

const dir = mkdtempSync(join(tmpdir(), 'apiwatch-secrets-'));
const file = join(dir, 'secret');
writeFileSync(file, '  from-file\n');
const resolve = createSecretResolver({ TOKEN: ' from-env\n', EMPTY: '' });

test('references and key pairs resolve, trimmed', () => {
  assert.equal(resolve('k', { ref: 'env:TOKEN' }, true), 'from-env');
  assert.equal(resolve('k', { ref: `file:${file}` }, true), 'from-file');
  assert.equal(resolve('k', { env: 'TOKEN' }, true), 'from-env');
  assert.equal(resolve('k', { file }, true), 'from-file');
  assert.equal(resolve('k', { inline: 'https://hooks' }, true), 'https://hooks');
  assert.equal(resolve('k', {}, false), null);
  assert.equal(resolve('k', { env: 'UNSET', envMayBeUnset: true }, false), null);
});

const bad: Array<[string, Parameters<typeof resolve>[1], boolean, RegExp]> = [
  ['unset variable', { ref: 'env:UNSET' }, true, /a\.b: environment variable UNSET is not set/],
  ['empty variable', { env: 'EMPTY' }, false, /EMPTY is not set/],
  ['missing file', { ref: 'file:/nonexistent/s' }, true, /a\.b: cannot read \/nonexistent\/s/],
  ['nothing but required', {}, true, /a\.b: set the secret as env:<VARIABLE> or file:<path>/],
  ['not a reference', { ref: 'hunter2' }, true, /a\.b: a secret reference is env:<VARIABLE> or file:<path>/],
];
for (const [name, source, required, pattern] of bad) {
  test(`a coded start-up error naming the key: ${name}`, () => {
    assert.throws(
      () => resolve('a.b', source, required),
      (e: unknown) => e instanceof StartupError && e.code === 'CONFIG_INVALID' && pattern.test(e.message),
    );
  });
}

test('parseSecretRef splits the two forms', () => {
  assert.deepEqual(parseSecretRef('k', 'env:A_1'), { env: 'A_1' });
  assert.deepEqual(parseSecretRef('k', 'file:./x'), { file: './x' });
  assert.throws(() => parseSecretRef('k', 'env:1A'), StartupError);
});
