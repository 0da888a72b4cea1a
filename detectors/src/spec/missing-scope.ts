import { type ApiEvent, actorKey, type FindingEntity } from '@apiwatch/core';
import { Type as T } from '@sinclair/typebox';
import { actorFindingEntity, fnv1a, is2xx } from '../bola/common.ts';
import { defineDetector } from '../runtime/define.ts';

export const MissingScopeConfig = T.Object(
  {
    minCalls: T.Integer({
      minimum: 1,
      default: 1,
      description:
        'Successful calls lacking the required scopes, per actor and operation, that raise a finding.',
    }),
    quietSeconds: T.Integer({
      minimum: 60,
      default: 3600,
      description: 'An episode resolves after this long without such a call.',
    }),
  },
  { additionalProperties: false },
);

/**
 * Per actor: whether its tokens ever satisfied a scoped operation (so its scope vocabulary is the
 * spec's), hashes of scopes seen in required-scope lists (at most 16), and up to 4 open episodes
 * (one per operation). ~500 B.
 */
interface ScopeState {
  satisfied: boolean;
  vocabulary: number[];
  episodes: Array<{
    op: string;
    start: number;
    last: number;
    calls: number;
    entity: FindingEntity;
    route: string | null;
    method: string;
    tenant: string | null;
  }>;
}

function missing(event: ApiEvent): string[] {
  const have = event.identity.scopes;
  return event.spec!.requiredScopes.filter((s) => !have.includes(s));
}

/**
 * `spec.missing_scope` (OWASP API5:2023 Broken Function Level Authorization): a 2xx answer to a
 * token that lacks a scope the operation's spec requires. Judged only when the token's scopes
 * are comparable with the spec's: it carries at least one of the required scopes, or the actor's
 * tokens satisfied a scoped operation before — a token whose scopes use another vocabulary (or
 * that carries none) is a mapping gap, not an attack.
 */
export const missingScope = defineDetector({
  id: 'spec.missing_scope',
  title: 'Success without the required scopes (BFLA)',
  owasp: 'API5:2023',
  nist: 'authorization',
  severity: 'high',
  configSchema: MissingScopeConfig,
  scope: 'actor',
  fingerprint: ['entity', 'route'],
  keyBy(event) {
    const spec = event.spec;
    if (spec?.status !== 'documented' || spec.requiredScopes.length === 0) return null;
    if (event.identity.auth !== 'success' || event.identity.scopes.length === 0) return null;
    return actorKey(event);
  },
  init: (): ScopeState => ({ satisfied: false, vocabulary: [], episodes: [] }),
  // What makes an actor's scopes comparable (it satisfied a scoped operation) must outlive a
  // holiday: at 7 days, a user back after two weeks was a stranger whose token was never judged.
  idleMs: () => 35 * 86_400_000,
  sizeOf: (s) => 64 + s.vocabulary.length * 8 + s.episodes.length * 220,
  onEvent(s, event, ctx, key) {
    const required = event.spec!.requiredScopes;
    for (const sc of required) {
      const h = fnv1a(sc);
      if (s.vocabulary.length < 16 && !s.vocabulary.includes(h)) s.vocabulary.push(h);
    }
    const lacking = missing(event);
    if (lacking.length === 0) {
      s.satisfied = true;
      return undefined;
    }
    if (!is2xx(event.response.status)) return undefined;
    const comparable =
      s.satisfied ||
      event.identity.scopes.some((sc) => required.includes(sc) || s.vocabulary.includes(fnv1a(sc)));
    if (!comparable) return undefined;
    const cfg = ctx.config;
    const op =
      `${event.request.method} ${event.spec!.operationId ?? event.request.route ?? event.request.path}`.slice(
        0,
        256,
      );
    ctx.wakeAt(event.ts + cfg.quietSeconds * 1000);
    let ep = s.episodes.find((e) => e.op === op);
    if (ep) {
      ep.calls++;
      ep.last = event.ts;
      if (ep.calls !== cfg.minCalls) return undefined;
    } else {
      if (s.episodes.length >= 4) return undefined;
      ep = {
        op,
        start: event.ts,
        last: event.ts,
        calls: 1,
        entity: actorFindingEntity(key, event),
        route: event.request.route,
        method: event.request.method,
        tenant: event.identity.tenant,
      };
      s.episodes.push(ep);
      if (cfg.minCalls > 1) return undefined;
    }
    const who = ep.entity.name ?? ep.entity.id;
    const write = event.request.method !== 'GET' && event.request.method !== 'HEAD';
    return [
      {
        entity: ep.entity,
        route: event.request.route,
        method: event.request.method,
        tenant: event.identity.tenant,
        severity: write ? 'critical' : 'high',
        confidence: s.satisfied ? 0.9 : 0.75,
        summary: `${ep.entity.kind} ${who} called ${op} (${event.response.status}) without the scope(s) ${lacking.join(', ')} the spec requires; its token has ${event.identity.scopes.slice(0, 8).join(', ')}.`,
        firstSeen: ep.start,
        lastSeen: event.ts,
        evidence: {
          observed: ep.calls,
          baseline: null,
          threshold: cfg.minCalls,
          windowSeconds: Math.round((event.ts - ep.start) / 1000),
          counts: { calls: ep.calls, missingScopes: lacking.length },
          sampleEventIds: [event.id],
          details: {
            operationId: event.spec!.operationId,
            requiredScopes: [...required],
            tokenScopes: event.identity.scopes.slice(0, 16),
            missingScopes: lacking,
            clientIp: event.client.ip,
          },
        },
        recommendedAction: `Enforce the ${lacking.join(', ')} scope on ${op} in the service or gateway (function-level authorization) and review what ${who} did with it; revoke ${ep.entity.ref ? `credential ${ep.entity.ref}` : 'the token'} if it was abused.`,
      },
    ];
  },
  onWatermark(s, ts, ctx) {
    const quietMs = ctx.config.quietSeconds * 1000;
    const out = [];
    const keep = [];
    for (const e of s.episodes) {
      if (ts < e.last + quietMs) {
        keep.push(e);
        continue;
      }
      if (e.calls >= ctx.config.minCalls)
        out.push({
          status: 'resolved' as const,
          endedAt: e.last,
          entity: e.entity,
          route: e.route,
          method: e.method,
          tenant: e.tenant,
          confidence: 0.7,
          summary: `${e.entity.kind} ${e.entity.name ?? e.entity.id}: no call to ${e.op} without its scopes for ${Math.round(ctx.config.quietSeconds / 60)} min.`,
          firstSeen: e.start,
          lastSeen: e.last,
          evidence: {
            observed: e.calls,
            baseline: null,
            threshold: 0,
            windowSeconds: ctx.config.quietSeconds,
            counts: {},
            sampleEventIds: [],
            details: {},
          },
          recommendedAction: 'Close the incident once reviewed.',
        });
    }
    s.episodes = keep;
    const next = Math.min(...keep.map((e) => e.last + quietMs));
    if (Number.isFinite(next)) ctx.wakeAt(next);
    return out.length > 0 ? out : undefined;
  },
});
