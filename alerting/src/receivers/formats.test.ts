import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exampleFinding, RECEIVER_CONFIG_SCHEMAS } from '@apiwatch/core';
import { exampleNotification } from '../testing.ts';
import { alertmanagerAlertsValidator, pagerdutyEventValidator } from '../validate.ts';
import { alertmanagerAlerts } from './alertmanager.ts';
import { pagerdutyEvent } from './pagerduty.ts';
import { RECEIVER_KINDS } from './registry.ts';
import { slackMessage } from './slack.ts';

const KEY = 'R0123456789abcdef0123456789abcde';
const many = Array.from({ length: 60 }, (_, i) =>
  exampleFinding({
    id: `f${i}`,
    fingerprint: `fp${i}`,
    severity: i === 3 ? 'critical' : 'medium',
    summary: 'x'.repeat(4000),
    entity: { kind: 'credential', id: `k1:c${i}`, name: '<script>&', ref: `ref-${i}` },
  }),
);

test('the receiver registry and the config union list the same kinds with the same schemas, in order', () => {
  assert.deepEqual(
    RECEIVER_KINDS.map((k) => k.kind),
    RECEIVER_CONFIG_SCHEMAS.map((s) => s.properties.kind.const),
  );
  for (const [i, k] of RECEIVER_KINDS.entries()) assert.equal(k.configSchema, RECEIVER_CONFIG_SCHEMAS[i]);
});

test('PagerDuty: trigger with dedup_key = group key and mapped severity; acknowledge; resolve — all valid Events API v2', () => {
  const firing = exampleNotification({ groupKey: 'abc' }, many);
  const t = pagerdutyEvent(firing, KEY, 'apiwatch');
  assert.ok(pagerdutyEventValidator.check(t), pagerdutyEventValidator.explain(t));
  assert.equal(t.event_action, 'trigger');
  assert.equal(t.dedup_key, 'apiwatch-abc');
  assert.equal(t.payload!.severity, 'critical', 'worst finding wins');
  assert.ok(t.payload!.summary.length <= 1024);
  assert.equal((t.payload!.custom_details!.findings as unknown[]).length, 20);
  assert.equal(
    pagerdutyEvent(exampleNotification({}, [exampleFinding({ severity: 'high' })]), KEY, 'a').payload!
      .severity,
    'error',
  );
  const ack = pagerdutyEvent(
    exampleNotification({ counts: { firing: 1, resolved: 0, acknowledged: 1, updates: 1, omitted: 0 } }),
    KEY,
    'a',
  );
  assert.equal(ack.event_action, 'acknowledge');
  const r = pagerdutyEvent(exampleNotification({ status: 'resolved', groupKey: 'abc' }), KEY, 'a');
  assert.ok(pagerdutyEventValidator.check(r), pagerdutyEventValidator.explain(r));
  assert.deepEqual([r.event_action, r.dedup_key, r.payload], ['resolve', 'apiwatch-abc', undefined]);
});

test('Slack: Block Kit within Slack limits, mrkdwn escaped, what/who/where/evidence and links present', () => {
  const m = slackMessage(exampleNotification({}, many));
  assert.ok(m.blocks.length <= 50);
  const json = JSON.stringify(m);
  assert.ok(!json.includes('<script>'), 'escaped');
  for (const b of m.blocks) {
    if (b.type === 'header') assert.ok(b.text.text.length <= 150);
    if (b.type === 'section') {
      assert.ok((b.text?.text.length ?? 0) <= 3000);
      assert.ok((b.fields?.length ?? 0) <= 10);
    }
  }
  for (const word of ['*Who*', '*Where*', '*Evidence*', 'Open finding', 'Dashboard', '*Do:*'])
    assert.ok(json.includes(word), word);
  assert.match(json, /and 50 more/);
});

test('Alertmanager: one postable alert per finding; firing endsAt ahead, resolved endsAt = endedAt', () => {
  const now = Date.UTC(2026, 0, 1);
  const f = exampleFinding({ firstSeen: now - 60_000, lastSeen: now - 1000 });
  const fire = alertmanagerAlerts(exampleNotification({}, [f]), 3600, now);
  assert.ok(alertmanagerAlertsValidator.check(fire), alertmanagerAlertsValidator.explain(fire));
  assert.equal(fire[0]!.labels.alertname, 'auth_brute_force');
  assert.equal(fire[0]!.endsAt, new Date(now + 3_600_000).toISOString());
  const res = alertmanagerAlerts(
    exampleNotification({}, [{ ...f, status: 'resolved', endedAt: now - 500 }]),
    3600,
    now,
  );
  assert.equal(res[0]!.endsAt, new Date(now - 500).toISOString());
  assert.deepEqual(res[0]!.labels, fire[0]!.labels, 'same label set: Alertmanager sees the same alert');
});
