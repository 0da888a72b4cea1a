import type { ApiEvent } from '@apiwatch/core';
import { Type as T } from '@sinclair/typebox';
import { endpointEntity, isSuccess, parseRouteKey, routeKey } from '../bola/common.ts';
import { defineDetector } from '../runtime/define.ts';
import { EndpointTally, prefixed, resolvedDraft, routeOrPath } from './tally.ts';

export const UndocumentedOperationConfig = T.Object(
  {
    minMethodSuccesses: T.Integer({
      minimum: 1,
      default: 2,
      description:
        'Successful (2xx/3xx) calls with a method the path does not document that raise a finding.',
    }),
    ignoreMethods: T.Array(T.String({ maxLength: 32 }), {
      default: ['OPTIONS', 'HEAD'],
      description: 'Methods never reported (CORS preflight, HEAD served from GET).',
    }),
    minStatusCalls: T.Integer({
      minimum: 1,
      default: 20,
      description: 'Calls answered with one undocumented status within two hours that raise a finding.',
    }),
    minStatusCallers: T.Integer({
      minimum: 1,
      default: 2,
      description:
        'Distinct callers that must have received that status (one looping client is its own bug).',
    }),
    ignoreStatuses: T.Array(T.Integer({ minimum: 0, maximum: 999 }), {
      default: [0, 401, 403, 404, 405, 408, 413, 414, 429, 431, 499],
      description:
        'Statuses gateways and frameworks add whatever the spec says (auth plugins, rate limiters, size limits). 5xx are volume.error_spike’s.',
    }),
    quietSeconds: T.Integer({
      minimum: 60,
      default: 21_600,
      description: 'The episode resolves after this long without such a call.',
    }),
  },
  { additionalProperties: false },
);

interface UndocState {
  tally: EndpointTally;
  open: boolean;
}

type Kind = { kind: 'method' } | { kind: 'status'; status: number };

function kindOf(event: ApiEvent, cfg: { ignoreMethods: string[]; ignoreStatuses: number[] }): Kind | null {
  const spec = event.spec;
  if (!spec) return null;
  if (spec.status === 'undocumented_method') {
    if (cfg.ignoreMethods.includes(event.request.method) || !isSuccess(event.response.status)) return null;
    return { kind: 'method' };
  }
  if (spec.status !== 'documented') return null;
  const status = event.response.status;
  if (status < 100 || status >= 500 || cfg.ignoreStatuses.includes(status)) return null;
  if (!spec.violations.some((v) => v.code === 'status_undocumented')) return null;
  return { kind: 'status', status };
}

/**
 * `spec.undocumented_operation` (OWASP API9:2023, API8:2023): a documented path that answers a
 * method its spec does not list (method tampering that works), or an operation that keeps
 * answering a status code its spec does not document (from several callers).
 */
export const undocumentedOperation = defineDetector({
  id: 'spec.undocumented_operation',
  title: 'Undocumented method or status code',
  owasp: 'API9:2023',
  nist: 'inventory',
  severity: 'medium',
  configSchema: UndocumentedOperationConfig,
  scope: 'global',
  fingerprint: ['entity', 'extra'],
  keyBy(event, cfg) {
    const k = kindOf(event, cfg);
    if (!k) return null;
    const base = routeKey({
      tenant: event.identity.tenant ?? '',
      method: event.request.method,
      route: routeOrPath(event),
    });
    return `${base}\u0001${k.kind === 'method' ? 'method' : `status ${k.status}`}`;
  },
  init: (): UndocState => ({ tally: new EndpointTally(), open: false }),
  idleMs: (c) => c.quietSeconds * 1000 * 4,
  sizeOf: (s) => s.tally.bytes,
  onEvent(s, event, ctx, key) {
    const cfg = ctx.config;
    const [base = '', what = ''] = key.split('\u0001');
    s.tally.add(event, 3_600_000);
    ctx.wakeAt(event.ts + cfg.quietSeconds * 1000);
    const t = s.tally;
    const method = what === 'method';
    const enough = method
      ? t.total >= cfg.minMethodSuccesses
      : t.windowCalls >= cfg.minStatusCalls && t.distinctActors >= cfg.minStatusCallers;
    if (s.open || !enough) return undefined;
    s.open = true;
    const r = parseRouteKey(base);
    return [
      {
        entity: endpointEntity(r.method, r.route),
        route: r.route,
        method: r.method,
        tenant: r.tenant || null,
        severity: method
          ? r.method === 'DELETE' || r.method === 'PUT' || r.method === 'PATCH'
            ? 'high'
            : 'medium'
          : 'low',
        confidence: method ? 0.85 : 0.7,
        summary: method
          ? `${r.route} answers ${r.method} (${t.total} successful calls) although ${event.spec?.specId ?? 'its spec'} documents no ${r.method} on it.`
          : `${r.method} ${r.route} answered ${what.replace('status ', '')} ${t.windowCalls} times to ${t.distinctActors} callers within 2 h; ${event.spec?.specId ?? 'its spec'} does not document that status.`,
        firstSeen: t.first,
        lastSeen: t.last,
        evidence: {
          observed: method ? t.total : t.windowCalls,
          baseline: null,
          threshold: method ? cfg.minMethodSuccesses : cfg.minStatusCalls,
          windowSeconds: method ? Math.round((t.last - t.first) / 1000) : 7200,
          counts: { calls: t.total, distinctCallers: t.distinctActors, ...prefixed('status_', t.statuses) },
          sampleEventIds: [...t.samples],
          details: {
            undocumented: what,
            specId: event.spec?.specId ?? null,
            operationId: event.spec?.operationId ?? null,
            topCallers: t.callers.top(),
          },
        },
        recommendedAction: method
          ? `Block ${r.method} on ${r.route} at the gateway or document it with its authorization; check the top callers for method tampering.`
          : `Document status ${what.replace('status ', '')} for ${r.method} ${r.route} or fix the handler that returns it.`,
        fingerprintExtra: what,
      },
    ];
  },
  onWatermark(s, ts, ctx, key) {
    if (!s.open) return undefined;
    const quietMs = ctx.config.quietSeconds * 1000;
    if (ts < s.tally.last + quietMs) {
      ctx.wakeAt(s.tally.last + quietMs);
      return undefined;
    }
    s.open = false;
    const [base = '', what = ''] = key.split('\u0001');
    return [resolvedDraft(base, s.tally, `no ${what} seen`, ctx.config.quietSeconds, what)];
  },
});
