import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
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
import { runApiwatch, startRecorder, waitFor } from '../src/index.ts';

/**
 * The CLI wires the alert API: `apiwatch silences create|list|expire` (author = the token's
 * name), `apiwatch deliveries dead|replay` over a receiver that first rejects and then accepts,
 * and the role checks (a viewer token cannot create a silence).
 */
test('apiwatch silences and deliveries drive the alert API', async (t) => {
  let reject = true;
  const hook = await startRecorder(() =>
    reject ? { status: 400, body: { error: 'bad' } } : { status: 204 },
  );
  t.after(() => hook.close());
  const ANA = 'cli-token-ana-0123456789';
  const VIC = 'cli-token-vic-0123456789';
  const config = Value.Default(
    AlertConfig,
    structuredClone({
      receivers: [{ id: 'soc', kind: 'webhook', url: `${hook.url}/hook` }],
      route: { groupWaitSeconds: 0 },
      api: {
        enabled: true,
        port: 0,
        tokens: [
          { name: 'ana', role: 'analyst', tokenSha256: createHash('sha256').update(ANA).digest('hex') },
          { name: 'vic', role: 'viewer', tokenSha256: createHash('sha256').update(VIC).digest('hex') },
        ],
      },
    }),
  ) as AlertConfigValue;
  const alerting = createAlerting(config, { secrets: createSecretResolver({}), log: createLogger('silent') });
  await alerting.start();
  t.after(() => alerting.close());
  const cli = (args: string[], token = ANA) =>
    runApiwatch([...args, '--url', alerting.apiUrl!], { APIWATCH_API_TOKEN: token });

  const denied = await cli(
    ['silences', 'create', '--matcher', 'tenant=acme', '--reason', 'x', '--duration', '5'],
    VIC,
  );
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /ALERT_API_FORBIDDEN/);
  assert.equal((await cli(['silences', 'create', '--reason', 'x'])).code, 2, 'usage error');
  const made = await cli([
    'silences',
    'create',
    '--matcher',
    'tenant=acme',
    '--matcher',
    'detector=~"auth\\..*"',
    '--reason',
    'pen test',
    '--duration',
    '30',
    '--json',
  ]);
  assert.equal(made.code, 0, made.stderr);
  const silence = JSON.parse(made.stdout) as { id: string; author: string };
  assert.equal(silence.author, 'ana');
  assert.equal(await alerting.router.route(exampleFinding({ tenant: 'acme' })), 'silenced');
  const listed = await cli(['silences', 'list'], VIC);
  assert.match(listed.stdout, /by ana .*tenant=acme.*pen test/);
  assert.equal((await cli(['silences', 'expire', silence.id])).code, 0);

  // A permanent 400 dead-letters at once; replay sends it again once the receiver accepts.
  // Routed once the expired silence no longer mutes it (a silenced finding is only counted).
  const f2 = exampleFinding({ tenant: 'acme', id: 'f2', fingerprint: 'fp2' });
  await waitFor(
    'the expired silence to lift',
    async () => ((await alerting.router.route(f2)) === 'routed' ? true : undefined),
    5000,
  );
  const dead = await waitFor(
    'a dead letter',
    async () => {
      const r = await cli(['deliveries', 'dead', '--json'], VIC);
      const l = JSON.parse(r.stdout || '[]') as Array<{ id: string; code: string; attempts: number }>;
      return l.length > 0 ? l : undefined;
    },
    15_000,
  );
  assert.deepEqual([dead[0]!.code, dead[0]!.attempts], ['ALERT_DELIVERY_REJECTED', 1]);
  reject = false;
  const replay = await cli(['deliveries', 'replay', dead[0]!.id]);
  assert.equal(replay.code, 0, replay.stderr);
  await waitFor('the replayed delivery', () => (hook.requests.length === 2 ? true : undefined), 15_000);
  assert.equal(hook.requests[1]!.headers['webhook-id'], dead[0]!.id, 'same id on replay');
  assert.match((await cli(['deliveries', 'dead'], VIC)).stdout, /no dead letters/);
});
