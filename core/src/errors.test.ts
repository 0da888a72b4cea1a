import assert from 'node:assert/strict';
import { globSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ERROR_CODES } from './errors.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/** Source files that may emit codes: every workspace's non-test code, errors.ts itself aside. */
function sources(): string {
  return globSync('{core,ingest,detectors,alerting,dashboards,cli}/src/**/*.ts', { cwd: ROOT })
    .filter((f) => !f.endsWith('.test.ts') && !f.endsWith('core/src/errors.ts'))
    .map((f) => readFileSync(join(ROOT, f), 'utf8'))
    .join('\n');
}

test('every documented error code is emitted somewhere, and a retired one nowhere', () => {
  const code = sources();
  for (const [name, spec] of Object.entries(ERROR_CODES) as Array<[string, { retired?: boolean }]>) {
    const used = new RegExp(`['"\`]${name}['"\`]`).test(code);
    if (spec.retired) assert.equal(used, false, `${name} is retired but still emitted`);
    else
      assert.ok(used, `${name} is documented in core/src/errors.ts but never emitted: emit it or delete it`);
  }
});

test('docs/errors.md is the generated table of every code (npm run gen)', () => {
  const doc = readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8');
  for (const name of Object.keys(ERROR_CODES))
    assert.match(doc, new RegExp(`^\\| \`${name}\` \\|`, 'm'), name);
});
