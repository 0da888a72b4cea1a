import { type ApiEvent, actorKey } from '@apiwatch/core';
import { Type as T } from '@sinclair/typebox';
import { defineDetector, type FindingDraft } from '../runtime/define.ts';
import {
  actorFindingEntity,
  type EpisodeRef,
  episodeRef,
  fnv1a,
  parseRouteKey,
  resolvedOf,
  routeKey,
} from './common.ts';

export const ObjectEnumerationConfig = T.Object(
  {
    bucketSeconds: T.Integer({
      minimum: 60,
      maximum: 3600,
      default: 1800,
      description:
        'Distinct ids are counted over the current and the previous bucket (a sliding window of one to two buckets), event time.',
    }),
    minDistinct: T.Integer({
      minimum: 5,
      default: 50,
      description:
        'Distinct object ids on one route in the window that raise a finding, whatever the baselines say.',
    }),
    minDistinctWithErrors: T.Integer({
      minimum: 5,
      default: 20,
      description:
        'Distinct ids that suffice when most of the calls were answered 403/404 (ids that are not the actor’s).',
    }),
    errorShare: T.Number({
      minimum: 0,
      maximum: 1,
      default: 0.5,
      description: 'Share of 403/404 answers in the window that counts as "mostly refused or missing".',
    }),
    peerMultiplier: T.Number({
      minimum: 1,
      default: 3,
      description:
        'The threshold is at least this × the route’s peer p99 of distinct ids per actor-hour (when learned).',
    }),
    ownMultiplier: T.Number({
      minimum: 1,
      default: 3,
      description:
        'The threshold is at least this × the most ids this actor touched on the route in a window before.',
    }),
    workloadColdMultiplier: T.Number({
      minimum: 1,
      default: 4,
      description:
        'A workload (service or batch principal) with no history of its own on the route needs this × the threshold: sync jobs walk many ids.',
    }),
    ownHalfLifeHours: T.Number({
      minimum: 1,
      default: 168,
      description: 'Half-life of the actor’s remembered peak (its own habit fades over a week by default).',
    }),
    quietSeconds: T.Integer({
      minimum: 60,
      default: 3600,
      description: 'An episode resolves after this long below the threshold.',
    }),
  },
  { additionalProperties: false },
);

/**
 * Per (actor, route): two linear-counting bitmaps of id hashes (the current and previous bucket,
 * 128 B each, in one Uint8Array: one typed-array header instead of two plus their wrappers) —
 * or, while the two hold at most LIST_MAX set bits together (nearly every key: a user reads a
 * few of its own objects), those bit positions as the UTF-16 code units of a string instead (2 B
 * each and a 16 B header, against ~430 B for the Uint8Array and its backing store, or 8 B each
 * and a 48 B header for an array of numbers; the estimate is the same),
 * call and 403/404 counts, a sequential-walk counter for numeric ids, the actor's own remembered
 * peak and the episode. Evidence samples are kept only once the window's distinct count reaches
 * half the bar a finding needs and until the episode opens (an actor far below the threshold —
 * nearly every key — holds none; decision 0026).
 */
interface EnumState {
  bucket: number;
  /**
   * Linear-counting bitmaps (Whang et al. 1990): bytes [0, 128) the current bucket, [128, 256)
   * the previous one; null while `marks` holds the set bits.
   */
  bits: Uint8Array | null;
  /**
   * The set bits while there are at most LIST_MAX, one UTF-16 code unit each: positions [0, M)
   * of the current bucket's bitmap, [M, 2M) of the previous one's; null when there are none or
   * `bits` holds them (absent in checkpoints taken before the list existed, which have `bits`).
   */
  marks?: string | null;
  calls: number;
  refused: number;
  prevCalls: number;
  prevRefused: number;
  lastNumeric: number;
  numericSteps: number;
  sequentialSteps: number;
  /** Decayed peak of distinct ids per window this actor reached on the route (its habit). */
  ownPeak: number;
  ownPeakAt: number;
  /** Windows of history behind ownPeak. */
  buckets: number;
  /** The open episode (null between episodes: its numbers are boxed doubles, kept only while it lasts). */
  episode: Episode | null;
  /** Up to 5 object ids and 10 event ids, collected near the threshold (null otherwise). */
  samples: string[] | null;
  sampleIds: string[] | null;
}

interface Episode {
  lastAbove: number;
  peakDistinct: number;
  /** The episode's identity (for its resolved update). */
  ref: EpisodeRef;
}

const SEQUENTIAL_MAX_STEP = 3;
/** Bytes per bitmap: 1024 bits, ~3 % standard error at 1000 distinct, saturating near 7000. */
const HALF = 128;
const M = HALF * 8;

/** Set bits kept as a string before the bitmap is allocated (see EnumState.marks). */
const LIST_MAX = 32;

function hasMark(marks: string, p: number): boolean {
  for (let k = 0; k < marks.length; k++) if (marks.charCodeAt(k) === p) return true;
  return false;
}

/** A flat string of the codes (`a + b` would make a cons string: two more objects). */
function marksOf(codes: number[]): string | null {
  return codes.length > 0 ? String.fromCharCode(...codes) : null;
}

function codesOf(marks: string | null | undefined): number[] {
  const codes: number[] = [];
  for (let k = 0; k < (marks?.length ?? 0); k++) codes.push(marks!.charCodeAt(k));
  return codes;
}

function addHash(s: EnumState, hash: number): void {
  const i = hash % M;
  if (s.bits !== null) {
    s.bits[i >>> 3]! |= 1 << (i & 7);
    return;
  }
  const marks = s.marks ?? null;
  if (marks !== null && hasMark(marks, i)) return;
  const codes = codesOf(marks);
  if (codes.length < LIST_MAX) {
    codes.push(i);
    s.marks = marksOf(codes);
    return;
  }
  const bits = new Uint8Array(2 * HALF);
  for (const p of codes) bits[p >>> 3]! |= 1 << (p & 7);
  bits[i >>> 3]! |= 1 << (i & 7);
  s.bits = bits;
  s.marks = null;
}

/** Linear-counting estimate of the distinct ids in the union of both buckets. */
function estimate(s: EnumState): number {
  let zeros = 0;
  const bits = s.bits;
  if (bits !== null) {
    for (let b = 0; b < HALF; b++) zeros += 8 - popcount8(bits[b]! | bits[b + HALF]!);
  } else {
    const marks = s.marks ?? '';
    let union = 0;
    for (let k = 0; k < marks.length; k++) {
      const p = marks.charCodeAt(k);
      if (p < M || !hasMark(marks, p - M)) union++;
    }
    zeros = M - union;
  }
  if (zeros === 0) return Math.round(M * Math.log(M));
  return Math.round(-M * Math.log(zeros / M));
}

function popcount8(v: number): number {
  let n = v - ((v >> 1) & 0x55);
  n = (n & 0x33) + ((n >> 2) & 0x33);
  return (n + (n >> 4)) & 0x0f;
}

/**
 * `bola.object_enumeration` (OWASP API1:2023): one actor touching far more distinct object ids on
 * one route than its own history and its peers — sequential walks and random (UUID) ids alike,
 * path and query ids, with a lower bar when most answers are 403/404.
 */
export const objectEnumeration = defineDetector({
  id: 'bola.object_enumeration',
  title: 'Object id enumeration (BOLA)',
  owasp: 'API1:2023',
  nist: 'authorization',
  severity: 'high',
  configSchema: ObjectEnumerationConfig,
  scope: 'actor',
  fingerprint: ['entity', 'route'],
  keyBy(event) {
    if (event.objects.length === 0 || !event.request.route) return null;
    // A failed authentication is the origin IP guessing credentials: the auth family's job.
    if (event.identity.auth === 'failure') return null;
    const r = {
      tenant: event.identity.tenant ?? '',
      method: event.request.method,
      route: event.request.route,
    };
    return `${actorKey(event)}\u0001${routeKey(r)}`;
  },
  init(): EnumState {
    return {
      bucket: 0,
      bits: null,
      marks: null,
      calls: 0,
      refused: 0,
      prevCalls: 0,
      prevRefused: 0,
      lastNumeric: Number.NaN,
      numericSteps: 0,
      sequentialSteps: 0,
      ownPeak: 0,
      ownPeakAt: 0,
      buckets: 0,
      samples: null,
      sampleIds: null,
      episode: null,
    };
  },
  // Its own peak fades with ownHalfLifeHours: after two half-lives the key holds little worth keeping.
  idleMs: (c) => c.ownHalfLifeHours * 2 * 3_600_000,
  sizeOf(s) {
    return (
      300 +
      (s.bits !== null ? 432 : 0) +
      (s.marks ? 16 + s.marks.length * 2 : 0) +
      (s.samples?.reduce((n, v) => n + 40 + v.length * 2, 0) ?? 0) +
      (s.sampleIds?.length ?? 0) * 60
    );
  },
  onEvent(s, event, ctx, key) {
    if (s.episode === undefined) upgrade(s);
    const cfg = ctx.config;
    const bucketMs = cfg.bucketSeconds * 1000;
    const bucket = Math.floor(event.ts / bucketMs);
    if (bucket !== s.bucket) roll(s, bucket, cfg.ownHalfLifeHours, bucketMs);

    s.calls++;
    const status = event.response.status;
    if (status === 403 || status === 404) s.refused++;
    for (const o of event.objects) {
      addHash(s, fnv1a(o.value));
      if (/^\d{1,15}$/.test(o.value)) {
        const n = Number(o.value);
        if (!Number.isNaN(s.lastNumeric) && n !== s.lastNumeric) {
          s.numericSteps++;
          if (Math.abs(n - s.lastNumeric) <= SEQUENTIAL_MAX_STEP) s.sequentialSteps++;
        }
        s.lastNumeric = n;
      }
    }

    const distinct = estimate(s);
    const calls = s.calls + s.prevCalls;
    const refusedShare = calls > 0 ? (s.refused + s.prevRefused) / calls : 0;
    const threshold = thresholdFor(
      s,
      event,
      ctx.baselines().objectPeers(parseRouteKey(key.split('\u0001')[1]!)),
      cfg,
    );
    const errorsBar = Math.max(cfg.minDistinctWithErrors, threshold.ownFloor);
    const above = distinct >= threshold.value || (distinct >= errorsBar && refusedShare >= cfg.errorShare);
    // Evidence samples only near the lower of the two bars, and only until an episode opens.
    if (s.episode === null && distinct * 2 >= Math.min(threshold.value, errorsBar)) collect(s, event);
    if (!above) return undefined;
    ctx.wakeAt(event.ts + cfg.quietSeconds * 1000);
    if (s.episode !== null) {
      s.episode.lastAbove = event.ts;
      s.episode.peakDistinct = Math.max(s.episode.peakDistinct, distinct);
      return undefined;
    }
    const d = draft(s, event, key, distinct, refusedShare, threshold, cfg.bucketSeconds);
    s.episode = { lastAbove: event.ts, peakDistinct: distinct, ref: episodeRef(d) };
    s.samples = null;
    s.sampleIds = null;
    return [d];
  },
  onWatermark(s, ts, ctx) {
    if (s.episode === undefined) upgrade(s);
    const episode = s.episode;
    if (episode === null) return undefined;
    const quietMs = ctx.config.quietSeconds * 1000;
    if (ts < episode.lastAbove + quietMs) {
      ctx.wakeAt(episode.lastAbove + quietMs);
      return undefined;
    }
    s.episode = null;
    // The window still holding the episode's ids (no call since, or only in the next bucket)
    // must not become the actor's habit at the next roll: it is the attack, not the actor.
    if (s.bucket <= Math.floor(episode.lastAbove / (ctx.config.bucketSeconds * 1000)) + 1) {
      s.calls = 0;
      s.refused = 0;
    }
    const { entity, method, route } = episode.ref;
    const resolved = resolvedOf(episode.ref, {
      endedAt: episode.lastAbove,
      lastSeen: episode.lastAbove,
      summary: `Object id enumeration by ${entity.kind} ${entity.name ?? entity.id} on ${method} ${route} ended (peak ${episode.peakDistinct} distinct ids).`,
      observed: episode.peakDistinct,
      windowSeconds: ctx.config.bucketSeconds * 2,
    });
    return [resolved];
  },
});

type Cfg = {
  minDistinct: number;
  minDistinctWithErrors: number;
  peerMultiplier: number;
  ownMultiplier: number;
  workloadColdMultiplier: number;
};

interface Threshold {
  value: number;
  /** The part of the threshold that comes from the actor's own habit (never undercut by the 403/404 path). */
  ownFloor: number;
  peerP99: number | null;
  ownPeak: number | null;
}

function thresholdFor(
  s: EnumState,
  event: ApiEvent,
  peers: { p99: number; confidence: 'high' | 'low' },
  cfg: Cfg,
): Threshold {
  let value = cfg.minDistinct;
  const peerP99 = peers.confidence === 'high' ? peers.p99 : null;
  if (peerP99 !== null) value = Math.max(value, Math.ceil(peerP99 * cfg.peerMultiplier));
  const hasOwn = s.buckets >= 1 && s.ownPeak > 0;
  const ownFloor = hasOwn ? Math.ceil(s.ownPeak * cfg.ownMultiplier) : 0;
  value = Math.max(value, ownFloor);
  const workload = event.identity.principal === 'service' || event.identity.principal === 'batch';
  if (workload && !hasOwn) value *= cfg.workloadColdMultiplier;
  // A workload with no habit of its own yet (a sync job's first window) is judged only on the
  // 403/404 path: walking many ids that exist is what sync jobs do.
  if (workload && !hasOwn)
    return { value: Number.POSITIVE_INFINITY, ownFloor: value, peerP99, ownPeak: null };
  return { value, ownFloor, peerP99, ownPeak: hasOwn ? s.ownPeak : null };
}

/**
 * A state from a checkpoint taken before this shape: the episode as fields (`open`, `lastAbove`,
 * `peakDistinct`, `ref`, `episodeStart`), and before decision 0026's first packing also two
 * LinearCounters (`cur`, `prev`) for the bitmaps.
 */
function upgrade(s: EnumState): void {
  const old = s as unknown as {
    cur?: { bits: Uint8Array };
    prev?: { bits: Uint8Array };
    open?: boolean;
    lastAbove?: number;
    peakDistinct?: number;
    episodeStart?: number;
    ref?: EpisodeRef | null;
  };
  if (s.bits === undefined) {
    s.bits = new Uint8Array(2 * HALF);
    if (old.cur) s.bits.set(old.cur.bits.subarray(0, HALF), 0);
    if (old.prev) s.bits.set(old.prev.bits.subarray(0, HALF), HALF);
  }
  s.episode =
    old.open && old.ref
      ? { lastAbove: old.lastAbove ?? 0, peakDistinct: old.peakDistinct ?? 0, ref: old.ref }
      : null;
  for (const k of ['cur', 'prev', 'open', 'lastAbove', 'peakDistinct', 'episodeStart', 'ref'] as const)
    delete old[k];
}

/** After a roll: a bitmap whose previous half holds at most LIST_MAX bits goes back to a list. */
function listIfSparse(s: EnumState): void {
  const bits = s.bits!;
  let set = 0;
  for (let b = HALF; b < 2 * HALF && set <= LIST_MAX; b++) set += popcount8(bits[b]!);
  if (set > LIST_MAX) return;
  const codes: number[] = [];
  for (let p = M; p < 2 * M; p++) if ((bits[p >>> 3]! & (1 << (p & 7))) !== 0) codes.push(p);
  s.bits = null;
  s.marks = marksOf(codes);
}

function collect(s: EnumState, event: ApiEvent): void {
  s.samples ??= [];
  s.sampleIds ??= [];
  const samples = s.samples;
  for (const o of event.objects) {
    if (samples.length < 5 && !samples.includes(o.value)) samples.push(o.value.slice(0, 64));
  }
  if (s.sampleIds.length < 10) s.sampleIds.push(event.id);
}

/** A new bucket: the closed one teaches the actor's own peak (unless it was part of an episode). */
function roll(s: EnumState, bucket: number, halfLifeHours: number, bucketMs: number): void {
  const closed = estimate(s);
  const gap = bucket - s.bucket;
  const wasActive = s.calls > 0;
  if (s.bucket !== 0 && wasActive) {
    const hours = ((bucket - s.ownPeakAt) * bucketMs) / 3_600_000;
    const decayed = s.ownPeak * 0.5 ** (hours / halfLifeHours);
    // An episode's windows never become the actor's habit.
    s.ownPeak = s.episode !== null ? decayed : Math.max(decayed, closed);
    s.ownPeakAt = bucket;
    s.buckets++;
  }
  if (gap === 1) {
    if (s.bits !== null) {
      s.bits.copyWithin(HALF, 0, HALF);
      s.bits.fill(0, 0, HALF);
      listIfSparse(s);
    } else if (s.marks) {
      s.marks = marksOf(codesOf(s.marks).flatMap((p) => (p < M ? [p + M] : [])));
    }
    s.prevCalls = s.calls;
    s.prevRefused = s.refused;
  } else {
    s.bits = null;
    s.marks = null;
    s.prevCalls = 0;
    s.prevRefused = 0;
  }
  s.calls = 0;
  s.refused = 0;
  s.numericSteps = 0;
  s.sequentialSteps = 0;
  s.lastNumeric = Number.NaN;
  s.bucket = bucket;
  s.samples = null;
  s.sampleIds = null;
}

function draft(
  s: EnumState,
  event: ApiEvent,
  key: string,
  distinct: number,
  refusedShare: number,
  threshold: Threshold,
  bucketSeconds: number,
): FindingDraft {
  const actor = key.split('\u0001')[0]!;
  const entity = actorFindingEntity(actor, event);
  const route = event.request.route!;
  const method = event.request.method;
  const sequentialShare = s.numericSteps > 0 ? s.sequentialSteps / s.numericSteps : 0;
  const sequential = s.numericSteps >= 5 && sequentialShare >= 0.6;
  const ratio = distinct / Math.max(1, threshold.value);
  const confidence = Math.min(
    0.99,
    0.6 + 0.1 * Math.log2(Math.max(1, ratio)) + (refusedShare >= 0.5 ? 0.15 : 0) + (sequential ? 0.1 : 0),
  );
  const who =
    entity.name && entity.name !== entity.id
      ? `${entity.kind} ${entity.name}`
      : `${entity.kind} ${entity.id}`;
  const params = [...new Set(event.objects.map((o) => `${o.in}:${o.name}`))];
  return {
    entity,
    route,
    method,
    tenant: event.identity.tenant,
    severity: refusedShare < 0.5 ? 'high' : 'medium',
    confidence,
    summary: `${who} touched ${distinct} distinct object ids on ${method} ${route} within ${Math.round((bucketSeconds * 2) / 60)} min (threshold ${threshold.value}${threshold.peerP99 !== null ? `, peers' p99 ${threshold.peerP99}` : ''}); ${Math.round(refusedShare * 100)}% answered 403/404${sequential ? ', ids walked sequentially' : ''}.`,
    firstSeen: event.ts - (event.ts % (bucketSeconds * 1000)) - bucketSeconds * 1000,
    lastSeen: event.ts,
    evidence: {
      observed: distinct,
      baseline: threshold.peerP99 ?? threshold.ownPeak,
      threshold: threshold.value,
      windowSeconds: bucketSeconds * 2,
      counts: {
        distinctIds: distinct,
        calls: s.calls + s.prevCalls,
        refused: s.refused + s.prevRefused,
        numericSteps: s.numericSteps,
        sequentialSteps: s.sequentialSteps,
      },
      sampleEventIds: [...(s.sampleIds ?? [])],
      details: {
        params,
        sampleIds: [...(s.samples ?? [])],
        refusedShare,
        sequential,
        peerP99: threshold.peerP99,
        ownPeak: threshold.ownPeak,
        clientIp: event.client.ip,
        userAgent: event.client.userAgent,
      },
    },
    recommendedAction: `Check that ${method} ${route} enforces object ownership for ${who}; if the ids are not theirs, revoke ${entity.ref ? `credential ${entity.ref}` : 'the credential'} and review which objects were read (2xx) in the episode.`,
  };
}
