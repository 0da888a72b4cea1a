import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createAlerting } from '@apiwatch/alerting';
import { AlertConfig, type AlertConfigValue, createLogger, createSecretResolver } from '@apiwatch/core';
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
  const alerting = createAlerting(config, { secrets: createSecretResolver({}), log: createLogger('silent') });
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
