import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { type ApiEvent, createLogger, type DlqRecord, MemoryBus } from '@apiwatch/core';
import { createIngestServer, sha256Hex } from '@apiwatch/ingest';
import { freePort, nginxTraffic, runApiwatch } from '../src/index.ts';

/**
 * Issue 8 §A3: `apiwatch collect` as a user runs it (the real CLI), against a real ingest server
 * (in this process, over a memory bus we read back).
 */

const TOKEN = 'collect-e2e-token-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'apiwatch-collect-'));
const tokenFile = join(dir, 'token');
const bus = new MemoryBus(100_000);
const received: ApiEvent[] = [];
const dead: DlqRecord[] = [];
let url = '';
let closeServer: () => Promise<void>;

before(async () => {
  writeFileSync(tokenFile, TOKEN);
  await bus.subscribe('events', 'test', async (b) => {
    for (const m of b) received.push(m.value);
  });
  await bus.subscribe('dlq', 'test', async (b) => {
    for (const m of b) dead.push(m.value);
  });
  const server = await createIngestServer({
    host: '127.0.0.1',
    port: 0,
    maxBodyBytes: 16 * 1024 * 1024,
    maxRecordsPerRequest: 50_000,
    collectors: [{ id: 'e2e', tokenSha256: sha256Hex(TOKEN) }],
    bus,
    log: createLogger('silent'),
  });
  url = server.url();
  closeServer = () => server.app.close();
});
after(async () => {
  await closeServer();
  await bus.close();
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
/** A fresh data directory (positions live there) and a log file of `lines`. */
function setup(lines: string[], name = 'access.json.log'): { env: NodeJS.ProcessEnv; file: string } {
  const sub = join(dir, `case-${++n}`);
  const file = join(sub, name);
  mkdirSync(sub, { recursive: true });
  const text = `${lines.join('\n')}\n`;
  writeFileSync(file, name.endsWith('.gz') ? gzipSync(text) : text);
  return { env: { APIWATCH__DATADIR: join(sub, 'data'), APIWATCH__LOGLEVEL: 'warn' }, file };
}
const traffic = (seed: number, events: number, start = Date.now() - 3_600_000) =>
  nginxTraffic({ seed, start, benignEvents: events });

/**
 * The argv of `apiwatch collect --once` shipping the NGINX log `file` to `to` (default: this
 * file's ingest server) with the test token, then `extra` flags.
 */
const collectOnce = (file: string, extra: string[] = [], to = url) => [
  'collect',
  '--format',
  'nginx',
  '--file',
  file,
  '--once',
  '--url',
  to,
  '--token-file',
  tokenFile,
  ...extra,
];

const noStack = (stderr: string) => assert.doesNotMatch(stderr, /^\s+at /m, `no stack trace:\n${stderr}`);

test('collect --once on a missing file: one coded line, exit 2, nothing shipped', async () => {
  const { env } = setup([]);
  const r = await runApiwatch(collectOnce(join(dir, 'nope.log')), env);
  assert.equal(r.code, 2, r.stderr);
  assert.match(
    r.stderr,
    /^apiwatch: .*nope\.log does not exist; nothing was shipped \[COLLECT_INPUT_MISSING\]$/m,
  );
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  noStack(r.stderr);
});

test('collect --once to an unreachable ingest: a bounded retry budget, then exit 1 saying what was not shipped', async () => {
  const { env, file } = setup(traffic(1, 40));
  const port = await freePort();
  const t0 = Date.now();
  const r = await runApiwatch(collectOnce(file, ['--retry-attempts', '3'], `http://127.0.0.1:${port}`), env);
  assert.equal(r.code, 1, r.stderr);
  assert.ok(Date.now() - t0 < 30_000, 'gave up within its budget');
  assert.match(
    r.stderr,
    /^apiwatch collect: ingest at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED after 3 attempts \[COLLECT_INGEST_UNREACHABLE\]; shipped 0 of 40 events, 40 not shipped/m,
  );
  noStack(r.stderr);

  // The position was not saved past what was not shipped: a run with ingest up sends it all.
  const before = received.length;
  const again = await runApiwatch(collectOnce(file), env);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /40 lines → 40 events, 40 accepted/);
  assert.equal(received.length - before, 40);
});

test('collect --once twice: the second run says the saved position means nothing new; --from-start ships it again', async () => {
  const { env, file } = setup(traffic(2, 25));
  const args = collectOnce(file);
  const first = await runApiwatch(args, env);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /25 lines → 25 events, 25 accepted/);
  const before = received.length;
  const second = await runApiwatch(args, env);
  assert.equal(second.code, 0, second.stderr);
  assert.match(
    second.stderr,
    /collect: nothing new in .*access\.json\.log: the saved position \(.*\) is at its end; --from-start ships it again\./,
  );
  assert.equal(received.length, before, 'nothing sent');
  const third = await runApiwatch([...args, '--from-start'], env);
  assert.equal(third.code, 0, third.stderr);
  assert.match(third.stderr, /25 lines → 25 events, 25 accepted/);
});

test('collect reads .gz like parse and replay, once; a second run finds nothing new', async () => {
  const { env, file } = setup(traffic(3, 30), 'access.json.log.1.gz');
  const args = ['collect', '--format', 'nginx', '--file', file, '--url', url, '--token-file', tokenFile];
  const first = await runApiwatch(args, env);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /30 lines → 30 events, 30 accepted/);
  const second = await runApiwatch(args, env);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stderr, /nothing new in .*\.gz/);
});

test('an over-long line is reported as such (COLLECT_LINE_TOO_LONG), the other lines are shipped', async () => {
  const lines = traffic(4, 10);
  const long = `{"padding":"${'x'.repeat(300_000)}"}`;
  const { env, file } = setup([...lines.slice(0, 5), long, ...lines.slice(5)]);
  const deadBefore = dead.length;
  const r = await runApiwatch(collectOnce(file, ['--max-line-bytes', '100000']), env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stderr,
    /11 lines → 10 events, 10 accepted .*; 1 lines longer than 100,000 bytes \(cut, not parsed\)/,
  );
  await bus.flush();
  const tooLong = dead.slice(deadBefore).filter((d) => d.code === 'COLLECT_LINE_TOO_LONG');
  assert.equal(tooLong.length, 1);
  assert.ok(tooLong[0]!.raw.length <= 16_384, 'kept cut');
});

test('a JSON line nested 100,000 levels deep is reported and dead-lettered, never a crash', async () => {
  const deep = `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`;
  const { env, file } = setup([deep]);
  const deadBefore = dead.length;
  const r = await runApiwatch(
    ['collect', '--format', 'kong', '--file', file, '--once', '--url', url, '--token-file', tokenFile],
    env,
  );
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /RangeError|\n\s+at /, 'no stack trace');
  assert.match(r.stderr, /1 lines not readable as kong/);
  await bus.flush();
  assert.deepEqual(
    dead.slice(deadBefore).map((d) => d.code),
    ['INGEST_PARSE_TOO_DEEP'],
  );
});

test('events older than retention are reported in the collect summary', async () => {
  const { env, file } = setup(traffic(5, 20, Date.now() - 40 * 86_400_000));
  const r = await runApiwatch(collectOnce(file), env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stderr,
    /collect: 20 events are older than store\.retention\.eventsDays \(30 days\): the store drops them at insert\. .*docs\/store\.md#retention/,
  );
});
