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
