import { type ApiEvent, actorKey } from '@apiwatch/core';
import { type Static, Type as T } from '@sinclair/typebox';
import { actorFindingEntity, formatSpan } from '../auth/common.ts';
import { CappedDistinct, hash32 } from '../auth/sketch.ts';
import { defineDetector, type FindingDraft } from '../runtime/define.ts';

export const ForcedBrowsingConfig = T.Object(
  {
    windowSeconds: T.Integer({
      minimum: 10,
      maximum: 86_400,
      default: 600,
      description:
        'An actor’s misses belong to one episode while each comes within this long of the previous one.',
    }),
    minDistinctPaths: T.Integer({
      minimum: 2,
      maximum: 100_000,
      default: 20,
      description:
        'Distinct unknown paths (404/410, or 4xx on a path no spec has) from one actor (CrowdSec http-probing: 10 distinct in a 10 s leak).',
    }),
    minMissShare: T.Number({
      minimum: 0,
      maximum: 1,
      default: 0.5,
      description:
        'Share of the actor’s requests in the episode that missed: scanners mostly miss, people and apps mostly hit.',
    }),
    pathsPerUserAgent: T.Integer({
      minimum: 0,
      maximum: 1000,
      default: 3,
      description:
        'NAT allowance: each distinct user agent behind the actor beyond the first raises the path threshold by this much (counted up to 16 agents).',
    }),
    quietSeconds: T.Integer({
      minimum: 10,
      maximum: 86_400,
      default: 600,
      description: 'The episode ends (resolved update) after this long without a miss from the actor.',
    }),
  },
  { additionalProperties: false },
);
export type ForcedBrowsingConfig = Static<typeof ForcedBrowsingConfig>;

/** Static assets a frontend may request and miss by the hundred without anyone scanning. */
const STATIC = /\.(?:js|mjs|css|map|png|jpe?g|gif|svg|ico|webp|avif|woff2?|ttf|eot|otf)$/i;
/** Templates the route inferrer makes from id-shaped segments: a miss there is a missing object (bola), not a path. */
const ID_TEMPLATE = /\{(?:id\d*|uuid\d*|hex\d*|objectId\d*|ulid\d*|email\d*)\}/;

const HIT_SAMPLE = 8;

/** One in HIT_SAMPLE events, by the last character of its id (a base64url hash, so uniform). */
function sampledHit(event: ApiEvent): boolean {
  return event.id.charCodeAt(event.id.length - 1) % HIT_SAMPLE === 0;
}

/** The distinct-path key of a miss, or null when the call is not a miss on an unknown path. */
export function unknownPathOf(event: ApiEvent): string | null {
  const status = event.response.status;
  const spec = event.spec;
  const miss =
    status === 404 ||
    status === 410 ||
    (spec?.status === 'shadow' && status >= 400 && status < 500 && status !== 401 && status !== 429);
  if (!miss) return null;
  // A documented operation answering 404 is a missing object, not an unknown path.
  if (spec?.status === 'documented') return null;
  const path = event.request.path;
  if (STATIC.test(path)) return null;
  const route = event.request.route;
  if (route && ID_TEMPLATE.test(route)) return `route:${route}`;
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1).toLowerCase() : path.toLowerCase();
}

interface BrowsingState {
  paths: CappedDistinct;
  agents: CappedDistinct;
  requests: number;
  misses: number;
  firstMiss: number;
  lastMiss: number;
  raisedAt: number;
  observed: number;
  samplePaths: string[];
  samples: string[];
  tenant: string | null;
  host: string | null;
  userAgent: string | null;
  ref: string | null;
  name: string | null;
}

/**
 * `recon.forced_browsing`: one actor requesting many distinct paths that do not exist — a
 * scanner or wordlist (OAT-014 vulnerability scanning; OWASP API9:2023 inventory probing).
 * Actor scope: unauthenticated probes fall back to the client IP actor. NAT-aware: the miss share
 * is over every request of the actor (an office's people mostly hit), and each distinct user
 * agent behind the actor raises the threshold a little. Static assets are not counted, and 404s
 * on documented or id-shaped routes are missing objects (bola.object_enumeration's business).
 */
export const forcedBrowsing = defineDetector({
  id: 'recon.forced_browsing',
  title: 'Forced browsing and path scanning',
  owasp: 'API9:2023',
  nist: 'inventory',
  severity: 'medium',
  configSchema: ForcedBrowsingConfig,
  scope: 'actor',
  fingerprint: ['entity'],
  // Misses always; hits one in HIT_SAMPLE, chosen by the event id (stable, so replays agree),
  // each counting HIT_SAMPLE requests: the miss share without keying every call.
  keyBy: (event: ApiEvent) => (unknownPathOf(event) !== null || sampledHit(event) ? actorKey(event) : null),
  init: (_key, event): BrowsingState => ({
    paths: new CappedDistinct(32, 6),
    agents: new CappedDistinct(16, 4),
    requests: 0,
    misses: 0,
    firstMiss: 0,
    lastMiss: 0,
    raisedAt: 0,
    observed: 0,
    samplePaths: [],
    samples: [],
    tenant: event.identity.tenant,
    host: event.request.host,
    userAgent: event.client.userAgent,
    ref: event.identity.credential.ref,
    name: event.identity.service ?? event.identity.user,
  }),
  onEvent(s, event, ctx, key) {
    const cfg = ctx.config;
    const windowMs = cfg.windowSeconds * 1000;
    const miss = unknownPathOf(event);
    // A new episode once the last miss is older than the window (hits alone do not keep one open).
    if (s.raisedAt === 0 && s.misses > 0 && event.ts - s.lastMiss > windowMs) reset(s);
    s.requests += miss === null ? HIT_SAMPLE : 1;
    if (event.client.userAgent) s.agents.add(hash32(event.client.userAgent));
    if (miss === null) {
      // Hits with no miss in the window: keep the counters small (an always-busy actor).
      if (s.misses === 0 && s.requests > 1000) s.requests = HIT_SAMPLE;
      return undefined;
    }
    if (s.misses === 0) s.firstMiss = event.ts;
    s.misses++;
    s.lastMiss = Math.max(s.lastMiss, event.ts);
    if (s.paths.add(hash32(miss)) && s.samplePaths.length < 6) {
      s.samplePaths.push(
        event.request.path.length > 120 ? `${event.request.path.slice(0, 120)}…` : event.request.path,
      );
    }
    if (s.samples.length < 10) s.samples.push(event.id);
    s.userAgent = event.client.userAgent ?? s.userAgent;
    s.host ??= event.request.host;
    ctx.wakeAt(s.lastMiss + cfg.quietSeconds * 1000);
    const distinct = s.paths.count;
    s.observed = Math.max(s.observed, distinct);
    if (s.raisedAt > 0) return undefined;
    const threshold = cfg.minDistinctPaths + cfg.pathsPerUserAgent * Math.max(0, s.agents.count - 1);
    if (distinct < threshold || s.misses / s.requests < cfg.minMissShare) return undefined;
    s.raisedAt = event.ts;
    return [draft(s, key, cfg, threshold, 'firing')];
  },
  onWatermark(s, ts, ctx, key) {
    const cfg = ctx.config;
    if (s.raisedAt === 0 || ts - s.lastMiss < cfg.quietSeconds * 1000) return undefined;
    const out = [draft(s, key, cfg, cfg.minDistinctPaths, 'resolved')];
    reset(s);
    return out;
  },
  idleMs: (c) => (c.windowSeconds + c.quietSeconds) * 1000,
  sizeOf: (s) =>
    140 +
    s.paths.bytes +
    s.agents.bytes +
    s.samplePaths.reduce((n, p) => n + 16 + p.length * 2, 0) +
    s.samples.length * 40 +
    (s.userAgent?.length ?? 0) * 2,
});

function reset(s: BrowsingState): void {
  s.paths.clear();
  s.agents.clear();
  s.requests = 0;
  s.misses = 0;
  s.firstMiss = 0;
  s.lastMiss = 0;
  s.raisedAt = 0;
  s.observed = 0;
  s.samplePaths = [];
  s.samples = [];
}

function draft(
  s: BrowsingState,
  key: string,
  cfg: ForcedBrowsingConfig,
  threshold: number,
  status: 'firing' | 'resolved',
): FindingDraft {
  const entity = actorFindingEntity(key, null);
  if (entity.kind !== 'ip') {
    entity.name = s.name ?? entity.name;
    entity.ref = s.ref;
  }
  const until = status === 'resolved' ? s.lastMiss : s.raisedAt;
  const share = s.misses / Math.max(1, s.requests);
  const summary =
    `${entity.kind} ${entity.id} requested ${s.observed} distinct unknown paths in ${formatSpan((until - s.firstMiss) / 1000)}${s.host ? ` on ${s.host}` : ''}` +
    ` (${Math.round(share * 100)}% of its ${s.requests} requests missed; e.g. ${s.samplePaths.slice(0, 3).join(', ')}) — path scanning.` +
    (status === 'resolved' ? ' The episode ended.' : '');
  return {
    status,
    ...(status === 'resolved' ? { endedAt: s.lastMiss } : {}),
    entity,
    route: null,
    method: null,
    tenant: s.tenant,
    confidence: Math.min(0.95, 0.6 + 0.1 * Math.log2(1 + s.observed / Math.max(1, threshold)) + 0.1 * share),
    summary,
    firstSeen: s.firstMiss,
    lastSeen: until,
    evidence: {
      observed: s.observed,
      baseline: null,
      threshold,
      windowSeconds: cfg.windowSeconds,
      counts: {
        distinctUnknownPaths: s.observed,
        misses: s.misses,
        requests: s.requests,
        userAgents: s.agents.count,
      },
      sampleEventIds: s.samples.slice(0, 10),
      details: {
        samplePaths: s.samplePaths,
        missShare: Number(share.toFixed(3)),
        userAgent: s.userAgent,
        host: s.host,
      },
    },
    recommendedAction: `Block or rate-limit ${entity.id}; check whether any of its requests found an endpoint that should not be exposed (2xx on a path outside the spec).`,
  };
}
