import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { StartupError } from '../errors.ts';
import { loadConfig } from './load.ts';

function yamlFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-config-'));
  const file = join(dir, 'apiwatch.yaml');
  writeFileSync(file, text);
  return file;
}

test('no file and no env gives the embedded defaults, frozen', () => {
  const c = loadConfig(undefined, {});
  assert.equal(c.bus.kind, 'memory');
  assert.equal(c.store.kind, 'chdb');
  assert.equal(c.ingest.listen.port, 8080);
  assert.equal(c.ingest.listen.host, '127.0.0.1');
  assert.deepEqual(c.bus.kafka.brokers, ['127.0.0.1:9092']);
  assert.equal(c.bus.kafka.topics.events, 'apiwatch.events');
  assert.ok(Object.isFrozen(c.bus.kafka));
});

const invalid: Array<[string, string, RegExp]> = [
  ['unknown top-level key', 'buss:\n  kind: kafka\n', /buss/],
  ['unknown nested key', 'bus:\n  kafka:\n    brokerz: [a]\n', /bus\.kafka/],
  ['wrong type names the key', 'ingest:\n  listen:\n    port: eighty\n', /ingest\.listen\.port/],
  ['enum out of range', 'bus:\n  kind: rabbit\n', /bus\.kind/],
  [
    'bad collector hash',
    'ingest:\n  collectors:\n    - id: edge\n      tokenSha256: nothex\n',
    /ingest\.collectors\.0\.tokenSha256/,
  ],
];
for (const [name, yaml, pattern] of invalid) {
  test(`invalid config: ${name}`, () => {
    const file = yamlFile(yaml);
    assert.throws(
      () => loadConfig(file, {}),
      (e: unknown) =>
        e instanceof StartupError &&
        e.code === 'CONFIG_INVALID' &&
        pattern.test(e.message) &&
        e.message.includes(file),
    );
  });
}

test('YAML values and environment overrides combine; env wins', () => {
  const file = yamlFile(
    'bus:\n  kind: kafka\n  kafka:\n    brokers: ["k1:9092"]\nstore:\n  maxBatchRows: 100\n',
  );
  const c = loadConfig(file, {
    APIWATCH__STORE__MAXBATCHROWS: '250',
    APIWATCH__BUS__KAFKA__BROKERS: '["k2:9092","k3:9092"]',
  });
  assert.equal(c.bus.kind, 'kafka');
  assert.equal(c.store.maxBatchRows, 250);
  assert.deepEqual(c.bus.kafka.brokers, ['k2:9092', 'k3:9092']);
});

test('an environment override naming no key is an error that names the variable', () => {
  assert.throws(() => loadConfig(undefined, { APIWATCH__BUS__NOPE: '1' }), /APIWATCH__BUS__NOPE/);
});

test('unreadable and malformed files are reported with their path', () => {
  assert.throws(
    () => loadConfig('/nonexistent/apiwatch.yaml', {}),
    /CONFIG|cannot read config file \/nonexistent/,
  );
  const bad = yamlFile('bus: [unclosed\n');
  assert.throws(
    () => loadConfig(bad, {}),
    (e: unknown) => e instanceof StartupError && e.message.includes(bad),
  );
});

test('documented variables set their keys: a value, a secret reference, a file reference', () => {
  const c = loadConfig(undefined, {
    APIWATCH_LOG_FORMAT: 'json',
    APIWATCH_FINGERPRINT_KEY: 'not-copied-into-the-config',
    APIWATCH_FINGERPRINT_KEY_ID: 'k2',
    APIWATCH_FINGERPRINT_PREVIOUS_KEY_FILE: '/keys/old',
    APIWATCH_COLLECTOR_TOKEN: 'tok',
    APIWATCH_API_TOKEN: 'api',
  });
  assert.equal(c.logFormat, 'json');
  assert.deepEqual(c.identity.fingerprintKey, { secret: 'env:APIWATCH_FINGERPRINT_KEY', id: 'k2' });
  assert.equal(c.identity.previousFingerprintKey.secret, 'file:/keys/old');
  assert.equal(c.collect.token, 'env:APIWATCH_COLLECTOR_TOKEN');
  assert.equal(c.alert.api.clientToken, 'env:APIWATCH_API_TOKEN');
  // The secret itself never lands in the config object.
  assert.ok(!JSON.stringify(c).includes('not-copied-into-the-config'));
  const d = loadConfig(undefined, {});
  assert.equal(d.logFormat, 'auto');
  assert.equal(d.identity.fingerprintKey.secret, undefined);
  assert.equal(d.collect.token, undefined);
});

test('a documented variable beats the file, an APIWATCH__ override beats both; bad values name the key', () => {
  const file = yamlFile('logFormat: text\n');
  assert.equal(loadConfig(file, {}).logFormat, 'text');
  assert.equal(loadConfig(file, { APIWATCH_LOG_FORMAT: 'json' }).logFormat, 'json');
  assert.equal(
    loadConfig(file, { APIWATCH_LOG_FORMAT: 'json', APIWATCH__LOGFORMAT: 'auto' }).logFormat,
    'auto',
  );
  assert.throws(
    () => loadConfig(undefined, { APIWATCH_LOG_FORMAT: 'pretty' }),
    (e: unknown) =>
      e instanceof StartupError &&
      e.code === 'CONFIG_INVALID' &&
      /"logFormat" from environment variable APIWATCH_LOG_FORMAT/.test(e.message),
  );
  assert.throws(
    () => loadConfig(yamlFile('collect:\n  token: hunter2\n'), {}),
    (e: unknown) => e instanceof StartupError && /collect\.token/.test(e.message),
  );
});

test('identity.sources keys are checked against the formats the caller knows', () => {
  const file = yamlFile('identity:\n  sources:\n    ngnix:\n      apiKeyHeaders: [x-key]\n');
  assert.equal(Object.keys(loadConfig(file, {}).identity.sources).length, 1);
  assert.throws(
    () => loadConfig(file, {}, { formats: ['nginx', 'kong'] }),
    (e: unknown) =>
      e instanceof StartupError &&
      e.code === 'CONFIG_INVALID' &&
      e.message.includes('identity.sources.ngnix') &&
      e.message.includes('nginx, kong'),
  );
  const good = yamlFile('identity:\n  sources:\n    kong:\n      apiKeyHeaders: [x-key]\n');
  assert.deepEqual(
    loadConfig(good, {}, { formats: ['nginx', 'kong'] }).identity.sources.kong?.apiKeyHeaders,
    ['x-key'],
  );
});
