import { Type as T } from '@sinclair/typebox';
import { ANY_TENANT, type BaselineSnapshot, hourOfWeek, type RouteRef } from '../baselines/index.ts';
import { HOUR_MS, MINUTE_MS } from '../bola/common.ts';
import { defineDetector } from '../runtime/define.ts';
import {
  initRouteVolume,
  type RouteJudge,
  type RouteVolumeState,
  routeOnEvent,
  routeOnWatermark,
  routeVolumeSize,
  type Verdict,
  WINDOW_MINUTES,
  wholeRouteKey,
} from './route-detector.ts';
import { expectation, historyMinutes, RING, sumLast } from './route-series.ts';

/** Five-minute bins of the last three hours: the long windows a quiet route is judged over. */
const BIN_MS = 5 * MINUTE_MS;
const BINS = 36;
/** Long windows: every length from 45 minutes to two hours in five-minute steps, so one of them starts with the drop. */
const LONG_WINDOWS = Array.from({ length: 16 }, (_, i) => 45 + 5 * i);
const LONGEST_BINS = 24;
/** Bins before a long window that show the route's level just before it (30 minutes). */
const LONG_BEFORE_BINS = 6;

/** route_drop's state: the shared minute series plus its five-minute bins. */
interface DropState extends RouteVolumeState {
  /** Requests per five-minute bin, ring of BINS. */
  bins?: Uint32Array;
  /** Epoch index of the newest bin (floor(ts / 5 min)). */
  bin?: number;
  /** Epoch index of the first bin with data: bins before it are unknown, not zero. */
  binsFrom?: number;
}

function initDrop(key: string): DropState {
  return { ...initRouteVolume(key), bins: new Uint32Array(BINS), bin: -1, binsFrom: -1 };
}

/** Moves the bins to `bin` (zero-filling skipped bins). States checkpointed before the bins existed get them here. */
function advanceBins(s: DropState, bin: number): Uint32Array {
  if (!s.bins || s.bin === undefined || s.binsFrom === undefined || s.bin < 0) {
    s.bins ??= new Uint32Array(BINS);
    s.bins.fill(0);
    s.bin = bin;
    s.binsFrom = bin;
    return s.bins;
  }
  if (bin > s.bin) {
    const steps = Math.min(BINS, bin - s.bin);
    for (let i = 1; i <= steps; i++) s.bins[(s.bin + i) % BINS] = 0;
    s.bin = bin;
  }
  return s.bins;
}

/** Requests of the `n` bins ending before bin `end` (exclusive), or null when part of them is unknown. */
function binSum(s: DropState, end: number, n: number): number | null {
  const from = end - n;
  if (!s.bins || s.bin === undefined || s.binsFrom === undefined || s.binsFrom < 0) return null;
  if (from < s.binsFrom || from <= s.bin - BINS) return null;
  let sum = 0;
  for (let b = from; b < end; b++) if (b <= s.bin) sum += s.bins[b % BINS]!;
  return sum;
}

interface HourlyLevel {
  /** Expected requests. */
  requests: number;
  /** Expected caller-hours (distinct callers per hour × hours). */
  callerHours: number;
  /** Week-to-week σ of callerHours. */
  callerSpread: number;
  /** Fewest distinct callers an hour over the span. */
  minCallers: number;
}

/** The hour-of-week baseline over [from, to) (whole minutes), hour by hour; null unless every hour is learned. */
function hourlyLevel(
  snapshot: BaselineSnapshot,
  route: RouteRef,
  from: number,
  to: number,
): HourlyLevel | null {
  const out: HourlyLevel = {
    requests: 0,
    callerHours: 0,
    callerSpread: 0,
    minCallers: Number.POSITIVE_INFINITY,
  };
  for (let t = from; t < to; ) {
    const next = Math.min(to, (Math.floor(t / HOUR_MS) + 1) * HOUR_MS);
    const b = snapshot.get(route, hourOfWeek(t));
    if (b.requests.confidence !== 'high' || b.actors.confidence !== 'high') return null;
    const share = (next - t) / HOUR_MS;
    out.requests += b.requests.median * share;
    out.callerHours += b.actors.median * share;
    out.callerSpread += 1.4826 * b.actors.mad * share;
    out.minCallers = Math.min(out.minCallers, b.actors.median);
    t = next;
  }
  return out;
}

export const RouteDropConfig = T.Object(
  {
    minExpectedPerMinute: T.Number({
      minimum: 0,
      default: 0.5,
      description:
        'Only routes whose hour-of-week baseline expects at least this many requests a minute (all tenants together) are watched.',
    }),
    minRecentPerMinute: T.Number({
      minimum: 0,
      default: 20,
      description:
        'Without a learned hour-of-week baseline, a route must have taken this many a minute in its last hour: callers that simply stop look like an outage, so only busy routes are judged on their last hour.',
    }),
    minExpected: T.Number({
      minimum: 1,
      default: 15,
      description:
        'Requests the judged window must be expected to hold (a zero must be significant): a quiet route is judged over a longer window, up to an hour.',
    }),
    minCallers: T.Number({
      minimum: 0,
      default: 3,
      description:
        'Distinct callers an hour the baseline must expect: one client stopping (a batch job done early) is that client’s business, not the route’s.',
    }),
    dropRatio: T.Number({
      minimum: 0,
      maximum: 1,
      default: 0.1,
      description: 'Observed at most this × expected over the window (an outage, not a slow hour).',
    }),
    maxProbability: T.Number({
      exclusiveMinimum: 0,
      maximum: 0.01,
      default: 1e-7,
      description:
        'Poisson probability of so few requests at the expected rate (lowered by twice its week-to-week spread) above which a shortfall is chance.',
    }),
    maxCallerProbability: T.Number({
      exclusiveMinimum: 0,
      maximum: 0.01,
      default: 1e-5,
      description:
        'Long windows (45–120 min, judged every five minutes): Poisson probability of so few requests when every caller-hour the hour-of-week baseline expects is an independent chance of one; above it a silence is chance.',
    }),
    minRecentMinutes: T.Integer({
      minimum: 10,
      maximum: 55,
      default: 30,
      description: 'Recent minutes needed when no seasonal baseline is learned.',
    }),
    quietSeconds: T.Integer({
      minimum: 60,
      default: 600,
      description: 'Unused: a drop resolves when traffic is back to half the expected rate.',
    }),
  },
  { additionalProperties: false },
);

type Cfg = (typeof RouteDropConfig)['static'];

/** Windows a drop is judged over, shortest first: the first one expected to hold `minExpected` counts. */
const WINDOWS = [5, 10, 15, 20, 30, 40];
/** Minutes before the window that show the route's level just before the drop (at most BEFORE). */
const MIN_BEFORE = 15;
const BEFORE = 30;

/** P(X ≤ k) for X ~ Poisson(λ). */
export function poissonCdf(k: number, lambda: number): number {
  if (lambda <= 0) return 1;
  let term = Math.exp(-lambda);
  let sum = term;
  for (let i = 1; i <= k; i++) {
    term *= lambda / i;
    sum += term;
  }
  return Math.min(1, sum);
}

/** Variance over mean of the sums of consecutive `bin`-minute groups of `minutes` (0 when empty). */
export function indexOfDispersion(minutes: readonly number[], bin: number): number {
  const sums: number[] = [];
  for (let i = 0; i + bin <= minutes.length; i += bin) {
    let n = 0;
    for (let j = i; j < i + bin; j++) n += minutes[j]!;
    sums.push(n);
  }
  if (sums.length < 2) return 0;
  const mean = sums.reduce((a, b) => a + b, 0) / sums.length;
  if (mean <= 0) return 0;
  const variance = sums.reduce((a, b) => a + (b - mean) ** 2, 0) / (sums.length - 1);
  return variance / mean;
}

interface Level {
  /** Expected requests in the window. */
  expected: number;
  /** Expected distinct callers an hour (the fewest over the window's hours; null for the recent fallback). */
  callers: number | null;
  /** Week-to-week σ of that expectation. */
  spread: number;
  kind: 'seasonal' | 'recent';
}

/**
 * What the last `w` minutes should have held: the hour-of-week medians of the hours they fall in
 * (the route over all tenants), else the median of the series' minutes before the window.
 */
function level(
  s: RouteVolumeState,
  route: RouteRef,
  snapshot: BaselineSnapshot,
  w: number,
  minuteEnd: number,
  minRecent: number,
  minRecentPerMinute = 0,
): Level | null {
  let expected = 0;
  let spread = 0;
  let callers = Number.POSITIVE_INFINITY;
  let seasonal = snapshot.hasSeasonal(route);
  for (let i = 1; seasonal && i <= w; i++) {
    const b = snapshot.get(route, hourOfWeek(minuteEnd - i * MINUTE_MS));
    const cell = b.requests;
    if (cell.confidence !== 'high') {
      seasonal = false;
      break;
    }
    expected += cell.medianPerMinute;
    // Week-to-week level changes move every minute of the hour together: σs add up.
    spread += (1.4826 * cell.mad) / 60;
    callers = Math.min(callers, b.actors.median);
  }
  if (seasonal) return { expected, spread, callers, kind: 'seasonal' };
  const exp = expectation(s.series, snapshot, route, minuteEnd - 1, w, minRecent, minRecentPerMinute);
  if (exp?.kind !== 'recent') return null;
  const perMinuteSpread = Math.max(0, exp.sigma(1) ** 2 - Math.max(exp.perMinute, 1));
  return {
    expected: exp.perMinute * w,
    spread: Math.sqrt(perMinuteSpread) * w,
    callers: null,
    kind: 'recent',
  };
}

const NO: Verdict = { anomalous: false, severityValue: 0, reference: 0 };

/**
 * Short windows (5–40 min, every minute): the requests themselves, quasi-Poisson with the
 * dispersion of the minutes before.
 */
function judgeShort(
  s: RouteVolumeState,
  route: RouteRef,
  snapshot: BaselineSnapshot,
  cfg: Cfg,
  minuteEnd: number,
): Verdict {
  const series = s.series;
  for (const w of WINDOWS) {
    if (w + MIN_BEFORE > series.filled + 1) break;
    // Below minRecentPerMinute the recent level judges nothing (checked below): level() gives
    // null instead of computing it.
    const l = level(s, route, snapshot, w, minuteEnd, cfg.minRecentMinutes, cfg.minRecentPerMinute);
    if (!l) return NO;
    const minPerMinute = l.kind === 'seasonal' ? cfg.minExpectedPerMinute : cfg.minRecentPerMinute;
    if (l.expected / w < minPerMinute) return NO;
    if (l.callers !== null && l.callers < cfg.minCallers) return NO;
    if (l.expected < cfg.minExpected) continue;
    const observed = sumLast(series, series.requests, w);
    if (observed > cfg.dropRatio * l.expected) return NO;
    // A sudden drop: the route ran at its usual level just before the window.
    const before = historyMinutes(series, series.requests, w).slice(0, BEFORE);
    const beforeExpected =
      l.kind === 'recent'
        ? (l.expected / w) * before.length
        : (level(s, route, snapshot, before.length, minuteEnd - w * MINUTE_MS, cfg.minRecentMinutes)
            ?.expected ?? Number.POSITIVE_INFINITY);
    const beforeObserved = before.reduce((a, b) => a + b, 0);
    if (beforeObserved < 0.5 * beforeExpected) return NO;
    // Never expect more than the route was doing just before: an hour's median assumes traffic
    // spread over the hour, and a job that starts at :10 leaves :00–:10 empty every week.
    const expected = Math.min(l.expected, (beforeObserved / before.length) * w);
    if (expected < cfg.minExpected) continue;
    if (observed > cfg.dropRatio * expected) return NO;
    // Traffic that comes in bursts (batches, user sessions, heavy callers) proves less per request than
    // independent calls: quasi-Poisson, with the index of dispersion of the minutes before the
    // window, per minute and per five minutes (sessions span minutes), whichever is larger.
    // A few heavy callers (a backup agent, a bulk sync) carry many requests each: the
    // independent units are callers, so requests per caller-minute count as dispersion too.
    const callerMinutes = historyMinutes(series, series.callers, w)
      .slice(0, BEFORE)
      .reduce((a, b) => a + b, 0);
    const perCaller = callerMinutes > 0 ? beforeObserved / callerMinutes : 1;
    const dispersion = Math.max(1, indexOfDispersion(before, 1), indexOfDispersion(before, 5), perCaller);
    // Three weeks give a coarse MAD: the spread is at least 15 % of the level.
    const lambda = Math.max(0, expected - 2 * Math.max(l.spread, 0.15 * expected));
    const p = poissonCdf(Math.floor(observed / dispersion), lambda / dispersion);
    if (p > cfg.maxProbability) continue;
    return dropVerdict(cfg, {
      observed,
      expected,
      w,
      minuteEnd,
      kind: l.kind,
      p,
      details: {
        test: 'requests',
        spread: l.spread,
        dispersion,
        callersPerHour: l.callers,
        before: beforeObserved,
        beforeExpected,
      },
    });
  }
  return NO;
}

/**
 * Long windows (45–120 min, when a five-minute bin completes): a route at a request or two a
 * minute is carried by sessions — a caller's calls come in bursts, so requests prove little
 * per request — but each caller-hour the hour-of-week baseline expects is an independent chance
 * of at least one request. Fewer requests than that (each request is at most one caller) over a
 * long window is a silence that user-session lulls do not make.
 */
function judgeLong(
  s: DropState,
  route: RouteRef,
  snapshot: BaselineSnapshot,
  cfg: Cfg,
  minuteEnd: number,
): Verdict {
  if (minuteEnd % BIN_MS !== 0 || !snapshot.hasSeasonal(route)) return NO;
  const end = minuteEnd / BIN_MS;
  for (const w of LONG_WINDOWS) {
    const n = w / 5;
    const observed = binSum(s, end, n);
    const beforeObserved = binSum(s, end - n, LONG_BEFORE_BINS);
    if (observed === null || beforeObserved === null) return NO;
    const from = minuteEnd - w * MINUTE_MS;
    const l = hourlyLevel(snapshot, route, from, minuteEnd);
    if (!l) return NO;
    if (l.requests / w < cfg.minExpectedPerMinute || l.minCallers < cfg.minCallers) return NO;
    if (observed > cfg.dropRatio * l.requests) return NO;
    // A sudden drop: the half hour before the window ran at its usual level; the caller-hours
    // expected are scaled down to that level when it was lower (a quiet day).
    const b = hourlyLevel(snapshot, route, from - LONG_BEFORE_BINS * BIN_MS, from);
    if (!b || b.requests <= 0 || beforeObserved < 0.5 * b.requests) continue;
    const today = Math.min(1, beforeObserved / b.requests);
    const expected = l.requests * today;
    if (observed > cfg.dropRatio * expected) return NO;
    const units = l.callerHours * today;
    const lambda = Math.max(0, units - 2 * Math.max(l.callerSpread * today, 0.1 * units));
    const p = poissonCdf(observed, lambda);
    if (p > cfg.maxCallerProbability) continue;
    return dropVerdict(cfg, {
      observed,
      expected,
      w,
      minuteEnd,
      kind: 'seasonal',
      p,
      details: {
        test: 'caller-hours',
        callerHours: units,
        callerSpread: l.callerSpread,
        before: beforeObserved,
        beforeExpected: b.requests,
      },
    });
  }
  return NO;
}

interface DraftInput {
  observed: number;
  expected: number;
  w: number;
  minuteEnd: number;
  kind: 'seasonal' | 'recent';
  p: number;
  details: Record<string, unknown>;
}

/** A drop found by either test: its verdict and the finding it drafts. */
function dropVerdict(cfg: Cfg, x: DraftInput): Verdict {
  const { observed, expected, w, minuteEnd, p } = x;
  const threshold = Math.round(cfg.dropRatio * expected);
  const draft: NonNullable<Verdict['draft']> = (entity, r, st) => ({
    entity,
    route: r.route,
    method: r.method,
    tenant: r.tenant === ANY_TENANT ? null : r.tenant || null,
    severity: observed === 0 ? 'high' : 'medium',
    confidence: Math.min(
      0.95,
      0.6 + 0.02 * Math.log10(1 / Math.max(p, 1e-300)) + (x.kind === 'seasonal' ? 0.1 : 0),
    ),
    summary: `${r.method} ${r.route} took ${observed} requests in ${w} min against ${Math.round(expected)} expected (${x.kind === 'seasonal' ? 'hour-of-week baseline' : 'its last hour'}): traffic dropped ${Math.round((1 - observed / expected) * 100)}%.`,
    firstSeen: minuteEnd - w * 60_000,
    lastSeen: minuteEnd,
    evidence: {
      observed,
      baseline: Math.round(expected),
      threshold,
      windowSeconds: w * 60,
      counts: { requests: observed },
      sampleEventIds: [...st.samples],
      details: { baselineKind: x.kind, probability: p, ...x.details },
    },
    recommendedAction: `Check that ${r.method} ${r.route} is reachable (gateway routes, DNS, certificates, upstream health) and that its callers are not blocked; a drop on a login or payment route can be an outage or a blocking rule gone wrong.`,
  });
  return {
    anomalous: true,
    severityValue: expected - observed,
    reference: (expected / w) * WINDOW_MINUTES,
    draft,
  };
}

/**
 * Whether the route has a learned series and whether hour-of-week `how` lets the seasonal tests
 * judge it, per state, snapshot and config: derived from the snapshot, so kept beside the state (a
 * restored state recomputes it), asked on every event.
 */
const watchCache = new WeakMap<
  RouteVolumeState,
  { snapshot: BaselineSnapshot; cfg: Cfg; seasonal: boolean; how: number; watchable: boolean }
>();

/** null: no learned series; else whether hour `how` can be judged. */
function seasonalWatchable(
  s: RouteVolumeState,
  route: RouteRef,
  snapshot: BaselineSnapshot,
  cfg: Cfg,
  how: number,
): boolean | null {
  let c = watchCache.get(s);
  if (c?.snapshot !== snapshot || c.cfg !== cfg) {
    c = { snapshot, cfg, seasonal: snapshot.hasSeasonal(route), how: -1, watchable: false };
    watchCache.set(s, c);
  }
  if (!c.seasonal) return null;
  if (c.how !== how) {
    const b = snapshot.get(route, how);
    // Every window ending in this hour holds its last minute: a cell not learned sends the short
    // test to the recent fallback and fails the long one; too few callers fails both.
    c.watchable =
      b.requests.confidence === 'high' && b.actors.confidence === 'high' && b.actors.median >= cfg.minCallers;
    c.how = how;
  }
  return c.watchable;
}

/**
 * The highest minute of the ring but the newest, per state and series minute (derived: the other
 * minutes change only when the series moves or an event lands in an older minute, which drops
 * it), so the per-event question "did a minute of the last hour take this many" reads one slot.
 */
const ringCache = new WeakMap<RouteVolumeState, { minute: number; maxBefore: number }>();

function ringBusy(s: RouteVolumeState, threshold: number): boolean {
  const series = s.series;
  const current = series.minute % RING;
  let c = ringCache.get(s);
  if (c?.minute !== series.minute) {
    let max = 0;
    for (let i = 0; i < RING; i++) if (i !== current && series.requests[i]! > max) max = series.requests[i]!;
    c = { minute: series.minute, maxBefore: max };
    ringCache.set(s, c);
  }
  return c.maxBefore >= threshold || series.requests[current]! >= threshold;
}

/**
 * Minutes that cannot be judged a drop: the recent fallback needs a minute at
 * minRecentPerMinute in the ring (minutes without events only lower it) and the seasonal tests
 * need the hour's cell learned with minCallers (the same for the whole hour); and a drop needs
 * traffic before it (the sudden-drop check), so a route silent for longer than the longest
 * window and its half hour before waits for its next event.
 */
function idleUntil(
  s: RouteVolumeState,
  route: RouteRef,
  snapshot: BaselineSnapshot,
  cfg: Cfg,
  minuteEnd: number,
): number {
  const d = s as DropState;
  // No request in the longest window and the half hour before it: no window has a "before".
  if (d.bin !== undefined && d.bin >= 0 && d.bin < minuteEnd / BIN_MS - LONGEST_BINS - LONG_BEFORE_BINS)
    return Number.POSITIVE_INFINITY;
  if (ringBusy(s, cfg.minRecentPerMinute)) return minuteEnd;
  const last = minuteEnd - MINUTE_MS;
  const watchable = seasonalWatchable(s, route, snapshot, cfg, hourOfWeek(last));
  if (watchable === null) return Number.POSITIVE_INFINITY;
  if (watchable) return minuteEnd;
  return (Math.floor(last / HOUR_MS) + 1) * HOUR_MS + MINUTE_MS;
}

const judge: RouteJudge<Cfg> = {
  idleUntil,
  judge(s, route, snapshot, cfg, minuteEnd) {
    // The recent fallback must not learn the drop itself: once an episode is open, the expected
    // level stays the one it opened with (five-minute equivalent in `reference`).
    if (s.open)
      return { ...NO, anomalous: sumLast(s.series, s.series.requests, WINDOW_MINUTES) < 0.5 * s.reference };
    const short = judgeShort(s, route, snapshot, cfg, minuteEnd);
    return short.anomalous ? short : judgeLong(s, route, snapshot, cfg, minuteEnd);
  },
  observe(s, event) {
    if (Math.floor(event.ts / MINUTE_MS) !== s.series.minute) ringCache.delete(s);
    const bin = Math.floor(event.ts / BIN_MS);
    const bins = advanceBins(s, bin);
    if (bin > (s as DropState).bin! - BINS) bins[bin % BINS]!++;
  },
  recovered: (s, _route, _snapshot, _cfg) => {
    const observed = sumLast(s.series, s.series.requests, WINDOW_MINUTES);
    return observed >= 0.5 * s.reference;
  },
  resolvedSummary: (r, s) =>
    `${r.method} ${r.route} is back to at least half of its expected rate (${Math.round(s.reference)} per 5 min).`,
};

/**
 * `volume.route_drop` (OWASP API4:2023, availability; NIST monitoring): a busy route's traffic,
 * all tenants together, falls far below its hour-of-week baseline (or its last hour) over the
 * shortest window in which the shortfall is significant (five minutes on a busy route, up to an
 * hour on a quiet one). Judged on minute ticks driven by the watermark, so a route that goes
 * completely silent is still judged.
 */
export const routeDrop = defineDetector({
  id: 'volume.route_drop',
  title: 'Sudden traffic drop on a busy route',
  owasp: 'API4:2023',
  nist: 'monitoring',
  severity: 'medium',
  configSchema: RouteDropConfig,
  scope: 'global',
  fingerprint: ['entity'],
  keyBy: wholeRouteKey,
  init: initDrop,
  sizeOf: (s) => routeVolumeSize(s) + BINS * 4 + 40,
  // A route silent for a day starts afresh (its seasonal baseline lives in the store).
  idleMs: () => 86_400_000,
  onEvent: (s, e, ctx, key) => routeOnEvent(judge, s, e, ctx, key),
  onWatermark: (s, ts, ctx, key) => routeOnWatermark(judge, s, ts, ctx, key),
});
