import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateSecret, verify } from '@apiwatch/alerting';
import { type Finding, findingValidator } from '@apiwatch/core';
import { sha256Hex } from '@apiwatch/ingest';
import {
  freePort,
  KAFKA_BROKER,
  nginxTraffic,
  REDIS_URL,
  requireService,
  runApiwatch,
  startApiwatch,
  uniqueName,
  waitFor,
  waitUntilHealthy,
} from '../src/index.ts';

/**
 * The walking skeleton end to end, distributed: `--role ingest` and `--role detect,alert` are
 * two processes that only share the real Kafka broker; alerts go through BullMQ on the real
 * Redis to a webhook receiver here, which verifies the Standard Webhooks signature.
 */
test('nginx brute force → collect → ingest → Kafka → detect → BullMQ → signed webhook; benign traffic raises nothing', async (t) => {
  if (!(await requireService(t, 'kafka')) || !(await requireService(t, 'redis'))) return;

  const secret = generateSecret();
  const deliveries: Array<{ headers: IncomingHttpHeaders; body: string; verified: boolean }> = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      deliveries.push({ headers: req.headers, body, verified: verify(secret, req.headers, body) });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  t.after(() => receiver.close());

  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-e2e-'));
  const token = `tok-${uniqueName('c')}`;
  const port = await freePort();
  const id = uniqueName('e2e');
  const config = join(dir, 'apiwatch.yaml');
  writeFileSync(
    config,
    [
      `dataDir: ${join(dir, 'data')}`,
      'logLevel: info',
      'ingest:',
      `  listen: { host: 127.0.0.1, port: ${port} }`,
      `  collectors: [{ id: e2e-collector, tokenSha256: ${sha256Hex(token)} }]`,
      'bus:',
      '  kind: kafka',
      '  kafka:',
      `    brokers: ["${KAFKA_BROKER}"]`,
      `    groupPrefix: ${id}`,
      `    topics: { events: ${id}.events, findings: ${id}.findings, dlq: ${id}.dlq, rekeyed: ${id}.rekeyed }`,
      'store: { kind: none }',
      'detect: { allowedLatenessMs: 500 }',
      'alert:',
      `  queue: { kind: bullmq, redisUrl: "${REDIS_URL}", name: ${id}, backoffMs: 200 }`,
      '  receivers:',
      `    - { id: soc-webhook, kind: webhook, url: "http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook", secretEnv: E2E_WEBHOOK_SECRET, minSeverity: low }`,
      '',
    ].join('\n'),
  );
  const env = { E2E_WEBHOOK_SECRET: secret, APIWATCH_FINGERPRINT_KEY: 'a'.repeat(64) };

  const ingest = startApiwatch(['start', '--config', config, '--role', 'ingest'], env);
  const detect = startApiwatch(['start', '--config', config, '--role', 'detect,alert'], env);
  t.after(async () => {
    await ingest.stop();
    await detect.stop();
  });
  const dump = () => `--- ingest ---\n${ingest.output()}\n--- detect,alert ---\n${detect.output()}`;
  await waitUntilHealthy(`http://127.0.0.1:${port}`, dump);
  await waitFor(
    'detect role to consume',
    () => (detect.output().includes('detect role consuming events') ? true : undefined),
    60_000,
    dump,
  );

  const start = Date.UTC(2026, 2, 2, 10, 0, 0);
  const attacker = '203.0.113.66';
  // The benign control stream and the attack share the same hour; only the attacker may be reported.
  const benign = join(dir, 'benign.json.log');
  writeFileSync(benign, `${nginxTraffic({ seed: 1, start, benignEvents: 1500 }).join('\n')}\n`);
  const attack = join(dir, 'attack.json.log');
  writeFileSync(
    attack,
    `${nginxTraffic({ seed: 2, start, benignEvents: 300, attackerIp: attacker, attackAttempts: 40, attackAtSecond: 600 }).join('\n')}\n`,
  );

  for (const file of [benign, attack]) {
    const r = await runApiwatch(
      [
        'collect',
        '--format',
        'nginx',
        '--file',
        file,
        '--once',
        '--config',
        config,
        '--url',
        `http://127.0.0.1:${port}`,
      ],
      { ...env, APIWATCH_COLLECTOR_TOKEN: token },
    );
    assert.equal(r.code, 0, `collect failed: ${r.stderr}`);
    assert.match(r.stderr, /accepted/);
  }

  const delivery = await waitFor('a signed webhook', () => deliveries[0], 90_000, dump);
  assert.equal(delivery.verified, true, 'the webhook signature verifies with the shared secret');
  assert.match(String(delivery.headers['webhook-signature']), /^v1,/);
  const payload = JSON.parse(delivery.body) as { type: string; data: { findings: Finding[] } };
  assert.equal(payload.type, 'apiwatch.notification');
  const f = payload.data.findings[0]!;
  assert.ok(findingValidator.check(f), findingValidator.explain(f));
  assert.equal(f.detector, 'auth.brute_force');
  assert.deepEqual(f.entity, { kind: 'ip', id: attacker, name: attacker, ref: null });
  assert.equal(f.route, '/api/login');
  assert.equal(f.method, 'POST');
  assert.ok(
    f.firstSeen >= start + 600_000 && f.lastSeen <= start + 660_000,
    'evidence lies in the attack window (event time)',
  );

  // Let the rest drain: the benign stream must add nothing, and the attack nothing more.
  await new Promise((r) => setTimeout(r, 4000));
  assert.equal(
    deliveries.length,
    1,
    `expected only the attacker's finding, got ${deliveries.map((d) => d.body).join('\n')}`,
  );
});
