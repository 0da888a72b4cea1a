import type { ApiEvent } from '@apiwatch/core';
import { Type as T } from '@sinclair/typebox';
import { endpointEntity, parseRouteKey, routeKey } from '../bola/common.ts';
import { defineDetector, type FindingDraft } from '../runtime/define.ts';
import { EndpointTally, prefixed, resolvedDraft, routeOrPath } from './tally.ts';

export const ZombieEndpointConfig = T.Object(
  {
    minCalls: T.Integer({
      minimum: 1,
      default: 2,
      description:
        'Calls to a deprecated operation or retired API version that raise a finding: a second answered call shows a client still depends on it (a single one may be a one-off).',
    }),
    ignoreStatuses: T.Array(T.Integer({ minimum: 0, maximum: 999 }), {
      default: [0, 404, 405, 410, 501],
      description:
        'Statuses that show the old endpoint is really gone (410 Gone is the fix, not the problem).',
    }),
    quietSeconds: T.Integer({
      minimum: 60,
      default: 21_600,
      description: 'The episode resolves after this long without a call.',
    }),
    resumeSeconds: T.Integer({
      minimum: 60,
      default: 3600,
      description:
        'Calls that resume after at least this long without one update the open finding (current calls, callers, last seen): the endpoint is still depended on, by the same or new callers.',
    }),
  },
  { additionalProperties: false },
);

interface ZombieState {
  tally: EndpointTally;
  open: boolean;
  retired: boolean;
  /**
   * First call of the current (or next) episode, 0 before one: the episode's id hashes it, so an
   * endpoint called again after its finding resolved opens a new finding. Absent in checkpoints
   * taken before it existed (their episodes keep the tally's first call).
   */
  since?: number;
}

/**
 * `spec.zombie_endpoint` (OWASP API9:2023): an operation the spec marks deprecated, or an old API
 * version (`/v2/x` beside a documented `/v3/x`, or an undocumented `/v1/` path whose newer version
 * is documented), still called and still answered. Evidence names the callers to migrate.
 */
export const zombieEndpoint = defineDetector({
  id: 'spec.zombie_endpoint',
  title: 'Zombie endpoint (deprecated or old version still called)',
  owasp: 'API9:2023',
  nist: 'inventory',
  severity: 'medium',
  configSchema: ZombieEndpointConfig,
  scope: 'global',
  fingerprint: ['entity'],
  keyBy(event, cfg) {
    if (!event.spec?.deprecated) return null;
    if (cfg.ignoreStatuses.includes(event.response.status)) return null;
    return routeKey({
      tenant: event.identity.tenant ?? '',
      method: event.request.method,
      route: routeOrPath(event),
    });
  },
  init: (_key, event): ZombieState => ({
    tally: new EndpointTally(),
    open: false,
    retired: event.spec?.status === 'shadow',
    since: 0,
  }),
  idleMs: (c) => c.quietSeconds * 1000 * 4,
  sizeOf: (s) => s.tally.bytes,
  onEvent(s, event, ctx, key) {
    const cfg = ctx.config;
    const previous = s.tally.last;
    s.tally.add(event, 3_600_000);
    if (!s.open && !s.since) s.since = event.ts;
    ctx.wakeAt(event.ts + cfg.quietSeconds * 1000);
    if (s.open) {
      const silentMs = event.ts - previous;
      return previous > 0 && silentMs >= cfg.resumeSeconds * 1000
        ? [firing(s, event, key, cfg, silentMs)]
        : undefined;
    }
    if (s.tally.total < cfg.minCalls) return undefined;
    s.open = true;
    return [firing(s, event, key, cfg, 0)];
  },
  onWatermark(s, ts, ctx, key) {
    if (!s.open) return undefined;
    const quietMs = ctx.config.quietSeconds * 1000;
    if (ts < s.tally.last + quietMs) {
      ctx.wakeAt(s.tally.last + quietMs);
      return undefined;
    }
    s.open = false;
    const resolved = resolvedDraft(key, s.tally, 'no longer called', ctx.config.quietSeconds);
    resolved.firstSeen = s.since || s.tally.first;
    s.since = 0;
    return [resolved];
  },
});

/** The firing finding, first raised or updated when calls resume after `silentMs` without one. */
function firing(
  s: ZombieState,
  event: ApiEvent,
  key: string,
  cfg: { minCalls: number },
  silentMs: number,
): FindingDraft {
  const t = s.tally;
  const r = parseRouteKey(key);
  const why = s.retired
    ? 'a retired API version (a newer version of this operation is documented; this one is in no spec)'
    : `deprecated in ${event.spec?.specId ?? 'its spec'}${event.spec?.operationId ? ` (operation ${event.spec.operationId})` : ''}`;
  const top = t.callers.top();
  const resumed =
    silentMs > 0 ? ` Called again after ${(silentMs / 3_600_000).toFixed(1)} h without a call.` : '';
  return {
    entity: endpointEntity(r.method, r.route),
    route: r.route,
    method: r.method,
    tenant: r.tenant || null,
    severity: event.spec?.securityRequired === false || s.retired ? 'high' : 'medium',
    confidence: 0.9,
    summary: `${r.method} ${r.route} is ${why} and still answered: ${t.total} calls from ${t.distinctActors} callers (top: ${Object.keys(top).slice(0, 3).join(', ')}).${resumed}`,
    firstSeen: s.since || t.first,
    lastSeen: t.last,
    evidence: {
      observed: t.total,
      baseline: null,
      threshold: cfg.minCalls,
      windowSeconds: Math.round((t.last - t.first) / 1000),
      counts: { calls: t.total, distinctCallers: t.distinctActors, ...prefixed('status_', t.statuses) },
      sampleEventIds: [...t.samples],
      details: {
        specId: event.spec?.specId ?? null,
        operationId: event.spec?.operationId ?? null,
        retiredVersion: s.retired,
        topCallers: top,
        samplePath: event.request.path,
        ...(silentMs > 0 ? { resumedAfterSeconds: Math.round(silentMs / 1000) } : {}),
      },
    },
    recommendedAction: `Move the top callers to the current version and retire ${r.method} ${r.route} at the gateway (answer 410 Gone); old versions often lack the fixes of the new one (crAPI's v2 OTP check has no rate limit).`,
  };
}
