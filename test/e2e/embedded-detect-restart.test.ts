import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildEvent } from '@apiwatch/core';
import {
  type ApiwatchProcess,
  freePort,
  scrapeMetric,
  startApiwatch,
  waitFor,
  waitUntilHealthy,
} from '../src/index.ts';

/**
 * Issue 9 §1 "restarts lose nothing", in the embedded default (one process, the journaled memory
 * bus): detector state is checkpointed with the bus offset it covers, so a brute force split by a
 * `kill -9` is still seen. Six failed logins before the kill, six after: the brute-force detector
 * needs ten in a minute from one address, so only an engine that kept the first six raises it.
 * The same scenario with checkpoints off (the previous behaviour) raises nothing: the control
 * proves the test can fail.
 */

interface Server {
  app: ApiwatchProcess;
  url: string;
  token: string;
  metrics: string;
}

function configFile(dir: string, port: number, metricsPort: number, intervalSeconds: number): string {
  const file = join(dir, `apiwatch-${intervalSeconds}.yaml`);
  writeFileSync(
    file,
    [
      `dataDir: ${join(dir, `data-${intervalSeconds}`)}`,
      'logLevel: info',
      'logFormat: json',
      `ingest: { listen: { host: 127.0.0.1, port: ${port} } }`,
      `telemetry: { metrics: { host: 127.0.0.1, port: ${metricsPort} } }`,
      'store: { kind: none }',
      'detect:',
      `  checkpoint: { intervalSeconds: ${intervalSeconds} }`,
      '  baselines: { enabled: false }',
    ].join('\n'),
  );
  return file;
}

async function start(file: string, dataDir: string, port: number, metricsPort: number): Promise<Server> {
  const app = startApiwatch(['start', '--config', file]);
  const url = `http://127.0.0.1:${port}`;
  await waitUntilHealthy(url, app.output);
  return {
    app,
    url,
    token: readFileSync(join(dataDir, 'collector-token'), 'utf8').trim(),
    metrics: `http://127.0.0.1:${metricsPort}/metrics`,
  };
}

/** Failed logins from one address, `from`..`from + n - 1` seconds after `t0`. */
function failures(t0: number, from: number, n: number): string {
  const lines: string[] = [];
  for (let i = from; i < from + n; i++)
    lines.push(
      JSON.stringify(
        buildEvent({
          ts: t0 + i * 1000,
          method: 'POST',
          path: '/login',
          status: 401,
          sourceKind: 'restart-test',
          raw: `failure ${i}`,
          clientIp: '203.0.113.77',
          userAgent: 'curl/8.5.0',
        }),
      ),
    );
  return lines.join('\n');
}

async function post(s: Server, body: string): Promise<void> {
  const r = await fetch(`${s.url}/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/x-ndjson' },
    body,
  });
  assert.equal(r.status, 200, await r.text());
}

/** A counter of the process's /metrics (0 before it is scraped the first time). */
const counter = async (s: Server, name: string) => (await scrapeMetric(s.metrics, name)) ?? 0;
const detected = (s: Server) => counter(s, 'apiwatch_detect_events_total');

/** Newest modification time of a detector checkpoint in `dir` (0 when there is none). */
function newestCheckpoint(dir: string): number {
  let newest = 0;
  try {
    for (const f of readdirSync(dir))
      if (f.endsWith('.snap')) newest = Math.max(newest, statSync(join(dir, f)).mtimeMs);
  } catch {
    // not written yet
  }
  return newest;
}

function bruteForceFindings(output: string): Array<{ finding: string; status: string }> {
  const out: Array<{ finding: string; status: string }> = [];
  for (const line of output.split('\n')) {
    if (!line.includes('"auth.brute_force"')) continue;
    try {
      const o = JSON.parse(line) as { detector?: string; finding?: string; status?: string };
      if (o.detector === 'auth.brute_force' && o.finding && o.status)
        out.push({ finding: o.finding, status: o.status });
    } catch {
      // not a log line of ours
    }
  }
  return out;
}

/** Runs the split brute force with `intervalSeconds`; returns the brute-force updates after the restart. */
async function splitBruteForce(dir: string, intervalSeconds: number) {
  const port = await freePort();
  const metricsPort = await freePort();
  const file = configFile(dir, port, metricsPort, intervalSeconds);
  const dataDir = join(dir, `data-${intervalSeconds}`);
  const t0 = Date.now() - 30_000;

  let s = await start(file, dataDir, port, metricsPort);
  try {
    await post(s, failures(t0, 0, 6));
    await waitFor(
      'the six failures to reach the detectors',
      async () => (await detected(s)) >= 6 || undefined,
      60_000,
      s.app.output,
    );
    const seen = Date.now();
    if (intervalSeconds > 0)
      await waitFor(
        'a detector checkpoint taken after the failures were detected',
        () => newestCheckpoint(join(dataDir, 'detect-checkpoints')) > seen + 50 || undefined,
        30_000,
        s.app.output,
      );
    assert.deepEqual(bruteForceFindings(s.app.output()), [], 'six failures are below the threshold');
  } finally {
    s.app.child.kill('SIGKILL');
    await s.app.exited;
  }

  s = await start(file, dataDir, port, metricsPort);
  try {
    await post(s, failures(t0, 6, 6));
    await waitFor(
      'the six later failures to reach the detectors',
      async () => (await detected(s)) >= 6 || undefined,
      60_000,
      s.app.output,
    );
    if (intervalSeconds > 0)
      await waitFor(
        'the brute-force finding',
        () => (bruteForceFindings(s.app.output()).length > 0 ? true : undefined),
        30_000,
        s.app.output,
      );
    // Counted by the engine as it judges each event: no update can still be on its way.
    const updates = await counter(s, 'apiwatch_detect_findings_total');
    return { updates, findings: bruteForceFindings(s.app.output()), output: s.app.output() };
  } finally {
    await s.app.stop('SIGKILL');
  }
}

test('embedded: kill -9 between two halves of a brute force; the restarted engine kept the first half', {
  timeout: 300_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-embedded-restart-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  const kept = await splitBruteForce(dir, 1);
  assert.equal(kept.findings.length, 1, kept.output.slice(-4000));
  assert.equal(kept.findings[0]!.status, 'firing');
  assert.match(kept.output, /detector state restored from its checkpoint/);

  // Control: without checkpoints the restarted engine starts empty and six failures stay below ten.
  const lost = await splitBruteForce(dir, 0);
  assert.equal(lost.updates, 0, 'without checkpoints the first half is lost');
  assert.deepEqual(lost.findings, []);
});
