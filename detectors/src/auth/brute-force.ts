import { actorEntity, actorKey, type FindingEntity } from '@apiwatch/core';
import { type Static, Type as T } from '@sinclair/typebox';
import { defineDetector, type FindingDraft } from '../runtime/define.ts';
import { targetAccount } from './common.ts';
import { CappedDistinct, hash32 } from './sketch.ts';

/**
 * `auth.brute_force`: many authentication failures by one origin in a sliding window of event
 * time (OWASP API2:2023 Broken Authentication; NIST SP 800-228 authentication). The actor of a
 * failed call is its origin (see actorKey: the client IP, or the mTLS-verified service), so
 * password or key guessing from one client is one key however many accounts it tries.
 *
 * This is the reference detector: copy its shape (schema with defaults, small state, keyBy,
 * onEvent raising one firing draft per episode, onWatermark resolving it after a quiet period).
 */

export const BruteForceConfig = T.Object(
  {
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
      description: 'Authentication failures by one origin within the window that raise a finding.',
    }),
    quietSeconds: T.Integer({
      minimum: 1,
      maximum: 86_400,
      default: 300,
      description:
        'An origin with no failure for this long ends its episode (a resolved update is emitted) and may be reported again.',
    }),
    minFailuresPerAccount: T.Number({
      minimum: 1,
      maximum: 10_000,
      default: 3,
      description:
        'NAT awareness, when failures name accounts: failures per distinct account in the episode. Brute force guesses one target (or a few) many times; an office or carrier NAT has many users with 1–3 typos each (Elastic tells stuffing from spraying at ≤2 per user).',
    }),
    maxUserAgents: T.Integer({
      minimum: 1,
      maximum: 16,
      default: 3,
      description:
        'NAT awareness, when failures name no account (JSON login bodies): distinct user agents among the last minFailures failures. One tool sends them all; many people behind one egress send many agents.',
    }),
  },
  { additionalProperties: false },
);
export type BruteForceConfig = Static<typeof BruteForceConfig>;

const MAX_SAMPLES = 10;
const MAX_TARGETS = 10;
const MAX_ROUTES = 8;

/**
 * Per origin: the event times of its recent failures (a ring of minFailures), and the episode it
 * is in. Evidence lists are capped, so a state stays well under 1 KiB at the default settings.
 */
interface State {
  ring: number[];
  head: number;
  count: number;
  lastFailure: number;
  /** Event time the open episode was raised at; 0 while not raised. */
  raisedAt: number;
  episodeStart: number;
  episodeFailures: number;
  windowStart: number;
  samples: string[];
  targets: string[];
  /** User-agent hash of each failure in the ring (0 when none was logged). */
  agents: number[];
  /** Credential-fingerprint hash of each failure in the ring (0 when it presented none). */
  secrets: number[];
  /** Distinct accounts the episode's failures named, and its failures that named none. */
  accounts: CappedDistinct;
  accountless: number;
  routes: Map<string, number>;
  tenant: string | null;
  clientIp: string | null;
  userAgent: string | null;
}

export const bruteForce = defineDetector({
  id: 'auth.brute_force',
  title: 'Authentication brute force',
  owasp: 'API2:2023',
  nist: 'authentication',
  severity: 'high',
  configSchema: BruteForceConfig,
  scope: 'actor',
  fingerprint: ['entity', 'route'],
  keyBy: (event) => (event.identity.auth === 'failure' ? actorKey(event) : null),
  init: (): State => ({
    ring: [],
    head: 0,
    count: 0,
    lastFailure: Number.NEGATIVE_INFINITY,
    raisedAt: 0,
    episodeStart: 0,
    episodeFailures: 0,
    windowStart: 0,
    samples: [],
    targets: [],
    agents: [],
    secrets: [],
    accounts: new CappedDistinct(16, 5),
    accountless: 0,
    routes: new Map(),
    tenant: null,
    clientIp: null,
    userAgent: null,
  }),
  onEvent(s, event, ctx, key) {
    const { minFailures, quietSeconds, windowSeconds } = ctx.config;
    const out: FindingDraft[] = [];
    if (event.ts - s.lastFailure > quietSeconds * 1000) {
      // A new episode. Resolve the previous one if the watermark did not get to it first.
      if (s.raisedAt > 0) out.push(draft(s, key, ctx.config, 'resolved'));
      reset(s, event.ts, minFailures);
    }
    if (event.ts > s.lastFailure) s.lastFailure = event.ts;
    s.episodeFailures++;
    s.ring[s.head] = event.ts;
    s.agents[s.head] = event.client.userAgent ? hash32(event.client.userAgent) : 0;
    s.secrets[s.head] = event.identity.credential.fingerprint
      ? hash32(event.identity.credential.fingerprint)
      : 0;
    s.head = (s.head + 1) % minFailures;
    const account = targetAccount(event);
    if (account) s.accounts.add(hash32(account));
    else s.accountless++;
    if (s.count < minFailures) s.count++;
    if (s.samples.length < MAX_SAMPLES) s.samples.push(event.id);
    const target = event.identity.user ?? event.identity.credential.ref;
    if (target && s.targets.length < MAX_TARGETS && !s.targets.includes(target)) s.targets.push(target);
    const route = `${event.request.method} ${event.request.route ?? event.request.path}`;
    if (s.routes.size < MAX_ROUTES || s.routes.has(route))
      s.routes.set(route, (s.routes.get(route) ?? 0) + 1);
    s.tenant ??= event.identity.tenant;
    s.clientIp = event.client.ip;
    s.userAgent = event.client.userAgent;
    ctx.wakeAt(s.lastFailure + quietSeconds * 1000);
    if (s.raisedAt > 0 || s.count < minFailures) return out;
    // The ring holds the last minFailures failure times; the oldest is at head.
    const oldest = s.ring[s.head]!;
    if (event.ts - oldest > windowSeconds * 1000) return out;
    if (looksLikeManyUsers(s, ctx.config)) return out;
    s.raisedAt = event.ts;
    s.windowStart = oldest;
    out.push(draft(s, key, ctx.config, 'firing'));
    return out;
  },
  onWatermark(s, ts, ctx, key) {
    if (s.raisedAt === 0 || ts - s.lastFailure < ctx.config.quietSeconds * 1000) return undefined;
    const out = [draft(s, key, ctx.config, 'resolved')];
    s.raisedAt = 0;
    return out;
  },
  idleMs: (c) => (c.quietSeconds + c.windowSeconds) * 1000,
  sizeOf: (s) =>
    96 +
    s.ring.length * 24 +
    s.accounts.bytes +
    s.samples.reduce((n, x) => n + 16 + x.length, 0) +
    s.targets.reduce((n, x) => n + 16 + x.length, 0) +
    [...s.routes.keys()].reduce((n, x) => n + 40 + x.length, 0),
});

/**
 * Many users behind one egress IP (office, carrier NAT) fail now and then, each on their own
 * account, from their own browser or app: that is not one attacker guessing.
 */
function looksLikeManyUsers(s: State, cfg: BruteForceConfig): boolean {
  // A repeat is not a guess: failures that present the same one or two secrets are a client
  // retrying a stale or revoked key or token (Entra smart lockout ignores repeats likewise);
  // many distinct secrets without an account is auth.key_guessing's finding.
  const secrets = new Set(s.secrets);
  if (!secrets.has(0)) return true;
  const named = s.episodeFailures - s.accountless;
  if (named >= s.accountless) return named / Math.max(1, s.accounts.count) < cfg.minFailuresPerAccount;
  const agents = new Set(s.agents);
  return agents.size > cfg.maxUserAgents;
}

function reset(s: State, ts: number, minFailures: number): void {
  s.ring = new Array<number>(minFailures).fill(0);
  s.agents = new Array<number>(minFailures).fill(0);
  s.secrets = new Array<number>(minFailures).fill(0);
  s.accounts.clear();
  s.accountless = 0;
  s.head = 0;
  s.count = 0;
  s.raisedAt = 0;
  s.episodeStart = ts;
  s.episodeFailures = 0;
  s.windowStart = ts;
  s.samples.length = 0;
  s.targets.length = 0;
  s.routes.clear();
  s.tenant = null;
}

function entityOf(key: string): FindingEntity {
  const { kind, id } = actorEntity(key);
  return { kind, id, name: id, ref: null };
}

function draft(s: State, key: string, cfg: BruteForceConfig, status: 'firing' | 'resolved'): FindingDraft {
  const entity = entityOf(key);
  let top: [string, number] | undefined;
  for (const r of s.routes) if (!top || r[1] > top[1]) top = r;
  const space = top ? top[0].indexOf(' ') : -1;
  const method = top ? top[0].slice(0, space) : null;
  const route = top ? top[0].slice(space + 1) : null;
  const spanS = Math.max(1, Math.round((s.raisedAt - s.windowStart) / 1000));
  const targets =
    s.targets.length > 0
      ? ` against ${s.targets.length === 1 ? `account ${s.targets[0]}` : `${s.targets.length}${s.targets.length >= MAX_TARGETS ? '+' : ''} accounts`}`
      : '';
  const where = top ? top[0] : 'the API';
  const rate = cfg.minFailures / spanS;
  const summary =
    status === 'firing'
      ? `${entity.kind} ${entity.id} failed authentication ${cfg.minFailures} times within ${spanS} s${targets} on ${where}.`
      : `${entity.kind} ${entity.id} stopped failing authentication on ${where}: ${s.episodeFailures} failures${targets} in this episode.`;
  return {
    status,
    ...(status === 'resolved' ? { endedAt: s.lastFailure } : {}),
    entity,
    route,
    method,
    tenant: s.tenant,
    severity: s.targets.length > 1 || s.episodeFailures >= 5 * cfg.minFailures ? 'high' : 'medium',
    confidence: Math.min(0.99, 0.6 + 0.1 * Math.log2(1 + rate)),
    summary,
    firstSeen: s.episodeStart,
    lastSeen: status === 'firing' ? s.raisedAt : s.lastFailure,
    evidence: {
      observed: s.episodeFailures,
      baseline: null,
      threshold: cfg.minFailures,
      windowSeconds: cfg.windowSeconds,
      counts: {
        failuresInEpisode: s.episodeFailures,
        distinctTargets: s.targets.length,
        distinctAccounts: s.accounts.count,
        failuresWithoutAccount: s.accountless,
      },
      sampleEventIds: [...s.samples],
      details: {
        windowStart: s.windowStart,
        targets: [...s.targets],
        routes: Object.fromEntries(s.routes),
        clientIp: s.clientIp,
        userAgent: s.userAgent,
      },
    },
    recommendedAction:
      entity.kind === 'ip'
        ? `Rate-limit or block ${entity.id} at the gateway, check the targeted accounts for a later successful login, and require MFA or lockout on ${top?.[0] ?? 'the login route'}.`
        : `Suspend or rotate the credential of ${entity.kind} ${entity.id} and review its recent successful calls.`,
  };
}
