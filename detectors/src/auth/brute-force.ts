import { type ApiEvent, actorEntity, type Finding } from '@apiwatch/core';
import { type Static, Type as T } from '@sinclair/typebox';
import { BoundedMap } from '../runtime/bounded-map.ts';
import { makeFinding } from '../runtime/finding.ts';
import type { Detector, DetectorContext, DetectorInstance } from '../runtime/types.ts';

export const BruteForceConfig = T.Object(
  {
    enabled: T.Boolean({ default: true }),
    windowSeconds: T.Integer({
      minimum: 1,
      maximum: 86_400,
      default: 60,
      description: 'Sliding window, event time.',
    }),
    minFailures: T.Integer({
      minimum: 2,
      maximum: 10_000,
      default: 10,
      description: 'Authentication failures by one actor within the window that raise a finding.',
    }),
    quietSeconds: T.Integer({
      minimum: 1,
      default: 300,
      description: 'An actor with no failure for this long starts a new episode (and may be reported again).',
    }),
  },
  { additionalProperties: false },
);
export type BruteForceConfig = Static<typeof BruteForceConfig>;

const MAX_SAMPLES = 10;
const MAX_TARGETS = 10;

/**
 * Per actor: the event times of its recent failures (at most minFailures of them, a ring), and
 * the episode it is in. Stays well under 1 KiB per actor at the default settings.
 */
interface ActorState {
  failures: number[];
  head: number;
  count: number;
  lastFailure: number;
  /** Set once the episode was reported; cleared after quietSeconds without failures. */
  reported: boolean;
  episodeStart: number;
  episodeFailures: number;
  samples: string[];
  targets: string[];
  routes: Map<string, number>;
}

/**
 * `auth.brute_force`: many authentication failures by one actor in a sliding window
 * (OWASP API2:2023 Broken Authentication). The actor of a failed call is its origin (see
 * actorKey), so password or key guessing from one client is one actor.
 */
export const bruteForce: Detector<BruteForceConfig> = {
  id: 'auth.brute_force',
  title: 'Authentication brute force',
  owasp: 'API2:2023',
  nist: 'authentication',
  severity: 'high',
  configSchema: BruteForceConfig,
  defaults: { enabled: true, windowSeconds: 60, minFailures: 10, quietSeconds: 300 },
  create(ctx: DetectorContext<BruteForceConfig>): DetectorInstance {
    const { windowSeconds, minFailures, quietSeconds } = ctx.config;
    const windowMs = windowSeconds * 1000;
    const quietMs = quietSeconds * 1000;
    const actors = new BoundedMap<string, ActorState>(ctx.maxActors, ctx.onEvict);
    const newState = (): ActorState => ({
      failures: new Array<number>(minFailures).fill(0),
      head: 0,
      count: 0,
      lastFailure: Number.NEGATIVE_INFINITY,
      reported: false,
      episodeStart: 0,
      episodeFailures: 0,
      samples: [],
      targets: [],
      routes: new Map(),
    });

    return {
      stateSize: () => actors.size,
      onEvent(event: ApiEvent, actor: string): Finding[] {
        if (event.identity.auth !== 'failure') return [];
        const s = actors.touch(actor, newState);
        if (event.ts - s.lastFailure > quietMs) {
          // A new episode: forget the previous one.
          s.reported = false;
          s.count = 0;
          s.head = 0;
          s.episodeStart = event.ts;
          s.episodeFailures = 0;
          s.samples.length = 0;
          s.targets.length = 0;
          s.routes.clear();
        }
        s.lastFailure = Math.max(s.lastFailure, event.ts);
        s.episodeFailures++;
        s.failures[s.head] = event.ts;
        s.head = (s.head + 1) % minFailures;
        s.count = Math.min(s.count + 1, minFailures);
        if (s.samples.length < MAX_SAMPLES) s.samples.push(event.id);
        const target =
          event.identity.user ?? event.identity.credential.ref ?? event.identity.credential.fingerprint;
        if (target && s.targets.length < MAX_TARGETS && !s.targets.includes(target)) s.targets.push(target);
        const route = `${event.request.method} ${event.request.route ?? event.request.path}`;
        if (s.routes.size < 8 || s.routes.has(route)) s.routes.set(route, (s.routes.get(route) ?? 0) + 1);
        if (s.reported || s.count < minFailures) return [];
        // The ring holds the last minFailures failure times; the oldest is at head.
        const oldest = s.failures[s.head]!;
        if (event.ts - oldest > windowMs) return [];
        s.reported = true;
        return [finding(event, actor, s, oldest, ctx.config)];
      },
    };
  },
};

function finding(
  event: ApiEvent,
  actor: string,
  s: ActorState,
  windowStart: number,
  cfg: BruteForceConfig,
): Finding {
  const entity = actorEntity(actor);
  const [topRoute] = [...s.routes.entries()].sort((a, b) => b[1] - a[1]);
  const [method, ...routeParts] = (topRoute?.[0] ?? `${event.request.method} ${event.request.path}`).split(
    ' ',
  );
  const targets =
    s.targets.length > 0
      ? ` against ${s.targets.length === 1 ? `account ${s.targets[0]}` : `${s.targets.length}+ accounts`}`
      : '';
  const ratio = cfg.minFailures / Math.max(1, (event.ts - windowStart) / 1000);
  return makeFinding(bruteForce as Detector<unknown>, {
    summary: `${entity.kind} ${entity.id} failed authentication ${cfg.minFailures} times within ${Math.max(1, Math.round((event.ts - windowStart) / 1000))} s${targets} on ${topRoute?.[0] ?? 'the API'}.`,
    severity: s.targets.length > 1 || cfg.minFailures >= 50 ? 'high' : 'medium',
    confidence: Math.min(0.99, 0.6 + 0.1 * Math.log2(1 + ratio)),
    entity,
    route: routeParts.join(' ') || null,
    method: method ?? null,
    tenant: event.identity.tenant,
    firstSeen: s.episodeStart,
    lastSeen: event.ts,
    evidence: {
      observed: cfg.minFailures,
      baseline: null,
      threshold: cfg.minFailures,
      windowSeconds: cfg.windowSeconds,
      counts: { failuresInEpisode: s.episodeFailures, distinctTargets: s.targets.length },
      sampleEventIds: [...s.samples],
      details: {
        windowStart,
        targets: [...s.targets],
        routes: Object.fromEntries(s.routes),
        clientIp: event.client.ip,
        userAgent: event.client.userAgent,
      },
    },
    recommendedAction:
      entity.kind === 'ip'
        ? `Rate-limit or block ${entity.id} at the gateway, check the targeted accounts for a later successful login, and require MFA or lockout on ${topRoute?.[0] ?? 'the login route'}.`
        : `Suspend or rotate the credential of ${entity.kind} ${entity.id} and review its recent successful calls.`,
  });
}
