import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ChdbStore, type Finding } from '@apiwatch/core';
import { nginxTraffic, runApiwatch, startEmbedded, waitFor } from '../src/index.ts';

/**
 * Live ingest of a file and `apiwatch replay` of the same file raise the same findings: the
 * same episodes (finding ids) under the same fingerprints, since both judge on event time.
 */
test('live ingest of a file gives the same finding fingerprints and ids as its replay', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-replay-live-'));
  const file = join(dir, 'access.json.log');
  const lines = [
    ...nginxTraffic({
      seed: 21,
      // Recent: events older than store.retention.eventsDays are dropped at insert.
      start: Date.now() - 3_600_000,
      benignEvents: 1500,
      attackerIp: '203.0.113.91',
      attackAttempts: 30,
    }),
  ];
  writeFileSync(file, `${lines.join('\n')}\n`);

  const replay = await runApiwatch(['replay', '--format', 'nginx', file], {
    APIWATCH__DATADIR: join(dir, 'replay-data'),
  });
  assert.equal(replay.code, 0, replay.stderr);
  const replayed = replay.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Finding);
  assert.ok(replayed.some((f) => f.status === 'firing'));

  const { app, env } = await startEmbedded(t, join(dir, 'data'));
  const c = await runApiwatch(['collect', '--format', 'nginx', '--file', file, '--once'], env);
  assert.equal(c.code, 0, c.stderr);
  await waitFor(
    'the finding in the log',
    () => (app.output().includes('finding: ip 203.0.113.91') ? true : undefined),
    30_000,
    app.output,
  );
  assert.equal(await app.stop('SIGTERM'), 0, app.output());
  const store = new ChdbStore(join(dir, 'data', 'chdb'));
  await store.start();
  t.after(() => store.close());
  const live = await store.query<{ id: string; fingerprint: string; detector: string }>(
    'SELECT DISTINCT id, fingerprint, detector FROM findings ORDER BY id',
  );
  const want = [
    ...new Map(
      replayed.map((f) => [f.id, { id: f.id, fingerprint: f.fingerprint, detector: f.detector }]),
    ).values(),
  ].sort((a, b) => (a.id < b.id ? -1 : 1));
  assert.deepEqual(live, want);
});
