/**
 * `npm test`: every workspace's unit tests and the end-to-end suites in one node:test run (one
 * summary CI can read). Before the run it starts the services integration tests need through
 * our own scripts (infra/scripts/kafka.sh, infra/scripts/redis.sh) when it can; tests that still
 * find a service missing skip loudly, and with APIWATCH_REQUIRE_SERVICES=1 (set by CI) fail.
 *
 *   npm test                      all tests
 *   npm test -- core ingest       only tests whose path contains one of these words
 *   APIWATCH_TEST_SERVICES=0 npm test   do not start Kafka/Redis (integration tests skip)
 */
import { spawnSync } from 'node:child_process';
import { globSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const passthrough = process.argv.slice(2).filter((a) => a.startsWith('-'));

const files = globSync(
  [
    'core/src/**/*.test.ts',
    'ingest/src/**/*.test.ts',
    'detectors/src/**/*.test.ts',
    'alerting/src/**/*.test.ts',
    'dashboards/src/**/*.test.ts',
    'cli/src/**/*.test.ts',
    'infra/src/**/*.test.ts',
    'test/**/*.test.ts',
  ],
  { cwd: root },
)
  .filter((f) => !f.includes('node_modules'))
  .filter((f) => filters.length === 0 || filters.some((w) => f.includes(w)))
  .sort();

if (files.length === 0) {
  process.stderr.write(`test: no test files match ${filters.join(' ')}\n`);
  process.exit(1);
}

const needsServices = files.some((f) => f.startsWith('test/'));
if (needsServices && process.env.APIWATCH_TEST_SERVICES !== '0') {
  for (const [name, script] of [
    ['Redis', 'infra/scripts/redis.sh'],
    ['Kafka', 'infra/scripts/kafka.sh'],
  ] as const) {
    process.stderr.write(`test: starting ${name} (${script} start) ...\n`);
    const r = spawnSync('bash', [join(root, script), 'start'], {
      stdio: ['ignore', 'inherit', 'inherit'],
      cwd: root,
    });
    if (r.status !== 0) {
      process.stderr.write(
        `test: WARNING: could not start ${name}; its integration tests will ${process.env.APIWATCH_REQUIRE_SERVICES === '1' ? 'FAIL' : 'SKIP'}.\n`,
      );
    }
  }
}

const result = spawnSync(
  process.execPath,
  [
    '--test',
    '--test-reporter=spec',
    '--test-concurrency=1',
    '--test-timeout=600000',
    ...passthrough,
    ...files,
  ],
  { stdio: 'inherit', cwd: root, env: { ...process.env, APIWATCH_ROOT: root } },
);
process.exit(result.status ?? 1);
