import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createAlerting,
  pagerdutyEventValidator,
  RedisStateStore,
  type slackMessage,
} from '@apiwatch/alerting';
import {
  AlertConfig,
  type AlertConfigValue,
  createLogger,
  createSecretResolver,
  exampleFinding,
  type Finding,
} from '@apiwatch/core';
import { Value } from '@sinclair/typebox/value';
import { REDIS_URL, requireService, startRecorder, uniqueName, waitFor } from '../src/index.ts';

/**
 * One attack, 500 findings in a minute (500 credentials enumerating one route, event times
 * spread over 60 s, all within the 60 s group_wait; the router's clock is driven by the test),
 * on real Redis (state and BullMQ): one Slack message and one PagerDuty
 * incident — triggered once, updated as the attack goes on (same dedup_key), resolved when it
 * ends — not 500 of each.
 */
test('grouping: 500 findings of one attack → one Slack message and one PagerDuty incident, updated then resolved', {
  timeout: 120_000,
}, async (t) => {
  if (!(await requireService(t, 'redis'))) return;
  const id = uniqueName('alert-group');
  const slack = await startRecorder(() => ({ status: 200, body: 'ok' }));
  const pd = await startRecorder(() => ({ status: 202, body: { status: 'success' } }));
  const config = Value.Default(
    AlertConfig,
    structuredClone({
      receivers: [
        { id: 'slack', kind: 'slack', url: `${slack.url}/services/T/B/X` },
        { id: 'pd', kind: 'pagerduty', url: `${pd.url}/v2/enqueue`, routingKeyEnv: 'PD_KEY' },
      ],
      route: {
        groupBy: ['detector', 'tenant', 'route'],
        groupWaitSeconds: 60,
        routes: [
          { receiver: 'slack', continue: true, groupIntervalSeconds: 3600 },
          { receiver: 'pd', continue: true, groupIntervalSeconds: 10 },
        ],
      },
      queue: { kind: 'bullmq', redisUrl: REDIS_URL, name: id, backoffMs: 100 },
      state: { kind: 'redis', redisUrl: REDIS_URL, keyPrefix: id },
    }),
  ) as AlertConfigValue;
  // The router's clock is the test's: the group timers advance when the test says, so the result
  // does not depend on how fast a loaded machine routes 500 findings (delivery stays real).
  const clock = {
    t: Date.now(),
    now() {
      return this.t;
    },
  };
  const advance = async (ms: number) => {
    clock.t += ms;
    await alerting.router.tick();
  };
  const alerting = createAlerting(config, {
    clock,
    secrets: createSecretResolver({ PD_KEY: 'R0123456789abcdef0123456789abcde' }),
    log: createLogger('warn'),
  });
  await alerting.start();
  t.after(async () => {
    await alerting.close();
    const r = new RedisStateStore(REDIS_URL, id);
    await r.clear();
    await r.close();
    await slack.close();
    await pd.close();
  });

  const t0 = Date.now() - 60_000;
  const f = (i: number, over: Partial<Finding> = {}): Finding =>
    exampleFinding({
      id: `bola-${i}-ep`,
      fingerprint: `bola-${i}`,
      detector: 'bola.object_enumeration',
      family: 'bola',
      severity: 'critical',
      entity: { kind: 'credential', id: `k1:cred${i}`, name: `consumer-${i}`, ref: `ref-${i}` },
      route: '/v1/accounts/{id}',
      method: 'GET',
      tenant: 'acme',
      firstSeen: t0 + i * 120,
      lastSeen: t0 + i * 120 + 100,
      labels: { route: '/v1/accounts/{id}' },
      ...over,
    });
  for (let i = 0; i < 500; i++) await alerting.handle(f(i));
  await advance(30_000);
  assert.equal(pd.requests.length + slack.requests.length, 0, 'nothing before group_wait');
  await advance(30_000);
  await waitFor('the first PagerDuty event', () => pd.requests[0], 30_000);
  await waitFor('the Slack message', () => slack.requests[0], 30_000);

  // The attack goes on: 50 findings update; then it ends and every finding resolves.
  for (let i = 0; i < 50; i++) await alerting.handle(f(i, { lastSeen: Date.now() }));
  await advance(10_000);
  await waitFor('the PagerDuty update', () => (pd.requests.length >= 2 ? true : undefined), 30_000);
  for (let i = 0; i < 500; i++) await alerting.handle(f(i, { status: 'resolved', endedAt: Date.now() }));
  await advance(10_000);
  await waitFor(
    'the PagerDuty resolve',
    () => pd.requests.find((r) => (r.json as { event_action: string }).event_action === 'resolve'),
    30_000,
  );
  // Nothing more may arrive: the clock is ours, so once the queues are drained nothing is due.
  await alerting.flush();

  assert.equal(slack.requests.length, 1, 'one Slack message, not 500');
  const msg = slack.requests[0]!.json as ReturnType<typeof slackMessage>;
  assert.match(JSON.stringify(msg.blocks[1]), /500 firing/);
  const events = pd.requests.map((r) => r.json as { event_action: string; dedup_key: string });
  for (const e of events) assert.ok(pagerdutyEventValidator.check(e), pagerdutyEventValidator.explain(e));
  assert.deepEqual(
    events.map((e) => e.event_action),
    ['trigger', 'trigger', 'resolve'],
    'triggered, updated once, resolved',
  );
  assert.equal(new Set(events.map((e) => e.dedup_key)).size, 1, 'one incident');
});
