import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AlertConfig, type AlertConfigValue, ChdbStore, createLogger, metrics } from '@apiwatch/core';
import { Value } from '@sinclair/typebox/value';
import { createAlerting } from '../alerting.ts';
import { buildManagementApi } from './management.ts';
import { ApiTokens, tokenId } from './tokens.ts';

const dir = mkdtempSync(join(tmpdir(), 'apiwatch-tokens-'));
const store = new ChdbStore(dir);
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const ADMIN = 'admin-token-0123456789';
const ANA = 'analyst-token-0123456789';
const ANA2 = 'analyst-two-token-0123456789';
const VIEW = 'viewer-token-0123456789';
const tokens = [
  { name: 'root', role: 'admin' as const, tokenSha256: sha(ADMIN) },
  { name: 'ana', role: 'analyst' as const, tokenSha256: sha(ANA) },
  { name: 'twin', role: 'analyst' as const, tokenSha256: sha(ANA2) },
  { name: 'twin', role: 'viewer' as const, tokenSha256: sha(VIEW) },
];
const log = createLogger('silent');
const bearer = (t: string) => ({ authorization: `Bearer ${t}`, 'content-type': 'application/json' });

before(() => store.start());
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const auditOf = (action: string) =>
  store.query<{ outcome: string; initiated_by: string; target_ref: string; response_status: number }>(
    'SELECT outcome, initiated_by, target_ref, response_status FROM response_actions_audit WHERE action = {a:String} ORDER BY ts',
    { a: action },
  );

test('inject: list and revoke need admin; a revoked token gets 401 with its code; every attempt audited; kept hashed', async () => {
  const app = await buildManagementApi({ tokens, router: null, engine: null, store, metrics, log });
  try {
    const list = await app.inject({ url: '/api/v1/tokens', headers: bearer(ADMIN) });
    assert.equal(list.statusCode, 200);
    assert.deepEqual(
      list.json().map((t: { id: string; name: string; revoked: boolean }) => [t.id, t.name, t.revoked]),
      tokens.map((t) => [tokenId(t.tokenSha256), t.name, false]),
    );
    assert.ok(!list.body.includes(sha(ADMIN)), 'the list shows ids, never the hashes');
    assert.equal((await app.inject({ url: '/api/v1/tokens', headers: bearer(ANA) })).statusCode, 403);

    const revoke = (who: string, key: string, body: unknown = { reason: 'left the team' }) =>
      app.inject({
        method: 'POST',
        url: `/api/v1/tokens/${encodeURIComponent(key)}/revoke`,
        headers: bearer(who),
        payload: body as Record<string, unknown>,
      });
    const byAnalyst = await revoke(ANA, 'ana');
    assert.equal(byAnalyst.statusCode, 403);
    assert.equal(byAnalyst.json().error.code, 'ALERT_API_FORBIDDEN');

    assert.equal((await app.inject({ url: '/api/v1/silences', headers: bearer(ANA) })).statusCode, 200);
    const ok = await revoke(ADMIN, 'ana');
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.json().id, tokenId(sha(ANA)));
    assert.equal(ok.json().revoked, true);
    assert.equal(ok.json().revokedBy, 'root');

    const refused = await app.inject({ url: '/api/v1/silences', headers: bearer(ANA) });
    assert.equal(refused.statusCode, 401);
    assert.equal(refused.json().error.code, 'ALERT_API_TOKEN_REVOKED');
    const mutation = await app.inject({
      method: 'POST',
      url: '/api/v1/findings/x/comment',
      headers: bearer(ANA),
      payload: { text: 'still here?' },
    });
    assert.equal(mutation.statusCode, 401);

    for (const [key, status, code] of [
      ['ana', 409, 'ALERT_TOKEN_ALREADY_REVOKED'],
      ['nobody', 404, 'ALERT_TOKEN_NOT_FOUND'],
      ['twin', 409, 'ALERT_TOKEN_AMBIGUOUS'],
    ] as const) {
      const r = await revoke(ADMIN, key);
      assert.equal(r.statusCode, status, key);
      assert.equal(r.json().error.code, code, key);
    }
    const bad = await revoke(ADMIN, tokenId(sha(VIEW)), { why: 'unknown key' });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().error.code, 'ALERT_API_INVALID_REQUEST');
    // By id, one of the two "twin" tokens goes; the other still works.
    assert.equal((await revoke(ADMIN, tokenId(sha(VIEW)))).statusCode, 200);
    assert.equal((await app.inject({ url: '/api/v1/silences', headers: bearer(VIEW) })).statusCode, 401);
    assert.equal((await app.inject({ url: '/api/v1/silences', headers: bearer(ANA2) })).statusCode, 200);
  } finally {
    await app.close();
  }

  const stored = await store.query<{ token_sha256: string; name: string; revoked_by: string }>(
    'SELECT token_sha256, name, revoked_by FROM api_token_revocations FINAL ORDER BY name',
  );
  assert.deepEqual(
    stored.map((r) => [r.token_sha256, r.name, r.revoked_by]),
    [
      [sha(ANA), 'ana', 'root'],
      [sha(VIEW), 'twin', 'root'],
    ],
  );
  const everything = JSON.stringify(
    await store.query('SELECT * FROM api_token_revocations UNION ALL SELECT * FROM api_token_revocations'),
  );
  assert.ok(!everything.includes(ANA) && !everything.includes(VIEW), 'only hashes are stored');
  const audit = await auditOf('token.revoke');
  assert.deepEqual(
    audit.map((r) => [r.initiated_by, r.outcome, Number(r.response_status)]),
    [
      ['ana', 'denied', 403],
      ['root', 'executed', 200],
      ['root', 'failed', 409],
      ['root', 'failed', 404],
      ['root', 'failed', 409],
      ['root', 'executed', 200],
    ],
  );
  const denied = await auditOf('finding.comment');
  assert.deepEqual(
    denied.map((r) => [r.initiated_by, r.outcome, Number(r.response_status)]),
    [['ana', 'denied', 401]],
    'a revoked token trying a mutation is audited under its name',
  );

  // A restart (a new API over the same store) still refuses the revoked tokens.
  const again = await buildManagementApi({ tokens, router: null, engine: null, store, metrics, log });
  try {
    assert.equal((await again.inject({ url: '/api/v1/silences', headers: bearer(ANA) })).statusCode, 401);
    assert.equal((await again.inject({ url: '/api/v1/silences', headers: bearer(ANA2) })).statusCode, 200);
  } finally {
    await again.close();
  }
});

test('listener: a revocation served by one API process reaches another over the same store, and the older handlers refuse the token too', async () => {
  const config = Value.Default(
    AlertConfig,
    structuredClone({ api: { enabled: true, port: 0, tokens } }),
  ) as AlertConfigValue;
  const one = createAlerting(config, { env: {}, log, store, audit: store, tokenRefreshMs: 100 });
  const two = createAlerting(config, { env: {}, log, store, audit: store, tokenRefreshMs: 100 });
  await one.start();
  await two.start();
  try {
    const groups = (url: string) =>
      fetch(`${url}/api/v1/groups`, { headers: bearer(ANA2) }).then((r) => r.status);
    assert.equal(await groups(two.apiUrl!), 200);
    const r = await fetch(`${one.apiUrl}/api/v1/tokens/twin/revoke`, {
      method: 'POST',
      headers: bearer(ADMIN),
      body: JSON.stringify({ reason: 'rotated' }),
    });
    // "twin" now names one live token and one revoked one: still ambiguous, by design.
    assert.equal(r.status, 409);
    const byId = await fetch(`${one.apiUrl}/api/v1/tokens/${tokenId(sha(ANA2))}/revoke`, {
      method: 'POST',
      headers: bearer(ADMIN),
    });
    assert.equal(byId.status, 200, await byId.text());
    assert.equal(await groups(one.apiUrl!), 401, 'the serving process refuses it at once');
    const legacy = await fetch(`${one.apiUrl}/api/v1/groups`, { headers: bearer(ANA2) });
    assert.equal(
      ((await legacy.json()) as { error: { code: string } }).error.code,
      'ALERT_API_TOKEN_REVOKED',
    );
    // The other process learns it on its next refresh of the revocations.
    let status = 200;
    for (let i = 0; i < 150 && status === 200; i++) {
      await new Promise((res) => setTimeout(res, 100));
      status = await groups(two.apiUrl!);
    }
    assert.equal(status, 401, 'the other process refuses it after a refresh');
  } finally {
    await one.close();
    await two.close();
  }
});

test('fail closed: while the revocations cannot be read, known tokens get 503 (retryable), not a pass', async () => {
  let down = true;
  const flaky = {
    query: async <T>(sql: string, params?: Record<string, unknown>): Promise<T[]> => {
      if (down) throw new Error('store unreachable');
      return store.query<T>(sql, params);
    },
    insertAudit: (rows: Parameters<typeof store.insertAudit>[0]) => store.insertAudit(rows),
    insertTokenRevocations: (rows: Parameters<typeof store.insertTokenRevocations>[0]) =>
      store.insertTokenRevocations(rows),
    insertDeliveries: (rows: Parameters<typeof store.insertDeliveries>[0]) => store.insertDeliveries(rows),
  };
  const apiTokens = new ApiTokens(tokens, flaky, log);
  await apiTokens.start(0);
  const app = await buildManagementApi({
    tokens,
    router: null,
    engine: null,
    store: flaky,
    apiTokens,
    metrics,
    log,
  });
  try {
    const r = await app.inject({ url: '/api/v1/silences', headers: bearer(ADMIN) });
    assert.equal(r.statusCode, 503);
    assert.deepEqual(r.json().error, {
      code: 'ALERT_API_UNAVAILABLE',
      message: 'token revocations could not be read from the store yet; retry shortly',
      retryable: true,
    });
    assert.equal((await app.inject({ url: '/api/v1/silences', headers: bearer('nope') })).statusCode, 401);
    down = false;
    await apiTokens.refresh();
    assert.equal((await app.inject({ url: '/api/v1/silences', headers: bearer(ADMIN) })).statusCode, 200);
    assert.equal(
      (await app.inject({ url: '/api/v1/silences', headers: bearer(ANA) })).statusCode,
      401,
      'and the revocations read now hold',
    );
  } finally {
    await app.close();
  }
});
