import type { PagerdutyReceiverConfigValue, Severity } from '@apiwatch/core';
import { type Static, Type as T } from '@sinclair/typebox';
import type { Notification } from '../notification.ts';
import { evidenceLine, findingUrl, headline, where, who } from './format.ts';
import { postJson } from './http.ts';
import type { Receiver, SendResult } from './types.ts';

/**
 * PagerDuty Events API v2 (`POST /v2/enqueue`). The event is written from PagerDuty's published
 * reference (developer.pagerduty.com, Events API v2 OpenAPI, `/enqueue`): `routing_key` (32
 * chars), `event_action` trigger|acknowledge|resolve, `dedup_key` ≤ 255 chars, and for triggers a
 * `payload` with `summary` ≤ 1024, `source`, `severity` critical|error|warning|info, optional
 * `timestamp`, `component`, `group`, `class`, `custom_details`; `links` [{href, text}].
 * The schema below is that reference restated in TypeBox (not a vendor file); tests validate
 * every event we send against it.
 *
 * dedup_key = the group key: one incident per aggregation group (a group of one finding is one
 * incident per fingerprint), updated by later triggers, acknowledged when every firing finding is
 * acknowledged, resolved when the group resolves.
 */
export const PagerdutyEventSchema = T.Object(
  {
    routing_key: T.String({ minLength: 32, maxLength: 32 }),
    event_action: T.Union([T.Literal('trigger'), T.Literal('acknowledge'), T.Literal('resolve')]),
    dedup_key: T.String({ minLength: 1, maxLength: 255 }),
    payload: T.Optional(
      T.Object(
        {
          summary: T.String({ minLength: 1, maxLength: 1024 }),
          source: T.String({ minLength: 1 }),
          severity: T.Union([
            T.Literal('critical'),
            T.Literal('error'),
            T.Literal('warning'),
            T.Literal('info'),
          ]),
          timestamp: T.Optional(T.String({ format: 'date-time' })),
          component: T.Optional(T.String()),
          group: T.Optional(T.String()),
          class: T.Optional(T.String()),
          custom_details: T.Optional(T.Record(T.String(), T.Unknown())),
        },
        { additionalProperties: false },
      ),
    ),
    client: T.Optional(T.String()),
    client_url: T.Optional(T.String()),
    links: T.Optional(
      T.Array(T.Object({ href: T.String(), text: T.Optional(T.String()) }, { additionalProperties: false })),
    ),
  },
  { additionalProperties: false, title: 'PagerDuty Events API v2 event' },
);
export type PagerdutyEvent = Static<typeof PagerdutyEventSchema>;

const SEVERITY: Record<Severity, 'critical' | 'error' | 'warning' | 'info'> = {
  critical: 'critical',
  high: 'error',
  medium: 'warning',
  low: 'info',
  info: 'info',
};
const RANK = ['info', 'low', 'medium', 'high', 'critical'];

export function pagerdutyEvent(n: Notification, routingKey: string, source: string): PagerdutyEvent {
  const dedup = `apiwatch-${n.groupKey}`;
  if (n.status === 'resolved') return { routing_key: routingKey, event_action: 'resolve', dedup_key: dedup };
  if (n.type === 'findings' && n.counts.firing > 0 && n.counts.acknowledged === n.counts.firing) {
    return { routing_key: routingKey, event_action: 'acknowledge', dedup_key: dedup };
  }
  const worst = n.findings.reduce<Severity>(
    (w, f) => (RANK.indexOf(f.severity) > RANK.indexOf(w) ? f.severity : w),
    n.type === 'response_paused' ? 'critical' : 'info',
  );
  const f = n.findings[0];
  const url = f ? findingUrl(n, f) : null;
  return {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key: dedup,
    payload: {
      summary: headline(n),
      source: f?.tenant ? `${source}/${f.tenant}` : source,
      severity: SEVERITY[worst],
      timestamp: new Date(f?.lastSeen ?? n.queuedAt).toISOString(),
      ...(f ? { component: f.route ?? f.entity.id, group: f.family, class: f.detector } : {}),
      custom_details: {
        group_labels: n.groupLabels,
        counts: n.counts,
        message: n.message,
        findings: n.findings.slice(0, 20).map((x) => ({
          id: x.id,
          detector: x.detector,
          severity: x.severity,
          confidence: x.confidence,
          status: x.status,
          who: who(x),
          where: where(x),
          evidence: evidenceLine(x),
          owasp: x.owasp,
          recommended_action: x.recommendedAction,
        })),
      },
    },
    client: 'apiwatch',
    ...(n.dashboardUrl ? { client_url: n.dashboardUrl } : {}),
    ...(url ? { links: [{ href: url, text: 'Finding' }] } : {}),
  };
}

export function createPagerdutyReceiver(config: PagerdutyReceiverConfigValue, routingKey: string): Receiver {
  return {
    id: config.id,
    kind: 'pagerduty',
    send(n: Notification): Promise<SendResult> {
      const body = JSON.stringify(pagerdutyEvent(n, routingKey, config.source));
      return postJson(config.url, body, {}, config.timeoutMs, `pagerduty receiver ${config.id}`);
    },
  };
}
