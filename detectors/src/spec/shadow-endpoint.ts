import { Type as T } from '@sinclair/typebox';
import { endpointEntity, parseRouteKey, routeKey } from '../bola/common.ts';
import { defineDetector } from '../runtime/define.ts';
import { EndpointTally, prefixed, resolvedDraft, routeOrPath } from './tally.ts';

export const ShadowEndpointConfig = T.Object(
  {
    minCalls: T.Integer({
      minimum: 1,
      default: 10,
      description: 'Calls (not answered with an ignored status) that make an unlisted endpoint a finding.',
    }),
    minSuccesses: T.Integer({
      minimum: 1,
      default: 3,
      description:
        'Or: this many 2xx answers — the API really serves the endpoint (a 400/403/500 to a probe does not show that; those need minCalls).',
    }),
    minActors: T.Integer({
      minimum: 1,
      default: 3,
      description: 'Or: this many distinct callers with at least 3 calls in all.',
    }),
    ignoreStatuses: T.Array(T.Integer({ minimum: 0, maximum: 999 }), {
      default: [0, 404, 405, 501],
      description: 'Statuses that show the endpoint does not exist (scanner 404s are recon, not inventory).',
    }),
    ignorePaths: T.Array(T.String({ maxLength: 256 }), {
      default: [
        '/health',
        '/healthz',
        '/livez',
        '/readyz',
        '/ready',
        '/ping',
        '/metrics',
        '/favicon.ico',
        '/robots.txt',
        '/.well-known/',
      ],
      description: 'Path prefixes that are infrastructure, not API (health checks, metrics, well-known).',
    }),
    ignoreMethods: T.Array(T.String({ maxLength: 32 }), {
      default: ['OPTIONS'],
      description: 'Methods never reported (CORS preflight).',
    }),
    quietSeconds: T.Integer({
      minimum: 60,
      default: 21_600,
      description: 'The episode resolves after this long without a call.',
    }),
  },
  { additionalProperties: false },
);

interface ShadowState {
  tally: EndpointTally;
  open: boolean;
  /** 2xx answers since first seen. */
  successes: number;
}

/**
 * `spec.shadow_endpoint` (OWASP API9:2023 Improper Inventory Management): calls to an endpoint in
 * no loaded spec, under a spec's host and base path (`event.spec.status = shadow`), that the API
 * answers (not 404/405): traffic count, callers, first and last seen.
 */
export const shadowEndpoint = defineDetector({
  id: 'spec.shadow_endpoint',
  title: 'Shadow endpoint (not in any spec)',
  owasp: 'API9:2023',
  nist: 'inventory',
  severity: 'medium',
  configSchema: ShadowEndpointConfig,
  scope: 'global',
  fingerprint: ['entity'],
  keyBy(event, cfg) {
    const spec = event.spec;
    if (spec?.status !== 'shadow' || spec.deprecated) return null;
    if (cfg.ignoreMethods.includes(event.request.method)) return null;
    if (cfg.ignoreStatuses.includes(event.response.status)) return null;
    const path = event.request.path;
    if (
      cfg.ignorePaths.some(
        (p) => path === p || path.startsWith(p.endsWith('/') ? p : `${p}/`) || path === p.replace(/\/$/, ''),
      )
    )
      return null;
    return routeKey({
      tenant: event.identity.tenant ?? '',
      method: event.request.method,
      route: routeOrPath(event),
    });
  },
  init: (): ShadowState => ({ tally: new EndpointTally(), open: false, successes: 0 }),
  idleMs: (c) => c.quietSeconds * 1000 * 4,
  sizeOf: (s) => s.tally.bytes,
  onEvent(s, event, ctx, key) {
    const cfg = ctx.config;
    s.tally.add(event, 3_600_000);
    ctx.wakeAt(event.ts + cfg.quietSeconds * 1000);
    const t = s.tally;
    const status = event.response.status;
    if (status >= 200 && status < 300) s.successes++;
    const enough =
      t.total >= cfg.minCalls ||
      s.successes >= cfg.minSuccesses ||
      (t.total >= 3 && t.distinctActors >= cfg.minActors);
    if (s.open || !enough) return undefined;
    s.open = true;
    const r = parseRouteKey(key);
    return [
      {
        entity: endpointEntity(r.method, r.route),
        route: r.route,
        method: r.method,
        tenant: r.tenant || null,
        confidence: Math.min(0.95, 0.6 + 0.05 * Math.log2(t.total)),
        summary: `${r.method} ${r.route} is called but documented in no loaded spec (${event.spec?.specId ?? 'spec'} covers its host and base path): ${t.total} calls (${s.successes} answered 2xx) from ${t.distinctActors} callers since ${new Date(t.first).toISOString()}.`,
        firstSeen: t.first,
        lastSeen: t.last,
        evidence: {
          observed: t.total,
          baseline: null,
          threshold: s.successes >= cfg.minSuccesses ? cfg.minSuccesses : cfg.minCalls,
          windowSeconds: Math.round((t.last - t.first) / 1000),
          counts: {
            calls: t.total,
            successes: s.successes,
            distinctCallers: t.distinctActors,
            ...prefixed('status_', t.statuses),
          },
          sampleEventIds: [...t.samples],
          details: {
            specId: event.spec?.specId ?? null,
            topCallers: t.callers.top(),
            host: event.request.host,
            samplePath: event.request.path,
          },
        },
        recommendedAction: `Document ${r.method} ${r.route} in the API's OpenAPI spec with its security, or remove it from the gateway; find its owner from the top callers.`,
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
    return [resolvedDraft(key, s.tally, 'no longer called', ctx.config.quietSeconds)];
  },
});
