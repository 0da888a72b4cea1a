import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { requireBinary } from '../src/binaries.ts';
import { freePort, nginxTraffic, runApiwatch, startApiwatch, startRecorder, waitFor } from '../src/index.ts';

/**
 * A real Prometheus (Debian's package) scrapes the /metrics of an embedded `apiwatch start` (the
 * management API's, on the alert API port) every second, and its own HTTP API answers queries
 * for the ingest, lag, findings and delivery metrics with non-zero values after traffic ran.
 */
test('Prometheus scrapes apiwatch /metrics and sees ingest, lag, findings and delivery metrics', async (t) => {
  const bin = requireBinary(t, 'prometheus');
  if (!bin) return;
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-prometheus-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const hook = await startRecorder(() => ({ status: 204 }));
  t.after(() => hook.close());
  const [ingestPort, apiPort, promPort] = [await freePort(), await freePort(), await freePort()];
  const config = join(dir, 'apiwatch.yaml');
  writeFileSync(
    config,
    JSON.stringify({
      dataDir: join(dir, 'data'),
      ingest: { listen: { host: '127.0.0.1', port: ingestPort } },
      alert: {
        receivers: [{ id: 'soc', kind: 'webhook', url: `${hook.url}/hook` }],
        route: { groupWaitSeconds: 0 },
        api: { enabled: true, host: '127.0.0.1', port: apiPort },
      },
    }),
  );
  const app = startApiwatch(['start', '--config', config]);
  t.after(() => app.stop('SIGKILL'));
  const api = `http://127.0.0.1:${apiPort}`;
  await waitFor(
    'the management API',
    async () =>
      (await fetch(`${api}/readyz`).then(
        (r) => r.ok,
        () => false,
      )) || undefined,
    60_000,
    app.output,
  );

  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'scrape_configs:',
      '  - job_name: apiwatch',
      '    metrics_path: /metrics',
      '    static_configs:',
      `      - targets: ['127.0.0.1:${apiPort}']`,
      '',
    ].join('\n'),
  );
  const prom = spawn(
    bin,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let promLog = '';
  prom.stderr.on('data', (c) => {
    promLog += c;
  });
  t.after(() => {
    prom.kill('SIGKILL');
  });

  const file = join(dir, 'access.json.log');
  writeFileSync(
    file,
    `${nginxTraffic({ seed: 11, start: Date.now() - 3_600_000, benignEvents: 300, attackerIp: '203.0.113.77', attackAttempts: 30 }).join('\n')}\n`,
  );
  const env = { APIWATCH__DATADIR: join(dir, 'data'), APIWATCH__INGEST__LISTEN__PORT: String(ingestPort) };
  const c = await runApiwatch(['collect', '--format', 'nginx', '--file', file, '--once'], env);
  assert.equal(c.code, 0, c.stderr);
  await waitFor(
    'the webhook delivery',
    () => (hook.requests.length > 0 ? true : undefined),
    60_000,
    app.output,
  );

  const query = async (q: string): Promise<number | undefined> => {
    const r = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`).catch(
      () => null,
    );
    if (!r?.ok) return undefined;
    const body = (await r.json()) as { data: { result: Array<{ value: [number, string] }> } };
    const v = body.data.result[0]?.value[1];
    return v === undefined ? undefined : Number(v);
  };
  const up = await waitFor(
    'Prometheus scraping apiwatch',
    async () => ((await query('up{job="apiwatch"}')) === 1 ? true : undefined),
    60_000,
    () => promLog,
  );
  assert.ok(up);
  const seen = async (q: string, min: number) =>
    waitFor(
      q,
      async () => {
        const v = await query(q);
        return v !== undefined && v >= min ? v : undefined;
      },
      30_000,
      () => promLog,
    );
  assert.equal(await seen('apiwatch_ingest_events_total', 330), 330, 'ingest');
  assert.ok((await seen('sum(apiwatch_detect_findings_total)', 1)) >= 1, 'findings detected');
  assert.ok((await seen('sum(apiwatch_alert_findings_total)', 1)) >= 1, 'findings routed');
  assert.ok(
    (await seen('sum(apiwatch_alert_notifications_total{receiver="soc",outcome="delivered"})', 1)) >= 1,
    'delivery',
  );
  // Lag: the traffic is from the last hour, so detection's watermark trails the wall clock.
  const lag = await seen('apiwatch_detect_watermark_lag_seconds', 1);
  assert.ok(lag > 0 && lag < 2 * 3600, `lag ${lag}s`);
  assert.ok((await seen('count(apiwatch_detect_buffered_events)', 1)) >= 1, 'reorder buffer gauge');
});
