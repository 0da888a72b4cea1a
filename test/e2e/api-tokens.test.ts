import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createAlerting } from '@apiwatch/alerting';
import { AlertConfig, type AlertConfigValue, ChdbStore, createLogger } from '@apiwatch/core';
import { Value } from '@sinclair/typebox/value';
import { runApiwatch } from '../src/index.ts';

/** `apiwatch tokens create` makes a token whose config entry (hash only) the API accepts, at its role. */
test('apiwatch tokens create: the printed entry authenticates the token at its role', async (t) => {
  const made = await runApiwatch(['tokens', 'create', '--name', 'vic', '--role', 'viewer', '--json']);
  assert.equal(made.code, 0, made.stderr);
  const { token, entry } = JSON.parse(made.stdout) as {
    token: string;
    entry: { name: string; role: 'viewer'; tokenSha256: string };
  };
  assert.ok(!JSON.stringify(entry).includes(token), 'the entry keeps no token');
  assert.equal((await runApiwatch(['tokens', 'create', '--name', 'x', '--role', 'root'])).code, 2);
  const config = Value.Default(
    AlertConfig,
    structuredClone({ api: { enabled: true, port: 0, tokens: [entry] } }),
  ) as AlertConfigValue;
  const alerting = createAlerting(config, { env: {}, log: createLogger('silent') });
  await alerting.start();
  t.after(() => alerting.close());
  const h = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  assert.equal((await fetch(`${alerting.apiUrl}/api/v1/silences`, { headers: h })).status, 200);
  const post = await fetch(`${alerting.apiUrl}/api/v1/silences`, {
    method: 'POST',
    headers: h,
    body: JSON.stringify({ matchers: ['tenant=acme'], reason: 'x', durationSeconds: 60 }),
  });
  assert.equal(post.status, 403, 'a viewer cannot create a silence');
  const wrong = await fetch(`${alerting.apiUrl}/api/v1/silences`, {
    headers: { authorization: 'Bearer nope' },
  });
  assert.equal(wrong.status, 401);
});

/** `apiwatch tokens list | revoke` against a running API: the revoked token is refused from then on. */
test('apiwatch tokens revoke: through the API with an admin token; the revoked token gets 401; list shows it revoked', async (t) => {
  const make = async (name: string, role: string) => {
    const r = await runApiwatch(['tokens', 'create', '--name', name, '--role', role, '--json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as {
      token: string;
      id: string;
      entry: { name: string; role: 'admin' | 'analyst'; tokenSha256: string };
    };
  };
  const admin = await make('root', 'admin');
  const ana = await make('ana', 'analyst');
  assert.match(ana.id, /^tok_[0-9a-f]{12}$/);
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-tokens-cli-'));
  const store = new ChdbStore(dir);
  await store.start();
  const config = Value.Default(
    AlertConfig,
    structuredClone({ api: { enabled: true, port: 0, tokens: [admin.entry, ana.entry] } }),
  ) as AlertConfigValue;
  const alerting = createAlerting(config, { env: {}, log: createLogger('silent'), store, audit: store });
  await alerting.start();
  t.after(async () => {
    await alerting.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const url = alerting.apiUrl!;
  const asAna = () =>
    fetch(`${url}/api/v1/silences`, { headers: { authorization: `Bearer ${ana.token}` } }).then(
      (r) => r.status,
    );
  assert.equal(await asAna(), 200);
  const byAnalyst = await runApiwatch(['tokens', 'revoke', 'ana', '--url', url], {
    APIWATCH_API_TOKEN: ana.token,
  });
  assert.equal(byAnalyst.code, 1);
  assert.match(byAnalyst.stderr, /ALERT_API_FORBIDDEN/);
  const env = { APIWATCH_API_TOKEN: admin.token };
  const revoked = await runApiwatch(['tokens', 'revoke', 'ana', '--reason', 'rotated', '--url', url], env);
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.match(
    revoked.stdout,
    new RegExp(`^revoked ${ana.id}  ana  analyst  revoked .* by root — rotated$`, 'm'),
  );
  assert.equal(await asAna(), 401);
  const again = await runApiwatch(['tokens', 'revoke', ana.id, '--url', url], env);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /ALERT_TOKEN_ALREADY_REVOKED/);
  const list = await runApiwatch(['tokens', 'list', '--json', '--url', url], env);
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual(
    (JSON.parse(list.stdout) as Array<{ id: string; revoked: boolean }>).map((x) => [x.id, x.revoked]),
    [
      [admin.id, false],
      [ana.id, true],
    ],
  );
  assert.equal((await runApiwatch(['tokens', 'revoke', '--url', url], env)).code, 2, 'usage: no token named');
});
