import { actorKey } from '@apiwatch/core';
import { Type as T } from '@sinclair/typebox';
import {
  type EpisodeRef,
  endpointEntity,
  episodeRef,
  is2xx,
  parseRouteKey,
  routeKey,
  TopK,
} from '../bola/common.ts';
import { defineDetector, type FindingDraft } from '../runtime/define.ts';

export const UnauthenticatedAccessConfig = T.Object(
  {
    minCalls: T.Integer({
      minimum: 1,
      default: 3,
      description:
        'Successful calls without credentials on a secured operation, within two hours, that raise a finding.',
    }),
    minAuthenticatedCalls: T.Integer({
      minimum: 0,
      default: 10,
      description:
        'Authenticated calls the route must have shown first: a route that never logs credentials is a logging gap (auth upstream), not an attack.',
    }),
    quietSeconds: T.Integer({
      minimum: 60,
      default: 3600,
      description: 'The episode resolves after this long without such a call.',
    }),
  },
  { additionalProperties: false },
);

/** Per route: authenticated calls seen (saturating), unauthenticated successes in a 2-bucket window, callers. ~400 B. */
interface UnauthState {
  authenticated: number;
  bucket: number;
  cur: number;
  prev: number;
  total: number;
  first: number;
  last: number;
  callers: TopK;
  samples: string[];
  open: boolean;
  openedAt: number;
  ref: EpisodeRef | null;
}

const BUCKET_MS = 3_600_000;

/**
 * `spec.unauthenticated_access` (OWASP API2:2023 Broken Authentication): an operation whose spec
 * requires security answers 2xx to calls that carried no credentials (`auth: none`), on a route
 * whose other calls show credentials are logged.
 */
export const unauthenticatedAccess = defineDetector({
  id: 'spec.unauthenticated_access',
  title: 'Unauthenticated success on a secured operation',
  owasp: 'API2:2023',
  nist: 'authentication',
  severity: 'high',
  configSchema: UnauthenticatedAccessConfig,
  scope: 'global',
  fingerprint: ['entity'],
  keyBy(event) {
    const spec = event.spec;
    if (spec?.status !== 'documented' || !spec.securityRequired || !event.request.route) return null;
    return routeKey({
      tenant: event.identity.tenant ?? '',
      method: event.request.method,
      route: event.request.route,
    });
  },
  init: (): UnauthState => ({
    authenticated: 0,
    bucket: -1,
    cur: 0,
    prev: 0,
    total: 0,
    first: 0,
    last: 0,
    callers: new TopK(5),
    samples: [],
    open: false,
    openedAt: 0,
    ref: null,
  }),
  // The authenticated-calls count is what makes a route judgeable: keep it a week.
  idleMs: () => 7 * 86_400_000,
  sizeOf: (s) => 120 + s.callers.bytes + s.samples.length * 60,
  onEvent(s, event, ctx, key) {
    const cfg = ctx.config;
    const auth = event.identity.auth;
    if (auth === 'success') {
      if (s.authenticated < 1e9) s.authenticated++;
      return undefined;
    }
    if (auth !== 'none' || event.identity.credential.kind !== 'none' || !is2xx(event.response.status))
      return undefined;
    const b = Math.floor(event.ts / BUCKET_MS);
    if (b !== s.bucket) {
      s.prev = b === s.bucket + 1 ? s.cur : 0;
      s.cur = 0;
      s.bucket = b;
    }
    s.cur++;
    s.total++;
    if (s.first === 0) s.first = event.ts;
    s.last = event.ts;
    s.callers.add(actorKey(event));
    if (s.samples.length < 10) s.samples.push(event.id);
    ctx.wakeAt(event.ts + cfg.quietSeconds * 1000);
    if (s.open || s.cur + s.prev < cfg.minCalls || s.authenticated < cfg.minAuthenticatedCalls)
      return undefined;
    s.open = true;
    s.openedAt = event.ts;
    const r = parseRouteKey(key);
    const calls = s.cur + s.prev;
    const d: FindingDraft = {
      entity: endpointEntity(r.method, r.route),
      route: r.route,
      method: r.method,
      tenant: r.tenant || null,
      severity: r.method === 'GET' ? 'high' : 'critical',
      confidence: Math.min(0.95, 0.7 + 0.05 * calls),
      summary: `${r.method} ${r.route} requires authentication (${event.spec?.specId ?? 'spec'}) but answered ${calls} calls without credentials with 2xx within 2 h (top callers: ${Object.keys(s.callers.top()).slice(0, 3).join(', ')}).`,
      firstSeen: s.first,
      lastSeen: s.last,
      evidence: {
        observed: calls,
        baseline: 0,
        threshold: cfg.minCalls,
        windowSeconds: 7200,
        counts: { unauthenticatedSuccesses: calls, authenticatedCallsSeen: s.authenticated },
        sampleEventIds: [...s.samples],
        details: {
          operationId: event.spec?.operationId ?? null,
          topCallers: s.callers.top(),
          clientIp: event.client.ip,
        },
      },
      recommendedAction: `Enforce authentication on ${r.method} ${r.route} at the gateway and in the service (the route is reachable without credentials); review what the anonymous callers read.`,
    };
    s.ref = episodeRef(d);
    return [d];
  },
  onWatermark(s, ts, ctx, key) {
    if (!s.open) return undefined;
    const quietMs = ctx.config.quietSeconds * 1000;
    if (ts < s.last + quietMs) {
      ctx.wakeAt(s.last + quietMs);
      return undefined;
    }
    s.open = false;
    const r = parseRouteKey(key);
    const out: FindingDraft = {
      ...(s.ref ?? {}),
      status: 'resolved' as const,
      endedAt: s.last,
      entity: endpointEntity(r.method, r.route),
      route: r.route,
      method: r.method,
      tenant: r.tenant || null,
      confidence: 0.7,
      summary: `${r.method} ${r.route}: no unauthenticated success for ${Math.round(ctx.config.quietSeconds / 60)} min.`,
      firstSeen: s.ref?.firstSeen ?? s.openedAt,
      lastSeen: s.last,
      evidence: {
        observed: s.total,
        baseline: 0,
        threshold: 0,
        windowSeconds: ctx.config.quietSeconds,
        counts: {},
        sampleEventIds: [],
        details: {},
      },
      recommendedAction: 'Confirm the fix and close the incident.',
    };
    s.samples.length = 0;
    s.first = 0;
    return [out];
  },
});
