import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createAlerting } from '@apiwatch/alerting';
import {
  AlertConfig,
  type AlertConfigValue,
  createLogger,
  createSecretResolver,
  exampleFinding,
} from '@apiwatch/core';
import { Value } from '@sinclair/typebox/value';
import { requireBinary } from '../src/binaries.ts';
import { freePort, startDaemon, startRecorder, waitFor } from '../src/index.ts';

/**
 * A real Prometheus Alertmanager (Debian's prometheus-alertmanager) receives apiwatch's alert and
 * then its resolution: we read both through its own API (/api/v2/alerts) and through the webhook
 * Alertmanager itself sends (send_resolved: true) to a recording server here.
 */
test('a real Alertmanager receives the alert and its resolution (endsAt)', async (t) => {
  const bin = requireBinary(t, 'prometheus-alertmanager');
  if (!bin) return;
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-am-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const hook = await startRecorder();
  t.after(() => hook.close());
  const port = await freePort();
  writeFileSync(
    join(dir, 'alertmanager.yml'),
    [
      'route:',
      '  receiver: rec',
      '  group_wait: 0s',
      '  group_interval: 1s',
      '  repeat_interval: 1h',
      'receivers:',
      '  - name: rec',
      '    webhook_configs:',
      `      - url: ${hook.url}/am`,
      '        send_resolved: true',
      '',
    ].join('\n'),
  );
  const am = startDaemon(bin, [
    `--config.file=${join(dir, 'alertmanager.yml')}`,
    `--storage.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--cluster.listen-address=',
    '--log.level=warn',
  ]);
  t.after(() => am.stop());
  const base = `http://127.0.0.1:${port}`;
  await waitFor(
    'alertmanager ready',
    async () => ((await fetch(`${base}/-/ready`).catch(() => null))?.ok ? true : undefined),
    30_000,
    am.output,
  );

  const config = Value.Default(
    AlertConfig,
    structuredClone({
      receivers: [{ id: 'am', kind: 'alertmanager', url: base }],
      route: { groupWaitSeconds: 0, groupIntervalSeconds: 0.2 },
      queue: { backoffMs: 100 },
    }),
  ) as AlertConfigValue;
  const alerting = createAlerting(config, { secrets: createSecretResolver({}), log: createLogger('warn') });
  await alerting.start();
  t.after(() => alerting.close());

  const now = Date.now();
  const f = exampleFinding({
    id: 'bola-e2e-1',
    fingerprint: 'bola-e2e',
    detector: 'bola.object_enumeration',
    family: 'bola',
    severity: 'critical',
    firstSeen: now - 30_000,
    lastSeen: now - 1000,
    labels: { route: '/v1/accounts/{id}', environment: 'prod' },
    route: '/v1/accounts/{id}',
    method: 'GET',
    tenant: 'acme',
  });
  await alerting.router.route(f);
  type AmAlert = { labels: Record<string, string>; endsAt: string; status: { state: string } };
  const active = await waitFor(
    'the alert in Alertmanager',
    async () => {
      const list = (await (await fetch(`${base}/api/v2/alerts`)).json()) as AmAlert[];
      return list.find((a) => a.labels.apiwatch_fingerprint === 'bola-e2e');
    },
    20_000,
    am.output,
  );
  assert.equal(active.status.state, 'active');
  assert.equal(active.labels.alertname, 'bola_object_enumeration');
  assert.equal(active.labels.severity, 'critical');
  assert.equal(active.labels.tenant, 'acme');
  assert.ok(Date.parse(active.endsAt) > Date.now(), 'firing: endsAt ahead');
  const firedHook = await waitFor(
    'Alertmanager notifying the firing alert',
    () => hook.requests.find((r) => (r.json as { status?: string })?.status === 'firing'),
    20_000,
    am.output,
  );
  assert.equal((firedHook.json as { alerts: AmAlert[] }).alerts[0]!.labels.apiwatch_fingerprint, 'bola-e2e');

  await alerting.router.route({ ...f, status: 'resolved', endedAt: Date.now() - 100 });
  const resolvedHook = await waitFor(
    'Alertmanager notifying the resolution',
    () => hook.requests.find((r) => (r.json as { status?: string })?.status === 'resolved'),
    20_000,
    am.output,
  );
  const alert = (resolvedHook.json as { alerts: Array<AmAlert & { status: string }> }).alerts[0]!;
  assert.equal(alert.labels.apiwatch_fingerprint, 'bola-e2e');
  assert.ok(Date.parse(alert.endsAt) <= Date.now(), 'resolved: endsAt in the past');
  const after = (await (await fetch(`${base}/api/v2/alerts?active=true`)).json()) as AmAlert[];
  assert.equal(
    after.filter((a) => a.labels.apiwatch_fingerprint === 'bola-e2e' && Date.parse(a.endsAt) > Date.now())
      .length,
    0,
    'no longer active',
  );
  assert.deepEqual(
    Object.values(alerting.delivery.counters()).map((c) => [c.delivered, c.failed]),
    [[2, 0]],
  );
});
