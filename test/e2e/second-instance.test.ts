import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { freePort, runApiwatch, startApiwatch, waitFor } from '../src/index.ts';

/**
 * Issue 8 §A1, with the real CLI: a second `apiwatch start` on a port in use exits 2 with one
 * line naming the port and its config key; on the same data directory it says another apiwatch
 * holds it; `store stats` and `migrate` keep working while the server runs (through its store
 * endpoint), or say how.
 */
const dir = mkdtempSync(join(tmpdir(), 'apiwatch-second-'));
const env = { APIWATCH_TEST_STORE_PASSWORD: 'ro-secret' };
let ingestPort: number;
let httpPort: number;
let first: ReturnType<typeof startApiwatch>;

function config(name: string, body: Record<string, unknown>): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, JSON.stringify(body, null, 2)); // JSON is YAML
  return file;
}

function withEndpoint(dataDir: string, ingest: number, http: number) {
  return {
    dataDir,
    logLevel: 'warn',
    ingest: { listen: { host: '127.0.0.1', port: ingest } },
    store: {
      http: {
        enabled: true,
        listen: { host: '127.0.0.1', port: http },
        users: [{ name: 'stats', passwordEnv: 'APIWATCH_TEST_STORE_PASSWORD', readonly: true }],
      },
    },
  };
}

/** The stderr lines that are not JSON log entries. */
function messageLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith('{'));
}

before(async () => {
  ingestPort = await freePort();
  httpPort = await freePort();
  first = startApiwatch(
    ['start', '-c', config('first', withEndpoint(join(dir, 'a'), ingestPort, httpPort))],
    env,
  );
  await waitFor(
    'the first instance',
    async () =>
      (await fetch(`http://127.0.0.1:${httpPort}/ping`).then(
        (r) => r.ok,
        () => false,
      )) || undefined,
    90_000,
    first.output,
  );
});

after(async () => {
  await first?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('port in use: exit 2, one line naming the port and the config key', async () => {
  const started = Date.now();
  const r = await runApiwatch(
    ['start', '-c', config('port', { ...withEndpoint(join(dir, 'b'), ingestPort, 0) })],
    env,
  );
  const elapsed = Date.now() - started;
  assert.equal(r.code, 2, r.stderr);
  const lines = messageLines(r.stderr);
  assert.equal(lines.length, 1, `one line, got:\n${r.stderr}`);
  assert.match(lines[0]!, new RegExp(`127\\.0\\.0\\.1:${ingestPort}\\b.*ingest\\.listen\\.port`));
  assert.match(lines[0]!, /\[LISTEN_ADDRESS_IN_USE\]$/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  process.stdout.write(`# second start on a used port exited 2 after ${elapsed} ms\n`);
});

test('same data directory: another apiwatch holds it, not an engine error', async () => {
  const r = await runApiwatch(['start', '-c', config('dir', withEndpoint(join(dir, 'a'), 0, 0))], env);
  assert.equal(r.code, 2, r.stderr);
  const lines = messageLines(r.stderr);
  assert.equal(lines.length, 1, `one line, got:\n${r.stderr}`);
  assert.match(
    lines[0]!,
    new RegExp(`another apiwatch \\(pid ${first.child.pid}\\b.*holds the data directory`),
  );
  assert.match(lines[0]!, /\[STORE_DATA_DIR_LOCKED\]$/);
  assert.doesNotMatch(r.stderr, /Cannot lock file|Failed to create connection/);
});

test('store stats and migrate while the server runs go through its store endpoint', async () => {
  const file = config('read', withEndpoint(join(dir, 'a'), 0, httpPort));
  const stats = await runApiwatch(['store', 'stats', '-c', file, '--json'], env);
  assert.equal(stats.code, 0, stats.stderr);
  assert.match(stats.stderr, /reading through its endpoint/);
  const tables = stats.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { table?: string });
  assert.ok(
    tables.some((t) => t.table === 'api_events'),
    stats.stdout,
  );

  const migrate = await runApiwatch(['migrate', '-c', file], env);
  assert.equal(migrate.code, 0, migrate.stderr);
  assert.match(migrate.stdout, /^0001_api_events {2}applied /m);
  assert.match(migrate.stderr, /the running server has applied them/);
});

test('without a store endpoint, store stats reads through the running server (its local reader)', async () => {
  const file = config('noendpoint', { dataDir: join(dir, 'a'), logLevel: 'warn' });
  const r = await runApiwatch(['store', 'stats', '-c', file], env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stderr,
    /pid \d+ holds .*chdb; reading through its endpoint http:\/\/127\.0\.0\.1:\d+ as apiwatch-local/,
  );
  assert.match(r.stdout, /api_events/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});
