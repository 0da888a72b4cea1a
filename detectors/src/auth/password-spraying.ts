import type { ApiEvent } from '@apiwatch/core';
import { type Static, Type as T } from '@sinclair/typebox';
import type { BaselineSnapshot } from '../baselines/index.ts';
import { defineDetector, type FindingDraft } from '../runtime/define.ts';
import { formatSpan, ipNet, listForHumans, loginOutcome, splitEndpoint, targetAccount } from './common.ts';
import { BitCounter, Hll, hash32, hllEstimate, linearCount, popcount32 } from './sketch.ts';

export const PasswordSprayingConfig = T.Object(
  {
    windowSeconds: T.Integer({
      minimum: 600,
      maximum: 86_400,
      default: 3600,
      description:
        'Look-back, event time: four buckets of a quarter each (Elastic: 1 h; low-and-slow beats minute windows).',
    }),
    minAccounts: T.Integer({
      minimum: 3,
      maximum: 1_000_000,
      default: 5,
      description:
        'Distinct accounts failing on the endpoint in the window that did not later log in, on top of what the endpoint normally has (its learned rate per successful login, plus 3σ): the evidence floor when that rate is near zero (Elastic: ≥5 users single-source, ≥8 per 15 min multi-source; Splunk: >30 on enterprise volumes, where the learned part dominates).',
    }),
    expectedUnrecoveredPerSuccess: T.Number({
      minimum: 0,
      maximum: 10,
      default: 0.05,
      description:
        'Cold-start prior for accounts that fail and do not log in, per successful login (mistyped usernames, forgotten passwords). Replaced by the endpoint baseline failure rate when the baselines have it, then learned from the endpoint’s own quiet hours (pooled: the prior counts as priorSuccesses logins).',
    }),
    priorSuccesses: T.Integer({
      minimum: 1,
      maximum: 1_000_000,
      default: 200,
      description:
        'Weight of the prior in the learned rate, in successful logins: the endpoint’s own history overrules it once it has seen several times as many (a small API learns over days, a big one within hours).',
    }),
    minSources: T.Integer({
      minimum: 1,
      maximum: 1_000_000,
      default: 3,
      description:
        'Distinct source networks among the window’s failures: a spray comes from many; one or two addresses are credential stuffing, brute force or an office NAT.',
    }),
    maxAttemptsPerAccount: T.Number({
      minimum: 1,
      maximum: 100,
      default: 3,
      description:
        'Sprays try each account once per round, rarely more than 3 times an hour (lockouts); more per account is brute force or a retry storm (Elastic: 2–6 over longer windows).',
    }),
    confirmSeconds: T.Integer({
      minimum: 0,
      maximum: 86_400,
      default: 300,
      description:
        'The condition must hold this long before the finding is raised: a fast single-source burst or an outage retry storm shows its shape within it.',
    }),
    maxTopSourceShare: T.Number({
      minimum: 0.05,
      maximum: 1,
      default: 0.5,
      description:
        'A spray is seen only in aggregate: when one source network sent more than this share of the failures, auth.credential_stuffing or auth.brute_force names it instead.',
    }),
    fastAccountsPerBucket: T.Integer({
      minimum: 10,
      maximum: 1_000_000,
      default: 150,
      description:
        'New unrecovered accounts in one quarter-window bucket above which the attack is fast (credential stuffing’s territory, poolMinAccounts per 10 min), not low and slow.',
    }),
    longWindowSeconds: T.Integer({
      minimum: 0,
      maximum: 7 * 86_400,
      default: 21_600,
      description:
        'A second, longer look-back before the window for sprays too slow for it (a password every few minutes): accounts that failed in each closed bucket and had not logged in by the time it left the window, summed and judged the same way. 0 turns it off.',
    }),
    quietSeconds: T.Integer({
      minimum: 300,
      maximum: 86_400,
      default: 3600,
      description:
        'The episode ends (resolved update) this long after the condition last held: at least the window, so a low-and-slow spray that dips below the threshold now and then stays one episode.',
    }),
  },
  { additionalProperties: false },
);
export type PasswordSprayingConfig = Static<typeof PasswordSprayingConfig>;

const BUCKETS = 4;
const BITS = 512;
const TOP = 4;

interface Bucket {
  idx: number;
  failures: number;
  successes: number;
  failed: BitCounter;
  recovered: BitCounter;
  sources: Hll;
  /** Boyer–Moore majority vote over the bucket's failing sources, and the winner's failures. */
  majorityNet: string;
  majorityVote: number;
  majorityFailures: number;
}

interface SprayState {
  endpoint: string;
  tenant: string | null;
  buckets: Bucket[];
  /** Space-saving top failing source networks over the window: [net, failures, last failure ms]. */
  top: Array<[string, number, number]>;
  /** Failures decayed like the top-source counts, so the top share compares like with like. */
  decayedFailures: number;
  /** Learned accounts-failing-without-login per successful login, from quiet windows. */
  learned: number;
  learnedWindows: number;
  /** The prior rate, and the decayed unrecovered accounts and successes of the quiet windows learned from. */
  priorRate: number;
  learnUnrecovered: number;
  learnSuccesses: number;
  episode: {
    start: number;
    lastHit: number;
    observed: number;
    /** `observed` when the episode was last reported (firing or an update). */
    reported: number;
    sources: number;
    failures: number;
    attemptsPerAccount: number;
    threshold: number;
    expected: number;
    windowSeconds: number;
    samples: string[];
    topSources: string[];
  } | null;
  samples: string[];
  /** Event time the condition started holding without a break; 0 when it does not hold. */
  candidateSince: number;
  /** Closed buckets (left the window): index, unrecovered accounts (0 for a fast bucket), successes. */
  closedIdx: number[];
  closedUnrecovered: number[];
  closedSuccesses: number[];
}

const newBucket = (idx: number): Bucket => ({
  idx,
  failures: 0,
  successes: 0,
  failed: new BitCounter(BITS),
  recovered: new BitCounter(BITS),
  sources: new Hll(5),
  majorityNet: '',
  majorityVote: 0,
  majorityFailures: 0,
});

/**
 * `auth.password_spraying`: a few passwords tried against many accounts, low and slow, from many
 * sources — invisible per source, seen only on the login endpoint in aggregate (global scope).
 *
 * Per endpoint, over a one-hour window of four buckets, it counts distinct failing accounts that
 * did not log in afterwards (linear-counting bitmaps: a failure sets an account's bit, a later
 * success sets it in the recovered map), against what the endpoint normally has per successful
 * login: a prior from the baseline failure rate (or a static one at cold start), then learned
 * from the endpoint’s own windows without an episode. Office and carrier NATs only add successful
 * users and typos that recover, so they raise the expectation rather than the count.
 */
export const passwordSpraying = defineDetector({
  id: 'auth.password_spraying',
  title: 'Password spraying',
  owasp: 'API2:2023',
  nist: 'authentication',
  severity: 'high',
  configSchema: PasswordSprayingConfig,
  scope: 'global',
  fingerprint: ['entity'],
  keyBy(event: ApiEvent): string | null {
    if (loginOutcome(event) === null) return null;
    return `${event.identity.tenant ?? ''}|${event.request.method} ${event.request.route ?? '(unrouted)'}`;
  },
  init(key: string, event: ApiEvent): SprayState {
    return {
      endpoint: key.slice(key.indexOf('|') + 1),
      tenant: event.identity.tenant,
      buckets: [],
      top: [],
      decayedFailures: 0,
      learned: -1,
      learnedWindows: 0,
      priorRate: -1,
      learnUnrecovered: 0,
      learnSuccesses: 0,
      episode: null,
      samples: [],
      candidateSince: 0,
      closedIdx: [],
      closedUnrecovered: [],
      closedSuccesses: [],
    };
  },
  onEvent(s, event, ctx) {
    const cfg = ctx.config;
    const bucketMs = (cfg.windowSeconds * 1000) / BUCKETS;
    if (s.learned < 0) {
      s.priorRate = prior(event, ctx.baselines(), cfg);
      s.learned = s.priorRate;
    } else if (!(s.priorRate >= 0)) {
      // State restored from a checkpoint of the per-window EWMA: its rate becomes the prior.
      s.priorRate = s.learned;
      s.learnUnrecovered = 0;
      s.learnSuccesses = 0;
    }
    const b = bucketFor(s, event.ts, bucketMs, cfg);
    const h = hash32(targetAccount(event)!);
    if (loginOutcome(event) === 'success') {
      b.successes++;
      if (s.buckets.some((x) => x.failed.has(h))) b.recovered.set(h);
      return undefined;
    }
    b.failures++;
    b.failed.set(h);
    const net = ipNet(event.client.ip ?? event.client.peerIp);
    b.sources.add(hash32(net));
    countTop(s.top, net, event.ts, cfg.windowSeconds * 1000);
    if (b.majorityNet === net) {
      b.majorityVote++;
      b.majorityFailures++;
    } else if (b.majorityVote === 0) {
      b.majorityNet = net;
      b.majorityVote = 1;
      b.majorityFailures = 1;
    } else {
      b.majorityVote--;
    }
    s.decayedFailures++;
    s.samples.push(event.id);
    if (s.samples.length > 10) s.samples.shift();
    const j = judge(s, cfg);
    const out: FindingDraft[] = [];
    if (!j.hit) s.candidateSince = 0;
    else if (s.candidateSince === 0) s.candidateSince = event.ts;
    if (j.hit && (s.episode || event.ts - s.candidateSince >= cfg.confirmSeconds * 1000)) {
      if (!s.episode) {
        out.push(openEpisode(s, j, event.ts, bucketMs, cfg));
      } else {
        const e = s.episode;
        e.lastHit = event.ts;
        e.observed = Math.max(e.observed, j.unrecovered);
        e.sources = Math.max(e.sources, j.sources);
        e.failures = Math.max(e.failures, j.failures);
        // The spray doubled (a second campaign, or the first speeding up): an update of the same
        // episode with the new evidence, so the analyst sees it grow.
        if (j.unrecovered >= Math.max(2 * e.reported, e.reported + cfg.minAccounts)) {
          e.reported = j.unrecovered;
          e.samples = [...s.samples];
          e.topSources = s.top.map((t) => t[0]);
          e.attemptsPerAccount = j.attemptsPerAccount;
          e.threshold = j.threshold;
          e.expected = j.expected;
          e.windowSeconds = j.windowSeconds;
          e.observed = j.unrecovered;
          out.push(draft(s, event.ts, cfg, 'firing'));
        }
      }
    }
    if (s.episode) ctx.wakeAt(s.episode.lastHit + cfg.quietSeconds * 1000);
    // A slow spray sends its next attempt long after the confirmation delay, when the window may
    // have slid past the accounts that made it hold: confirm on the clock as well.
    else if (s.candidateSince > 0) ctx.wakeAt(s.candidateSince + cfg.confirmSeconds * 1000);
    return out;
  },
  onWatermark(s, ts, ctx) {
    const cfg = ctx.config;
    if (!s.episode && s.candidateSince > 0 && ts - s.candidateSince >= cfg.confirmSeconds * 1000) {
      // No attempt since the condition began to hold; recoveries since then are in the maps.
      const j = judge(s, cfg);
      if (!j.hit) {
        s.candidateSince = 0;
        return undefined;
      }
      const out = [openEpisode(s, j, ts, (cfg.windowSeconds * 1000) / BUCKETS, cfg)];
      ctx.wakeAt(s.episode!.lastHit + cfg.quietSeconds * 1000);
      return out;
    }
    if (!s.episode) return undefined;
    if (ts - s.episode.lastHit < ctx.config.quietSeconds * 1000) {
      ctx.wakeAt(s.episode.lastHit + ctx.config.quietSeconds * 1000);
      return undefined;
    }
    const out = [draft(s, ts, ctx.config, 'resolved')];
    s.episode = null;
    // What the long look-back held was reported with this episode.
    s.closedUnrecovered.fill(0);
    return out;
  },
  // Long enough to keep the endpoint's learned rate across a quiet weekend.
  idleMs: (c) => Math.max(3 * 86_400_000, (c.windowSeconds + c.quietSeconds) * 1000),
  sizeOf: (s) =>
    184 +
    s.endpoint.length * 2 +
    s.buckets.length * (2 * (BITS / 8 + 16) + 48 + 48) +
    s.top.length * 48 +
    s.closedIdx.length * 24 +
    s.samples.length * 40 +
    (s.episode ? 300 : 0),
});

function openEpisode(
  s: SprayState,
  j: ReturnType<typeof judge>,
  ts: number,
  bucketMs: number,
  cfg: PasswordSprayingConfig,
): FindingDraft {
  s.episode = {
    start: s.buckets.reduce((t, x) => Math.min(t, x.idx * bucketMs), ts),
    lastHit: ts,
    observed: j.unrecovered,
    reported: j.unrecovered,
    sources: j.sources,
    failures: j.failures,
    attemptsPerAccount: j.attemptsPerAccount,
    threshold: j.threshold,
    expected: j.expected,
    windowSeconds: j.windowSeconds,
    samples: [...s.samples],
    topSources: s.top.map((t) => t[0]),
  };
  return draft(s, ts, cfg, 'firing');
}

/** Expected unrecovered accounts per successful login before the endpoint has history of its own. */
function prior(event: ApiEvent, baselines: BaselineSnapshot, cfg: PasswordSprayingConfig): number {
  const rate = baselines.authFailureRate({
    tenant: event.identity.tenant ?? '',
    route: event.request.route ?? event.request.path,
    method: event.request.method,
  });
  // Failures per success bound accounts-failing-without-login per success from above: every
  // such account failed at least once.
  if (rate.confidence === 'high' && rate.rate < 0.9) return Math.max(0.005, rate.rate / (1 - rate.rate));
  return cfg.expectedUnrecoveredPerSuccess;
}

function bucketFor(s: SprayState, ts: number, bucketMs: number, cfg: PasswordSprayingConfig): Bucket {
  const idx = Math.floor(ts / bucketMs);
  const newest = s.buckets[s.buckets.length - 1];
  if (newest && idx <= newest.idx) return s.buckets.find((x) => x.idx === idx) ?? newest;
  // A new bucket: learn from the window that just closed when no episode was open in it.
  // Once per window length (whole windows, not overlapping ones), and never from an episode.
  if (newest && !s.episode && s.buckets.length === BUCKETS && idx % BUCKETS === 0) learn(s, cfg);
  const keep = s.buckets.filter((x) => x.idx > idx - BUCKETS);
  if (cfg.longWindowSeconds > 0) closeBuckets(s, idx, bucketMs, cfg);
  const reuse = s.buckets.find((x) => x.idx <= idx - BUCKETS);
  const b = reuse ?? newBucket(idx);
  if (reuse) {
    b.idx = idx;
    b.failures = 0;
    b.successes = 0;
    b.failed.clear();
    b.recovered.clear();
    b.sources.clear();
    b.majorityNet = '';
    b.majorityVote = 0;
    b.majorityFailures = 0;
  }
  s.buckets = [...keep, b];
  // Decay the top-source counts by a bucket’s share, so they approximate the sliding window.
  for (const t of s.top) t[1] = Math.floor((t[1] * (BUCKETS - 1)) / BUCKETS);
  s.decayedFailures = Math.floor((s.decayedFailures * (BUCKETS - 1)) / BUCKETS);
  s.top = s.top.filter((t) => t[1] > 0);
  return b;
}

/** Records each bucket leaving the window for the long look-back, and forgets what left that too. */
function closeBuckets(s: SprayState, idx: number, bucketMs: number, cfg: PasswordSprayingConfig): void {
  const words = BITS / 32;
  for (const d of s.buckets) {
    if (d.idx > idx - BUCKETS) continue;
    let failed = 0;
    let both = 0;
    for (let i = 0; i < words; i++) {
      let r = 0;
      for (const b of s.buckets) r |= b.recovered.words[i]!;
      failed += popcount32(d.failed.words[i]!);
      both += popcount32(d.failed.words[i]! & r);
    }
    const u = Math.max(0, linearCount(BITS, failed) - linearCount(BITS, both));
    s.closedIdx.push(d.idx);
    // A fast bucket is stuffing's, and one that closes in an open episode was already reported.
    // One source behind most of the bucket's failures is stuffing's or brute force's.
    const dominated = d.failures > 0 && d.majorityFailures / d.failures > cfg.maxTopSourceShare;
    s.closedUnrecovered.push(u > cfg.fastAccountsPerBucket || s.episode || dominated ? 0 : Math.round(u));
    s.closedSuccesses.push(d.successes);
  }
  const oldest = idx - BUCKETS - Math.ceil((cfg.longWindowSeconds * 1000) / bucketMs);
  while (s.closedIdx.length && s.closedIdx[0]! <= oldest) {
    s.closedIdx.shift();
    s.closedUnrecovered.shift();
    s.closedSuccesses.shift();
  }
}

/** Decay per learned window (one per window length): the history of the last ~8 days counts most. */
const LEARN_DECAY = 0.995;

function learn(s: SprayState, cfg: PasswordSprayingConfig): void {
  const w = windowCounts(s);
  if (w.successes === 0) return;
  // Pooled over quiet windows, not averaged per window: an API with ten logins an hour learns
  // as surely as one with thousands, only slower. Each window's accounts are capped at twice
  // what the current rate expects: a spray too slow to raise an episode must not teach the
  // endpoint that it is normal (a quarter of an account at least, so a rate set too low recovers).
  const cap = Math.max(0.25, 2 * s.learned * w.successes);
  s.learnUnrecovered = LEARN_DECAY * s.learnUnrecovered + Math.min(w.unrecovered, cap);
  s.learnSuccesses = LEARN_DECAY * s.learnSuccesses + w.successes;
  const k = cfg.priorSuccesses;
  s.learned = Math.max(0.002, (s.learnUnrecovered + s.priorRate * k) / (s.learnSuccesses + k));
  s.learnedWindows++;
}

function countTop(top: Array<[string, number, number]>, net: string, ts: number, windowMs: number): void {
  // A source whose last failure left the window no longer counts.
  for (let i = top.length - 1; i >= 0; i--) if (ts - top[i]![2] > windowMs) top.splice(i, 1);
  const own = top.find((t) => t[0] === net);
  if (own) {
    own[1]++;
    own[2] = ts;
  } else if (top.length < TOP) {
    top.push([net, 1, ts]);
  } else {
    // Space-saving: the newcomer takes the smallest slot and inherits its count.
    let min = top[0]!;
    for (const t of top) if (t[1] < min[1]) min = t;
    min[0] = net;
    min[1]++;
    min[2] = ts;
  }
  top.sort((a, b) => b[1] - a[1]);
}

const scratch = new Uint8Array(32);

function windowCounts(s: SprayState) {
  const words = BITS / 32;
  let failedBits = 0;
  let bothBits = 0;
  for (let i = 0; i < words; i++) {
    let f = 0;
    let r = 0;
    for (const b of s.buckets) {
      f |= b.failed.words[i]!;
      r |= b.recovered.words[i]!;
    }
    failedBits += popcount32(f);
    bothBits += popcount32(f & r);
  }
  const failing = linearCount(BITS, failedBits);
  const unrecovered = Math.max(0, Math.round(failing - linearCount(BITS, bothBits)));
  scratch.fill(0);
  let failures = 0;
  let successes = 0;
  for (const b of s.buckets) {
    failures += b.failures;
    successes += b.successes;
    for (let i = 0; i < 32; i++)
      if (b.sources.registers[i]! > scratch[i]!) scratch[i] = b.sources.registers[i]!;
  }
  return { failing, unrecovered, failures, successes, sources: Math.round(hllEstimate(scratch)) };
}

function judge(s: SprayState, cfg: PasswordSprayingConfig) {
  const w = windowCounts(s);
  const expected = s.learned * w.successes;
  const threshold = cfg.minAccounts + 1.5 * expected + 3 * Math.sqrt(expected);
  const attemptsPerAccount = w.failures / Math.max(1, w.failing);
  const topShare = (s.top[0]?.[1] ?? 0) / Math.max(1, s.decayedFailures);
  const fast = maxBucketUnrecovered(s) > cfg.fastAccountsPerBucket + (1.5 * expected) / BUCKETS;
  const shape =
    attemptsPerAccount <= cfg.maxAttemptsPerAccount &&
    topShare <= cfg.maxTopSourceShare &&
    w.sources >= cfg.minSources &&
    !fast;
  const short = w.unrecovered >= threshold;
  // The long look-back: closed buckets still inside it, plus the window.
  const newest = s.buckets[s.buckets.length - 1]!.idx;
  const bucketSeconds = cfg.windowSeconds / BUCKETS;
  const oldest = newest - BUCKETS - Math.ceil(cfg.longWindowSeconds / bucketSeconds);
  let longU = w.unrecovered;
  let longOk = w.successes;
  for (let i = 0; i < s.closedIdx.length; i++) {
    if (s.closedIdx[i]! <= oldest) continue;
    longU += s.closedUnrecovered[i]!;
    longOk += s.closedSuccesses[i]!;
  }
  const longExpected = s.learned * longOk;
  // Over seven hours the hour-to-hour swings of the rate average out: 3σ (Poisson) above the
  // expectation, without the short window's proportional margin.
  const longThreshold = cfg.minAccounts + longExpected + 3 * Math.sqrt(longExpected);
  const long = cfg.longWindowSeconds > 0 && longU >= longThreshold;
  const useLong = !short && long;
  return {
    hit: shape && (short || long),
    unrecovered: useLong ? longU : w.unrecovered,
    failures: w.failures,
    successes: useLong ? longOk : w.successes,
    sources: w.sources,
    attemptsPerAccount,
    threshold: useLong ? longThreshold : threshold,
    expected: useLong ? longExpected : expected,
    windowSeconds: useLong ? cfg.windowSeconds + cfg.longWindowSeconds : cfg.windowSeconds,
  };
}

/** The most accounts that failed in one bucket of the window and have not logged in since. */
function maxBucketUnrecovered(s: SprayState): number {
  let max = 0;
  for (const bucket of s.buckets) {
    let failed = 0;
    let both = 0;
    for (let i = 0; i < BITS / 32; i++) {
      let r = 0;
      for (const b of s.buckets) r |= b.recovered.words[i]!;
      const f = bucket.failed.words[i]!;
      failed += popcount32(f);
      both += popcount32(f & r);
    }
    max = Math.max(max, linearCount(BITS, failed) - linearCount(BITS, both));
  }
  return max;
}

function draft(
  s: SprayState,
  ts: number,
  cfg: PasswordSprayingConfig,
  status: 'firing' | 'resolved',
): FindingDraft {
  const e = s.episode!;
  const { method, route } = splitEndpoint(s.endpoint);
  const summary =
    `${e.observed} accounts failed logins on ${s.endpoint} from ${e.sources} source networks in ${formatSpan(e.windowSeconds)} ` +
    `(${e.attemptsPerAccount.toFixed(1)} attempts per account, ~${Math.round(e.expected)} expected) — password spraying; ` +
    `busiest sources ${listForHumans(e.topSources, e.sources)}.` +
    (status === 'resolved' ? ' The episode ended.' : '');
  return {
    status,
    ...(status === 'resolved' ? { endedAt: e.lastHit } : {}),
    entity: { kind: 'endpoint', id: s.endpoint, name: s.endpoint, ref: null },
    route,
    method,
    tenant: s.tenant,
    confidence: Math.min(0.95, 0.55 + 0.1 * Math.log2(1 + e.observed / Math.max(1, e.threshold))),
    summary,
    firstSeen: e.start,
    lastSeen: status === 'resolved' ? e.lastHit : ts,
    evidence: {
      observed: e.observed,
      baseline: Math.round(e.expected),
      threshold: Math.ceil(e.threshold),
      windowSeconds: e.windowSeconds,
      counts: {
        unrecoveredAccounts: e.observed,
        failures: e.failures,
        sourceNetworks: e.sources,
        learnedWindows: s.learnedWindows,
      },
      sampleEventIds: e.samples.slice(0, 10),
      details: {
        topSources: e.topSources,
        attemptsPerAccount: Number(e.attemptsPerAccount.toFixed(2)),
        expectedUnrecoveredPerSuccess: Number(s.learned.toFixed(4)),
      },
    },
    recommendedAction: `Require MFA or step-up on ${s.endpoint}, add bot challenges for unfamiliar networks, reset passwords of accounts that logged in during the episode, and ban common passwords.`,
  };
}
