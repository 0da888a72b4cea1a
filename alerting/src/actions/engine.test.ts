import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import {
  ActionsConfig,
  type ActionsConfigValue,
  createLogger,
  exampleFinding,
  type Finding,
  type ResponseActionAudit,
} from '@apiwatch/core';
import { APIGatewayClient } from '@aws-sdk/client-api-gateway';
import { Value } from '@sinclair/typebox/value';
import { MemoryStateStore } from '../state/memory.ts';
import type { StateStore } from '../state/types.ts';
import { createAwsApigwRevoker } from './aws-apigw.ts';
import { createDecider } from './decision.ts';
import { ResponseEngine } from './engine.ts';
import { createHttpRevoker, renderTemplate } from './http-hook.ts';
import { MemoryActionQueue } from './queue.ts';
import type { ActionResult, ActionTarget, Revoker } from './types.ts';

const log = createLogger('silent');

function actions(raw: unknown): ActionsConfigValue {
  const c = Value.Default(ActionsConfig, structuredClone(raw));
  assert.ok(
    Value.Check(ActionsConfig, c),
    [...Value.Errors(ActionsConfig, c)].map((e) => `${e.path} ${e.message}`).join('; '),
  );
  return c as ActionsConfigValue;
}

/** A revoker that records what it was asked (the gateway side is tested with real HTTP below). */
class RecordingRevoker implements Revoker {
  readonly id = 'gw';
  readonly kind = 'test';
  reversible = true;
  calls: string[] = [];
  answer: ActionResult = { ok: true, status: 200, details: { token: 'x' } };
  async revoke(t: ActionTarget) {
    this.calls.push(`revoke ${t.ref}`);
    return this.answer;
  }
  async restore(t: ActionTarget, s: Record<string, unknown>) {
    this.calls.push(`restore ${t.ref} ${JSON.stringify(s)}`);
    return { ok: true as const, status: 200, details: {} };
  }
}

function setup(raw: unknown, state: StateStore = new MemoryStateStore()) {
  const clock = {
    t: 1_000_000,
    now() {
      return this.t;
    },
  };
  const revoker = new RecordingRevoker();
  const audit: ResponseActionAudit[] = [];
  const pages: string[] = [];
  const engine = new ResponseEngine({
    config: actions(raw),
    revokers: [revoker],
    state,
    audit: { insertAudit: async (rows) => void audit.push(...rows) },
    page: async (n) => void pages.push(n.message ?? ''),
    queue: new MemoryActionQueue({ attempts: 3, backoffMs: 1, concurrency: 1 }, log),
    clock,
    log,
  });
  return { engine, revoker, audit, pages, clock, state };
}

const rule = { id: 'r', matchers: ['family=bola'], revoker: 'gw', ttlSeconds: 0 };
const f = (i: number, over: Partial<Finding> = {}) =>
  exampleFinding({
    id: `f${i}`,
    fingerprint: `fp${i}`,
    detector: 'bola.object_enumeration',
    family: 'bola',
    severity: 'critical',
    confidence: 0.95,
    entity: { kind: 'credential', id: `k1:c${i}`, name: `consumer-${i}`, ref: `ref-${i}` },
    ...over,
  });

test('dry-run is the default: the decision is recorded and audited, nothing is revoked', async () => {
  const { engine, revoker, audit } = setup({ rules: [rule], revokers: [] });
  await engine.start(60_000);
  const r = await engine.onFinding(f(1));
  await engine.flush();
  assert.equal(r?.status, 'dry_run');
  assert.deepEqual(revoker.calls, []);
  assert.deepEqual(
    audit.map((a) => [a.mode, a.outcome]),
    [['dry_run', 'skipped']],
  );
  assert.equal(await engine.isRevoked({ entityId: 'k1:c1' }), null);
  await engine.close();
});

test('minimum severity and confidence, no ref, non-matching rules and resolved findings: no revocation', async () => {
  const { engine, revoker, audit } = setup({
    mode: 'enforce',
    rules: [{ ...rule, minSeverity: 'high', minConfidence: 0.9 }],
  });
  await engine.start(60_000);
  assert.match((await engine.onFinding(f(1, { severity: 'medium' })))!.reason, /severity medium is below/);
  assert.match((await engine.onFinding(f(2, { confidence: 0.5 })))!.reason, /confidence 0.5 is below/);
  assert.match(
    (await engine.onFinding(f(3, { entity: { kind: 'ip', id: '203.0.113.1', name: null, ref: null } })))!
      .reason,
    /no revocable ref/,
  );
  assert.equal(await engine.onFinding(f(4, { family: 'auth', detector: 'auth.brute_force' })), null);
  assert.equal(await engine.onFinding(f(5, { status: 'resolved', endedAt: 1 })), null);
  await engine.flush();
  assert.deepEqual(revoker.calls, []);
  assert.deepEqual(
    audit.map((a) => a.outcome),
    ['denied', 'denied', 'denied'],
  );
  await engine.close();
});

test('approval: pending until approved; then revoked; the same finding again is the same decision', async () => {
  const { engine, revoker, audit } = setup({ mode: 'enforce', rules: [{ ...rule, requireApproval: true }] });
  await engine.start(60_000);
  const r = await engine.onFinding(f(1));
  assert.equal(r?.status, 'pending');
  await engine.flush();
  assert.deepEqual(revoker.calls, []);
  assert.equal((await engine.onFinding(f(1)))?.id, r!.id);
  assert.equal((await engine.approve(r!.id, 'ana'))?.status, 'queued');
  await engine.flush();
  const done = await engine.get(r!.id);
  assert.deepEqual([done?.status, done?.decidedBy], ['revoked', 'ana']);
  assert.deepEqual(revoker.calls, ['revoke ref-1']);
  assert.deepEqual(
    audit.map((a) => [a.outcome, a.initiatedBy]),
    [
      ['skipped', 'apiwatch'],
      ['executed', 'ana'],
    ],
  );
  await engine.close();
});

test('TTL: the credential is restored automatically when it ends (with the gateway state revoke returned)', async () => {
  const { engine, revoker, clock } = setup({ mode: 'enforce', rules: [{ ...rule, ttlSeconds: 600 }] });
  await engine.start(60_000);
  const r = await engine.onFinding(f(1));
  await engine.flush();
  assert.ok(await engine.isRevoked({ entityId: 'k1:c1' }));
  clock.t += 599_000;
  assert.equal(await engine.tick(), 0);
  clock.t += 2000;
  assert.equal(await engine.tick(), 1);
  await engine.flush();
  assert.equal((await engine.get(r!.id))?.status, 'restored');
  assert.equal((await engine.get(r!.id))?.reason, 'restored when its TTL ended');
  assert.deepEqual(revoker.calls, ['revoke ref-1', 'restore ref-1 {"token":"x"}']);
  assert.equal(await engine.isRevoked({ entityId: 'k1:c1' }), null);
  assert.equal(await engine.isRevoked({ ref: 'ref-1' }), null);
  await engine.close();
});

test('an irreversible revoker refuses TTL rules and undo; a gateway error is retried then recorded as failed', async () => {
  const { engine, revoker } = setup({ mode: 'enforce', rules: [{ ...rule, ttlSeconds: 60 }] });
  revoker.reversible = false;
  await engine.start(60_000);
  assert.match((await engine.onFinding(f(1)))!.reason, /cannot restore/);
  const two = setup({ mode: 'enforce', rules: [rule] });
  await two.engine.start(60_000);
  two.revoker.answer = {
    ok: false,
    code: 'ALERT_ACTION_GATEWAY_UNAVAILABLE',
    retryable: true,
    status: 503,
    error: 'down',
  };
  const r = await two.engine.onFinding(f(2));
  await two.engine.flush();
  assert.equal(two.revoker.calls.length, 3, 'three attempts');
  assert.equal((await two.engine.get(r!.id))?.status, 'failed');
  await engine.close();
  await two.engine.close();
});

test('budget: the action over maxPerHour opens the breaker and pages; an hour later the window is free but the breaker holds until reset', async () => {
  const { engine, pages, clock } = setup({ mode: 'enforce', rules: [rule], budget: { maxPerHour: 3 } });
  await engine.start(60_000);
  const st: string[] = [];
  for (let i = 0; i < 4; i++) st.push((await engine.onFinding(f(i)))!.status);
  assert.deepEqual(st, ['queued', 'queued', 'queued', 'refused']);
  assert.equal(pages.length, 0, 'no pageReceiver configured: logged, not paged');
  clock.t += 3_700_000;
  assert.match((await engine.onFinding(f(9)))!.reason, /circuit breaker is open/);
  await engine.resetBreaker('admin');
  assert.equal((await engine.onFinding(f(10)))!.status, 'queued');
  await engine.close();
});

test('decision endpoint: revoked → deny, cache then invalidation, fail-open and fail-closed when state is unreadable', async () => {
  const { engine } = setup({ mode: 'enforce', rules: [rule] });
  await engine.start(60_000);
  let now = 0;
  const d = createDecider({
    engine,
    credentialOf: (h) => (h['x-api-key'] ? { entityId: `k1:${String(h['x-api-key'])}`, ref: null } : null),
    cacheTtlMs: 1000,
    failMode: 'open',
    log,
    now: () => now,
  });
  engine.onChange = d.invalidate;
  assert.equal((await d.decide({ 'x-api-key': 'c1' })).allow, true);
  await engine.onFinding(f(1));
  await engine.flush();
  assert.equal(
    (await d.decide({ 'x-api-key': 'c1' })).allow,
    false,
    'revocation invalidated the cached allow',
  );
  assert.equal((await d.decide({})).allow, true, 'no credential: allowed (not ours to judge)');
  const broken = {
    isRevoked: async () => Promise.reject(new Error('redis down')),
  } as unknown as ResponseEngine;
  const open = createDecider({
    engine: broken,
    credentialOf: () => ({ entityId: 'x', ref: null }),
    cacheTtlMs: 0,
    failMode: 'open',
    log,
  });
  const closed = createDecider({
    engine: broken,
    credentialOf: () => ({ entityId: 'x', ref: null }),
    cacheTtlMs: 0,
    failMode: 'closed',
    log,
  });
  assert.equal((await open.decide({})).allow, true);
  assert.equal((await closed.decide({})).allow, false);
  now = 5000;
  await engine.close();
});

async function recorder(answer: (req: IncomingMessage, body: string) => [number, unknown]) {
  const calls: Array<{ method: string; url: string; body: string; auth: string | undefined }> = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      calls.push({ method: req.method!, url: req.url!, body, auth: req.headers.authorization });
      const [status, json] = answer(req, body);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    close: () => server.close(),
  };
}

const target: ActionTarget = {
  ref: 'abc123key',
  entityKind: 'credential',
  entityId: 'k1:x',
  entityName: 'partner "A"',
  findingId: 'f1',
};

test('AWS API Gateway revoker: UpdateApiKey enabled=false / true through the AWS SDK v3 against a local endpoint', async () => {
  const srv = await recorder((req, body) => {
    const op = JSON.parse(body).patchOperations[0];
    return req.url === '/apikeys/missing'
      ? [404, { message: 'Invalid API Key identifier specified' }]
      : [200, { id: 'abc123key', enabled: op.value === 'true' }];
  });
  const client = new APIGatewayClient({
    region: 'us-east-1',
    endpoint: srv.url,
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' },
  });
  const r = createAwsApigwRevoker(
    { id: 'aws', kind: 'aws-apigw', region: 'us-east-1', timeoutMs: 5000 },
    client,
  );
  const a = await r.revoke(target, {});
  const b = await r.restore(target, {});
  const c = await r.revoke({ ...target, ref: 'missing' }, {});
  srv.close();
  assert.deepEqual(a, { ok: true, status: 200, details: { enabled: false } });
  assert.equal(b.ok, true);
  assert.equal(!c.ok && c.code, 'ALERT_ACTION_NOT_FOUND');
  assert.deepEqual(
    srv.calls.map((x) => `${x.method} ${x.url}`),
    ['PATCH /apikeys/abc123key', 'PATCH /apikeys/abc123key', 'PATCH /apikeys/missing'],
  );
  assert.deepEqual(JSON.parse(srv.calls[0]!.body), {
    patchOperations: [{ op: 'replace', path: '/enabled', value: 'false' }],
  });
  assert.match(
    srv.calls[0]!.auth ?? '',
    /^AWS4-HMAC-SHA256 Credential=AKIDTEST\//,
    'SigV4-signed by the SDK',
  );
});

test('HTTP hook revoker: templated URL (encoded) and body (JSON-escaped), bearer secret, restore request', async () => {
  const srv = await recorder(() => [200, {}]);
  const r = createHttpRevoker(
    {
      id: 'hook',
      kind: 'http',
      timeoutMs: 5000,
      headers: { 'x-team': 'soc' },
      revoke: {
        method: 'POST',
        url: `${srv.url}/keys/{{ref}}/disable`,
        body: '{"name":"{{entity.name}}","finding":"{{finding.id}}","action":"{{action}}"}',
      },
      restore: { method: 'POST', url: `${srv.url}/keys/{{ref}}/enable` },
    },
    'hook-secret',
  );
  assert.equal((await r.revoke(target, {})).ok, true);
  assert.equal((await r.restore(target, {})).ok, true);
  srv.close();
  assert.deepEqual(JSON.parse(srv.calls[0]!.body), { name: 'partner "A"', finding: 'f1', action: 'revoke' });
  assert.equal(srv.calls[0]!.auth, 'Bearer hook-secret');
  assert.deepEqual(
    srv.calls.map((c) => c.url),
    ['/keys/abc123key/disable', '/keys/abc123key/enable'],
  );
  assert.equal(
    renderTemplate('/k/{{ref}}?x={{nope}}', { ...target, ref: 'a/b' }, 'revoke', encodeURIComponent),
    '/k/a%2Fb?x={{nope}}',
  );
});

test('a restart resumes actions that were queued when the process stopped', async () => {
  const state = new MemoryStateStore();
  const one = setup({ mode: 'enforce', rules: [rule] }, state);
  // Decided, but the process stops before the queue runs it (the queue is never started).
  const r = await one.engine.onFinding(f(1));
  assert.equal(r?.status, 'queued');
  const two = setup({ mode: 'enforce', rules: [rule] }, state);
  await two.engine.start(60_000);
  await two.engine.flush();
  assert.equal((await two.engine.get(r!.id))?.status, 'revoked');
  assert.deepEqual(two.revoker.calls, ['revoke ref-1']);
  await two.engine.close();
});
