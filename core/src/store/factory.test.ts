import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../config/load.ts';
import { createSecretResolver } from '../config/secrets.ts';
import { StartupError } from '../errors.ts';
import { clickhousePassword, httpEndpointUsers } from './factory.ts';

const dir = mkdtempSync(join(tmpdir(), 'apiwatch-factory-'));
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

function configWith(yaml: string) {
  const file = join(dir, `${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, yaml);
  return loadConfig(file, {});
}

test('store passwords go through the secret resolver: hash, variable or file', () => {
  const pwFile = join(dir, 'loader-pw');
  writeFileSync(pwFile, 'from-file\n');
  const config = configWith(
    [
      'store:',
      '  http:',
      '    users:',
      `      - { name: a, passwordSha256: ${sha('x')} }`,
      '      - { name: b, passwordEnv: B_PW }',
      `      - { name: c, passwordFile: ${pwFile}, readonly: false }`,
    ].join('\n'),
  );
  const users = httpEndpointUsers(config, createSecretResolver({ B_PW: 'from-env' }));
  assert.deepEqual(
    users.map((u) => [u.name, u.passwordSha256, u.readonly]),
    [
      ['a', sha('x'), true],
      ['b', sha('from-env'), true],
      ['c', sha('from-file'), false],
    ],
  );
  assert.throws(
    () => httpEndpointUsers(config, createSecretResolver({})),
    (e: unknown) =>
      e instanceof StartupError && /store\.http\.users\[b\]: environment variable B_PW/.test(e.message),
  );
});

test('the ClickHouse password: passwordFile wins, an unset default variable means none', () => {
  const none = configWith('store: { kind: clickhouse }\n');
  assert.equal(clickhousePassword(none.clickhouse, createSecretResolver({})), '');
  assert.equal(
    clickhousePassword(none.clickhouse, createSecretResolver({ APIWATCH_CLICKHOUSE_PASSWORD: 'pw' })),
    'pw',
  );
  const pwFile = join(dir, 'ch-pw');
  writeFileSync(pwFile, 'file-pw\n');
  const withFile = configWith(`clickhouse: { passwordFile: ${pwFile} }\n`);
  assert.equal(
    clickhousePassword(withFile.clickhouse, createSecretResolver({ APIWATCH_CLICKHOUSE_PASSWORD: 'pw' })),
    'file-pw',
  );
  const missing = configWith('clickhouse: { passwordFile: /nonexistent/pw }\n');
  assert.throws(
    () => clickhousePassword(missing.clickhouse, createSecretResolver({})),
    /clickhouse\.passwordFile: cannot read \/nonexistent\/pw/,
  );
});
