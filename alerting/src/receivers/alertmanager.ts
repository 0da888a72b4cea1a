import type { AlertmanagerReceiverConfigValue, Finding } from '@apiwatch/core';
import { type Static, Type as T } from '@sinclair/typebox';
import type { Notification } from '../notification.ts';
import { findingLabels } from '../router/matcher.ts';
import { evidenceLine, findingUrl, where, who } from './format.ts';
import { postJson } from './http.ts';
import type { Receiver, SendResult } from './types.ts';

/**
 * Prometheus Alertmanager, `POST /api/v2/alerts` with `postableAlerts` (Alertmanager's OpenAPI,
 * api/v2/openapi.yaml: `labels` required (label set), `annotations`, `startsAt`, `endsAt`,
 * `generatorURL`). One alert per finding; its label set is stable per fingerprint so
 * Alertmanager de-duplicates re-sends; a firing alert's endsAt is now + resolveTimeoutSeconds
 * (Alertmanager resolves it by itself if apiwatch disappears), a resolved one's is the finding's
 * endedAt, which Alertmanager shows as resolved.
 */
export const AlertmanagerPostableAlertsSchema = T.Array(
  T.Object(
    {
      labels: T.Record(T.String({ pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$' }), T.String()),
      annotations: T.Optional(T.Record(T.String(), T.String())),
      startsAt: T.Optional(T.String({ format: 'date-time' })),
      endsAt: T.Optional(T.String({ format: 'date-time' })),
      generatorURL: T.Optional(T.String()),
    },
    { additionalProperties: false },
  ),
  { title: 'Alertmanager postableAlerts' },
);
export type AlertmanagerPostableAlerts = Static<typeof AlertmanagerPostableAlertsSchema>;

/** Labels Alertmanager sees: stable per finding fingerprint (no status, no counts). */
function alertLabels(f: Finding): Record<string, string> {
  const { status: _status, entity: _entity, ...rest } = findingLabels(f);
  const out: Record<string, string> = {
    alertname: f.detector.replace('.', '_'),
    apiwatch_fingerprint: f.fingerprint,
  };
  for (const [k, v] of Object.entries(rest)) if (/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(k) && v !== '') out[k] = v;
  out.entity = f.entity.id;
  return out;
}

export function alertmanagerAlerts(
  n: Notification,
  resolveTimeoutSeconds: number,
  nowMs: number,
): AlertmanagerPostableAlerts {
  return n.findings.map((f) => {
    const url = findingUrl(n, f);
    return {
      labels: alertLabels(f),
      annotations: {
        summary: f.summary,
        title: f.title,
        who: who(f),
        where: where(f),
        evidence: evidenceLine(f),
        recommended_action: f.recommendedAction,
        owasp: f.owasp,
        confidence: String(f.confidence),
        apiwatch_group: n.groupKey,
      },
      startsAt: new Date(f.firstSeen).toISOString(),
      endsAt: new Date(
        f.status === 'resolved' ? Math.min(f.endedAt ?? nowMs, nowMs) : nowMs + resolveTimeoutSeconds * 1000,
      ).toISOString(),
      ...(url ? { generatorURL: url } : {}),
    };
  });
}

export function createAlertmanagerReceiver(config: AlertmanagerReceiverConfigValue): Receiver {
  const url = `${config.url.replace(/\/$/, '')}/api/v2/alerts`;
  return {
    id: config.id,
    kind: 'alertmanager',
    async send(n: Notification): Promise<SendResult> {
      if (n.findings.length === 0) return { ok: true, status: 200 };
      const body = JSON.stringify(alertmanagerAlerts(n, config.resolveTimeoutSeconds, Date.now()));
      return postJson(url, body, {}, config.timeoutMs, `alertmanager receiver ${config.id} (${url})`);
    },
  };
}
