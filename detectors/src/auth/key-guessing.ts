import { type ApiEvent, actorKey } from '@apiwatch/core';
import { type Static, Type as T } from '@sinclair/typebox';
import { defineDetector, type FindingDraft } from '../runtime/define.ts';
import { actorFindingEntity, endpointOf, formatSpan, splitEndpoint } from './common.ts';
import { CappedDistinct, hash32 } from './sketch.ts';

export const KeyGuessingConfig = T.Object(
  {
    windowSeconds: T.Integer({
      minimum: 10,
      maximum: 86_400,
      default: 600,
      description:
        'An origin’s guesses belong to one window while each comes within this long of the previous one (CrowdSec slow user-enum: leak 60 s, capacity 10).',
    }),
    minDistinctKeys: T.Integer({
      minimum: 2,
      maximum: 100_000,
      default: 10,
      description: 'Distinct invalid credential fingerprints from one origin in the window.',
    }),
    minNewShare: T.Number({
      minimum: 0,
      maximum: 1,
      default: 0.5,
      description:
        'Share of the failures that presented a credential not seen before in the window. A guesser sends a new key each time; a fleet or an office replaying a few revoked keys repeats them.',
    }),
    quietSeconds: T.Integer({
      minimum: 10,
      maximum: 86_400,
      default: 600,
      description: 'The episode ends (resolved update) after this long without a failure from the origin.',
    }),
  },
  { additionalProperties: false },
);
export type KeyGuessingConfig = Static<typeof KeyGuessingConfig>;

interface KeyGuessingState {
  keys: CappedDistinct;
  failures: number;
  firstFail: number;
  lastFail: number;
  endpoint: string;
  tenant: string | null;
  kinds: string[];
  samples: string[];
  userAgent: string | null;
  raisedAt: number;
  observed: number;
}

/**
 * `auth.key_guessing`: many distinct invalid API keys or tokens from one origin (OWASP API2:2023).
 * Ingest fingerprints rejected secrets too, so distinct fingerprints among an origin's failures
 * count distinct guesses; a stale key retried a thousand times counts once (Entra smart lockout
 * ignores repeats the same way). Actor scope: a failed call's actor is its origin (client IP, or
 * the mTLS service), so all of one origin's guesses meet in one partition.
 */
export const keyGuessing = defineDetector({
  id: 'auth.key_guessing',
  title: 'API key guessing',
  owasp: 'API2:2023',
  nist: 'authentication',
  severity: 'high',
  configSchema: KeyGuessingConfig,
  scope: 'actor',
  fingerprint: ['entity'],
  keyBy: (event: ApiEvent) =>
    event.identity.auth === 'failure' && event.identity.credential.fingerprint !== null
      ? actorKey(event)
      : null,
  init: (_key, event): KeyGuessingState => ({
    keys: new CappedDistinct(16, 6),
    failures: 0,
    firstFail: event.ts,
    lastFail: event.ts,
    endpoint: endpointOf(event),
    tenant: event.identity.tenant,
    kinds: [],
    samples: [],
    userAgent: null,
    raisedAt: 0,
    observed: 0,
  }),
  onEvent(s, event, ctx, key) {
    const cfg = ctx.config;
    const out: FindingDraft[] = [];
    if (event.ts - s.lastFail > cfg.windowSeconds * 1000 && s.raisedAt === 0) reset(s, event);
    s.failures++;
    if (event.ts > s.lastFail) s.lastFail = event.ts;
    s.keys.add(hash32(event.identity.credential.fingerprint!));
    const kind = event.identity.credential.kind;
    if (s.kinds.length < 4 && !s.kinds.includes(kind)) s.kinds.push(kind);
    if (s.samples.length < 10) s.samples.push(event.id);
    s.userAgent ??= event.client.userAgent;
    const distinct = s.keys.count;
    ctx.wakeAt(s.lastFail + cfg.quietSeconds * 1000);
    if (s.raisedAt > 0) {
      s.observed = Math.max(s.observed, distinct);
      return out;
    }
    if (distinct >= cfg.minDistinctKeys && distinct / s.failures >= cfg.minNewShare) {
      s.raisedAt = event.ts;
      s.observed = distinct;
      out.push(draft(s, key, event, cfg, 'firing'));
    }
    return out;
  },
  onWatermark(s, ts, ctx, key) {
    if (s.raisedAt === 0 || ts - s.lastFail < ctx.config.quietSeconds * 1000) return undefined;
    const out = [draft(s, key, null, ctx.config, 'resolved')];
    s.raisedAt = 0;
    s.keys.clear();
    s.failures = 0;
    return out;
  },
  idleMs: (c) => (c.windowSeconds + c.quietSeconds) * 1000,
  sizeOf: (s) => 120 + s.keys.bytes + s.endpoint.length * 2 + s.samples.length * 40 + s.kinds.length * 24,
});

function reset(s: KeyGuessingState, event: ApiEvent): void {
  s.keys.clear();
  s.failures = 0;
  s.firstFail = event.ts;
  s.lastFail = event.ts;
  s.endpoint = endpointOf(event);
  s.tenant = event.identity.tenant;
  s.kinds = [];
  s.samples = [];
  s.userAgent = null;
  s.observed = 0;
}

function draft(
  s: KeyGuessingState,
  key: string,
  event: ApiEvent | null,
  cfg: KeyGuessingConfig,
  status: 'firing' | 'resolved',
): FindingDraft {
  const entity = actorFindingEntity(key, null);
  const { method, route } = splitEndpoint(s.endpoint);
  const until = status === 'resolved' ? s.lastFail : s.raisedAt;
  const span = formatSpan((until - s.firstFail) / 1000);
  const summary =
    `${entity.kind} ${entity.id} presented ${s.observed} distinct invalid ${s.kinds.join('/')} credentials in ${span} (${s.failures} failures) on ${s.endpoint} — API key guessing.` +
    (status === 'resolved' ? ' The episode ended.' : '');
  return {
    status,
    ...(status === 'resolved' ? { endedAt: s.lastFail } : {}),
    entity,
    route,
    method,
    tenant: s.tenant,
    confidence: Math.min(0.99, 0.7 + 0.05 * Math.log2(1 + s.observed / cfg.minDistinctKeys)),
    summary,
    firstSeen: s.firstFail,
    lastSeen: status === 'resolved' ? s.lastFail : (event?.ts ?? s.lastFail),
    evidence: {
      observed: s.observed,
      baseline: null,
      threshold: cfg.minDistinctKeys,
      windowSeconds: cfg.windowSeconds,
      counts: { distinctInvalidCredentials: s.observed, failures: s.failures },
      sampleEventIds: s.samples.slice(0, 10),
      details: {
        credentialKinds: s.kinds,
        userAgent: s.userAgent,
        newShare: Number((s.observed / Math.max(1, s.failures)).toFixed(2)),
      },
    },
    recommendedAction: `Block ${entity.id} at the gateway, make sure API keys are long random values (not guessable), and alert on any key that succeeds from this origin.`,
  };
}
