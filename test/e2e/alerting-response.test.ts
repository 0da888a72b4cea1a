import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  type ActionRecord,
  createAlerting,
  pagerdutyEventValidator,
  RedisStateStore,
} from '@apiwatch/alerting';
import {
  AlertConfig,
  type AlertConfigValue,
  ChdbStore,
  createLogger,
  createSecretResolver,
  exampleFinding,
  type Finding,
} from '@apiwatch/core';
import { createIdentityContext } from '@apiwatch/ingest';
import { Value } from '@sinclair/typebox/value';
import type { KnownBlock } from '@slack/types';
import { requireBinary } from '../src/binaries.ts';
import {
  freePort,
  REDIS_URL,
  requireService,
  startDaemon,
  startRecorder,
  uniqueName,
  waitFor,
} from '../src/index.ts';

/**
 * The response loop end to end on real Redis (state and BullMQ) and a real NGINX: a BOLA finding
 * pages PagerDuty and posts to Slack (recording stand-ins; payloads validated against the
 * PagerDuty Events v2 schema and Slack's Block Kit types), revokes the key through the Kong
 * revoker (a Kong Admin API stand-in that records calls), and the next request with that key
 * through NGINX `auth_request` → the decision endpoint is denied; undo restores it. Then the
 * guardrails: an allowlisted key is never revoked, and with a budget of 10/hour the 11th
 * revocation is refused, the breaker opens and a human is paged. Every decision is audited in
 * the store (chDB).
 */
test('BOLA finding → PagerDuty + Slack, Kong revocation, NGINX denies the key, undo restores; allowlist and budget guardrails', async (t) => {
  if (!(await requireService(t, 'redis'))) return;
  const nginx = requireBinary(t, 'nginx');
  if (!nginx) return;
  const id = uniqueName('alert-resp');
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-resp-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const log = createLogger('warn');

  const slack = await startRecorder(() => ({ status: 200, body: 'ok' }));
  const pd = await startRecorder(() => ({
    status: 202,
    body: { status: 'success', message: 'Event processed', dedup_key: 'x' },
  }));
  const kong = await startRecorder((r) => {
    const m = /^\/key-auths\/([^/]+)$/.exec(r.url);
    if (r.method === 'GET' && m)
      return { status: 200, body: { id: m[1], consumer: { id: `consumer-of-${m[1]}` } } };
    if (r.method === 'POST' && /\/consumers\/[^/]+\/acls$/.test(r.url))
      return { status: 201, body: { id: `acl-${r.url.split('/')[2]}`, group: 'apiwatch-revoked' } };
    if (r.method === 'DELETE') return { status: 204 };
    return { status: 404, body: { message: 'Not found' } };
  });
  const backend = await startRecorder(() => ({ status: 200, body: { account: 42 } }));
  t.after(async () => {
    for (const s of [slack, pd, kong, backend]) await s.close();
  });

  const identity = createIdentityContext(Buffer.alloc(32, 7), 'k1');
  const ANA = 'token-of-ana-0123456789';
  const VIC = 'token-of-vic-0123456789';
  const config = Value.Default(
    AlertConfig,
    structuredClone({
      receivers: [
        { id: 'slack', kind: 'slack', url: `${slack.url}/services/T000/B000/XXX` },
        { id: 'pd', kind: 'pagerduty', url: `${pd.url}/v2/enqueue`, routingKeyEnv: 'PD_KEY' },
      ],
      route: { groupWaitSeconds: 0, groupIntervalSeconds: 0.5, groupBy: ['fingerprint'] },
      queue: { kind: 'bullmq', redisUrl: REDIS_URL, name: id, backoffMs: 100 },
      state: { kind: 'redis', redisUrl: REDIS_URL, keyPrefix: id },
      dashboardUrl: 'https://grafana.example.com/d/apiwatch',
      api: {
        enabled: true,
        port: 0,
        tokens: [
          {
            name: 'analyst-ana',
            role: 'analyst',
            tokenSha256: createHash('sha256').update(ANA).digest('hex'),
          },
          { name: 'viewer-vic', role: 'viewer', tokenSha256: createHash('sha256').update(VIC).digest('hex') },
        ],
      },
      actions: {
        mode: 'enforce',
        rules: [
          {
            id: 'bola-revoke',
            matchers: ['family=bola'],
            revoker: 'kong',
            minSeverity: 'high',
            minConfidence: 0.8,
            ttlSeconds: 3600,
          },
        ],
        revokers: [{ id: 'kong', kind: 'kong', adminUrl: kong.url }],
        allowlist: { refs: ['kong-cred-allowed'] },
        budget: { maxPerHour: 10, pageReceiver: 'pd' },
      },
    }),
  ) as AlertConfigValue;
  assert.ok(Value.Check(AlertConfig, config));
  const env = { PD_KEY: 'R0123456789abcdef0123456789abcde' };
  const state = new RedisStateStore(REDIS_URL, id);
  const store = new ChdbStore(join(dir, 'chdb'));
  await store.start();
  const alerting = createAlerting(config, {
    secrets: createSecretResolver(env),
    log,
    state,
    audit: store,
    credentialOf: (h) => {
      const key = h['x-api-key'];
      return typeof key === 'string' ? { entityId: identity.fromApiKey(key).fingerprint, ref: null } : null;
    },
  });
  await alerting.start();
  const engine = alerting.engine!;
  const api = alerting.apiUrl!;
  t.after(async () => {
    await alerting.close();
    const r = new RedisStateStore(REDIS_URL, id);
    await r.clear();
    await r.close();
    await store.close();
  });
  const settled = (actionId: string, status: ActionRecord['status']) =>
    waitFor(
      `action ${actionId} ${status}`,
      async () => {
        const r = await engine.get(actionId);
        return r?.status === status ? r : undefined;
      },
      15_000,
    );
  const post = (path: string, token: string, body?: unknown) =>
    fetch(`${api}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  // NGINX: every request asks the decision endpoint first (auth_request), then goes to the backend.
  const port = await freePort();
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp; proxy_temp_path ${dir}/tmp; fastcgi_temp_path ${dir}/tmp; uwsgi_temp_path ${dir}/tmp; scgi_temp_path ${dir}/tmp;
  server {
    listen 127.0.0.1:${port};
    location / {
      auth_request /_apiwatch_decide;
      proxy_pass ${backend.url};
    }
    location = /_apiwatch_decide {
      internal;
      proxy_pass ${api}/decide;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
    }
  }
}
`,
  );
  const ngx = startDaemon(nginx, ['-p', dir, '-c', join(dir, 'nginx.conf')]);
  t.after(() => ngx.stop());
  const call = (key: string) =>
    fetch(`http://127.0.0.1:${port}/v1/accounts/42`, { headers: { 'x-api-key': key } }).then(
      (r) => r.status,
      () => 0,
    );
  await waitFor(
    'nginx up',
    async () => ((await call('warmup')) === 200 ? true : undefined),
    20_000,
    ngx.output,
  );

  const KEY = 'sk_live_attacker_key_0001';
  const finding = (n: number, key: string, ref: string, over: Partial<Finding> = {}): Finding =>
    exampleFinding({
      id: `bola-${n}-ep`,
      fingerprint: `bola-${n}`,
      detector: 'bola.object_enumeration',
      family: 'bola',
      title: 'Object enumeration (BOLA)',
      summary: `credential enumerated 180 account ids in 60 s (${n}).`,
      severity: 'critical',
      confidence: 0.95,
      entity: { kind: 'credential', id: identity.fromApiKey(key).fingerprint!, name: `consumer-${n}`, ref },
      route: '/v1/accounts/{id}',
      method: 'GET',
      tenant: 'acme',
      owasp: 'API1:2023',
      nist: 'authorization',
      recommendedAction: 'Revoke the key and review the accounts it read.',
      labels: { route: '/v1/accounts/{id}', environment: 'prod' },
      ...over,
    });

  assert.equal(await call(KEY), 200, 'before: the key works');
  const f1 = finding(1, KEY, 'kong-cred-1');
  await alerting.handle(f1);
  const queued = (await engine.list()).find((x) => x.target.ref === 'kong-cred-1')!;
  const action = await settled(queued.id, 'revoked');

  // PagerDuty paged, Slack posted, payloads valid.
  const page = await waitFor('a PagerDuty event', () => pd.requests[0], 15_000);
  assert.ok(pagerdutyEventValidator.check(page.json), pagerdutyEventValidator.explain(page.json));
  const ev = page.json as unknown as {
    event_action: string;
    dedup_key: string;
    payload: { severity: string; custom_details: { findings: Array<{ id: string }> } };
  };
  assert.equal(ev.event_action, 'trigger');
  assert.equal(ev.payload.severity, 'critical');
  assert.equal(ev.payload.custom_details.findings[0]!.id, f1.id);
  const posted = await waitFor('a Slack message', () => slack.requests[0], 15_000);
  assert.equal(posted.url, '/services/T000/B000/XXX');
  const msg = posted.json as { text: string; blocks: KnownBlock[] };
  assert.ok(msg.blocks.length > 0 && msg.blocks.length <= 50);
  assert.equal(msg.blocks[0]!.type, 'header');
  assert.match(JSON.stringify(msg.blocks), /consumer-1/);

  // Kong: the credential's consumer was put in the deny group; NGINX now denies the key.
  assert.deepEqual(
    kong.requests.map((r) => `${r.method} ${r.url}`),
    ['GET /key-auths/kong-cred-1', 'POST /consumers/consumer-of-kong-cred-1/acls'],
  );
  assert.equal((kong.requests[1]!.json as { group: string }).group, 'apiwatch-revoked');
  assert.equal(await call(KEY), 403, 'the revoked key is denied at the gateway at once');
  assert.equal(await call('sk_live_other_key'), 200, 'other keys still pass');
  assert.equal(
    backend.requests.filter((r) => r.headers['x-api-key'] === KEY).length,
    1,
    'the denied request never reached the backend',
  );

  // Undo through the API (a viewer may not; an analyst may) restores it.
  assert.equal((await post(`/api/v1/actions/${action.id}/undo`, VIC)).status, 403);
  assert.equal((await post(`/api/v1/actions/${action.id}/undo`, 'wrong-token')).status, 401);
  assert.equal((await post(`/api/v1/actions/${action.id}/undo`, ANA)).status, 202);
  await settled(action.id, 'restored');
  assert.equal(kong.requests.at(-1)!.method, 'DELETE');
  assert.equal(
    kong.requests.at(-1)!.url,
    '/consumers/consumer-of-kong-cred-1/acls/acl-consumer-of-kong-cred-1',
  );
  assert.equal(await call(KEY), 200, 'after undo the key works again');

  // Allowlist: never revoked.
  const kongCalls = kong.requests.length;
  const allowed = await engine.onFinding(finding(2, 'sk_live_partner', 'kong-cred-allowed'));
  assert.equal(allowed?.status, 'refused');
  assert.match(allowed!.reason, /allowlist/);
  assert.equal(kong.requests.length, kongCalls, 'no Kong call for the allowlisted key');

  // Budget 10/hour: f1 used one; 9 more go through, the 11th is refused and a human is paged.
  const outcomes: string[] = [];
  for (let i = 0; i < 10; i++)
    outcomes.push((await engine.onFinding(finding(100 + i, `sk_live_${i}`, `kong-cred-b${i}`)))!.status);
  assert.deepEqual(outcomes, [...Array(9).fill('queued'), 'refused']);
  await engine.flush();
  assert.equal((await engine.list()).filter((x) => x.status === 'revoked').length, 9);
  assert.equal(await call('sk_live_3'), 403, 'a budgeted revocation is enforced at the gateway');
  const last = (await engine.list()).find((a) => a.target.ref === 'kong-cred-b9')!;
  assert.match(last.reason, /budget of 10 actions per hour spent; circuit breaker opened/);
  assert.equal(
    (await engine.onFinding(finding(200, 'sk_live_x', 'kong-cred-x')))!.status,
    'refused',
    'breaker stays open',
  );
  const human = await waitFor(
    'the budget page',
    () => pd.requests.find((r) => /automatic response paused/.test(JSON.stringify(r.json))),
    15_000,
  );
  assert.ok(pagerdutyEventValidator.check(human.json), pagerdutyEventValidator.explain(human.json));
  assert.equal((human.json as { payload: { severity: string } }).payload.severity, 'critical');

  // Every decision is audited in the store: who, what, why, evidence, outcome.
  const rows = await store.query<{
    action_id: string;
    outcome: string;
    initiated_by: string;
    reason: string;
    details: string;
    action: string;
  }>(
    'SELECT action_id, action, outcome, initiated_by, reason, details FROM response_actions_audit ORDER BY ts',
  );
  const mine = rows.filter((r) => r.action_id === action.id);
  assert.deepEqual(
    mine.map((r) => [r.action, r.outcome, r.initiated_by]),
    [
      ['revoke', 'executed', 'apiwatch'],
      ['restore', 'executed', 'analyst-ana'],
    ],
  );
  assert.match(JSON.parse(mine[0]!.details).summary, /enumerated 180 account ids/);
  assert.ok(rows.some((r) => r.outcome === 'denied' && /allowlist/.test(r.reason)));
  assert.ok(rows.some((r) => r.outcome === 'denied' && /budget/.test(r.reason)));
  assert.equal(
    rows.length,
    1 + 1 + 1 + 10 + 1,
    'revoke, restore, allowlist refusal, 9 revokes + 1 budget refusal, breaker refusal',
  );
});
