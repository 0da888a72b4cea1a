import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ChdbStore } from '@apiwatch/core';
import { nginxTraffic, runApiwatch, startEmbedded, waitFor } from '../src/index.ts';

/** `apiwatch start` with no config: the embedded default a new user runs first. */
test('embedded start: collect ships a brute force, the finding is logged, events and finding are stored', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-embedded-'));
  const { app, port, env } = await startEmbedded(t, join(dir, 'data'));
  assert.match(app.output(), /listening on http:\/\/127\.0\.0\.1:\d+\/v1\/events/);
  const token = readFileSync(join(dir, 'data', 'collector-token'), 'utf8').trim();
  assert.ok(token.length >= 24, 'a collector token is generated on first start');

  const unauth = await fetch(`http://127.0.0.1:${port}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: '{}',
  });
  assert.equal(unauth.status, 401, 'even the embedded default authenticates collectors');

  const file = join(dir, 'access.json.log');
  const lines = nginxTraffic({
    seed: 9,
    // Recent: events older than store.retention.eventsDays (30) are dropped at insert.
    start: Date.now() - 3_600_000,
    benignEvents: 500,
    attackerIp: '203.0.113.90',
    attackAttempts: 30,
  });
  // One line no parser can read, carrying a secret: it must reach the DLQ table redacted.
  const garbage = 'not an access log ?api_key=sk_live_embedded_secret_42';
  writeFileSync(file, `${lines.join('\n')}\n${garbage}\n`);
  const c = await runApiwatch(['collect', '--format', 'nginx', '--file', file, '--once'], env);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stderr, /530 events, 530 accepted/);

  await waitFor(
    'the finding in the log',
    () => (app.output().includes('finding: ip 203.0.113.90') ? true : undefined),
    30_000,
    app.output,
  );
  const scraped = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  assert.match(scraped, /^apiwatch_ingest_events_total 530$/m, scraped);
  assert.match(scraped, /^apiwatch_ingest_rejected_total 1$/m, 'the unreadable line, via /v1/dlq');
  // The brute force is raised, then resolved once later traffic moved the watermark past its quiet period.
  assert.match(scraped, /^apiwatch_detect_findings_total 2$/m);
  assert.match(scraped, /^apiwatch_store_rows_total\{table="api_events"\} \d+$/m);
  assert.match(scraped, /^apiwatch_alert_findings_total\{outcome="routed"\} 0$/m, 'no receivers configured');
  assert.equal(await app.stop('SIGTERM'), 0, app.output());
  assert.match(app.output(), /apiwatch stopped/);

  const store = new ChdbStore(join(dir, 'data', 'chdb'));
  await store.start();
  t.after(() => store.close());
  const [events] = await store.query<{ n: string }>('SELECT uniqExact(id) AS n FROM api_events');
  const [findings] = await store.query<{ n: string; entity: string }>(
    'SELECT uniqExact(id) AS n, any(entity_id) AS entity FROM findings',
  );
  assert.equal(Number(events!.n), 530);
  assert.equal(Number(findings!.n), 1);
  assert.equal(findings!.entity, '203.0.113.90');
  const dead = await store.query<{ raw: string; code: string; source: string }>(
    'SELECT raw, code, source FROM dead_letters',
  );
  assert.equal(dead.length, 1);
  assert.equal(dead[0]!.source, 'nginx');
  assert.equal(dead[0]!.code, 'INGEST_PARSE_UNRECOGNISED');
  assert.ok(!dead[0]!.raw.includes('sk_live_embedded_secret_42'), dead[0]!.raw);
});
