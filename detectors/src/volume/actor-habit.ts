/**
 * An actor's own habit for one measure (requests, response bytes, paginated calls): the sum over
 * the last five event-time minutes, and per day the highest five-minute sum, for the last four
 * weeks plus today so far. That is the actor's own history the volume family judges it against:
 * a backup job's nightly burst, an indexer's steady flood and an office's Monday peak are all in
 * its daily peaks, a weekly job in the peaks of the same weekday in the weeks before, so none of
 * them is a spike of that actor (docs/detectors/volume.actor_spike.md).
 *
 * One array of 40 numbers per actor (320 B of doubles). Daily peaks survive as long as the runtime keeps the key (idle keys are
 * dropped after `HABIT_IDLE_MS`): a restart or eviction starts the actor cold, where a higher
 * static floor applies.
 */
import { median, medianAbsoluteDeviation } from 'simple-statistics';
import { DAY_MS, fnv1a, MINUTE_MS } from '../bola/common.ts';

/** Days of daily peaks kept (four weeks: the same weekday three and four weeks back too). */
export const HABIT_DAYS = 28;
/** Days the typical (median) daily peak is taken over. */
export const RECENT_DAYS = 7;
export const HABIT_IDLE_MS = 8 * DAY_MS;

/**
 * One array of numbers per actor (decision 0026): the scalars, the minute ring, the daily peaks
 * and the user-agent counter share it, and a detector may append its own numbers after
 * `HABIT_LENGTH` (`newHabit(extra)`). A plain array of doubles lives on the V8 heap with a 32 B
 * header; a Float64Array of the same numbers costs ~180 B of typed-array and ArrayBuffer objects
 * plus a malloc'd backing store. Daily peaks are stored rounded to float32 (`Math.fround`), as
 * the Float32Array they were kept in before, so every value the judgement reads is unchanged.
 */
export type ActorHabit = number[];

/**
 * Minute index (epoch minutes) of the newest minute of the ring (-1 before the first event). Its
 * hour and day are `floor(minute / 60)` and `floor(minute / 1440)`: they are not stored.
 */
const MINUTE = 0;
/**
 * Highest five-minute sum of this hour's completed windows: it joins the habit only when the
 * hour is over, so a burst (or an attack's ramp) never raises its own bar.
 */
const HOUR_PEAK = 1;
/** Highest five-minute sum today, of earlier hours. */
const TODAY_PEAK = 2;
/** The last five minutes' sums, ring by minute index mod 5. */
const MINUTES = 3;
/** Highest five-minute sum on each of the last HABIT_DAYS days (ring by day mod HABIT_DAYS), -1 = no data. */
const PEAKS = MINUTES + 5;
/** Distinct user agents today (ip actors: a shared egress carries many): a 128-bit linear counter in four 32-bit words. */
const AGENTS = PEAKS + HABIT_DAYS;
const AGENT_BITS = 128;
/** Numbers of the habit itself; a detector's own ones follow. */
export const HABIT_LENGTH = AGENTS + AGENT_BITS / 32;

const hourOf = (minute: number) => Math.floor(minute / 60);
const dayOf = (minute: number) => (minute < 0 ? -1 : Math.floor(minute / 1440));

/** A fresh habit with `extra` numbers (zero) after it for the detector's own use. */
export function newHabit(extra = 0): ActorHabit {
  // new Array(n) reserves exactly n slots (push would grow the store to n + n/2 + 16). Filled
  // with a fraction first, so that every habit holds unboxed doubles from the start (one
  // elements kind at every access site) instead of turning from small integers on its first sum.
  const h = new Array<number>(HABIT_LENGTH + extra).fill(0.5).fill(0);
  h[MINUTE] = -1;
  h.fill(-1, PEAKS, PEAKS + HABIT_DAYS);
  return h;
}

/** The Float64Array(42) layout of decision 0026's first packing: it also stored the day and hour. */
const PACKED_42 = { minute: 0, hourPeak: 3, todayPeak: 4, minutes: 5, peaks: 10, agents: 38 };

/**
 * A habit of the current layout from one checkpointed in an earlier shape: a Float64Array of 42
 * (minute, day, hour, peaks...) or, before that, an object of fields and small arrays. `extra`
 * numbers follow it, as `newHabit(extra)`.
 */
export function habitFrom(value: unknown, extra = 0): ActorHabit {
  const h = newHabit(extra);
  if (Array.isArray(value)) {
    for (let i = 0; i < HABIT_LENGTH; i++) h[i] = value[i] as number;
    return h;
  }
  if (value instanceof Float64Array) {
    const o = PACKED_42;
    h[MINUTE] = value[o.minute]!;
    h[HOUR_PEAK] = value[o.hourPeak]!;
    h[TODAY_PEAK] = value[o.todayPeak]!;
    for (let i = 0; i < 5; i++) h[MINUTES + i] = value[o.minutes + i]!;
    for (let d = 0; d < HABIT_DAYS; d++) h[PEAKS + d] = value[o.peaks + d]!;
    for (let w = 0; w < AGENT_BITS / 32; w++) h[AGENTS + w] = value[o.agents + w]!;
    return h;
  }
  const o = value as {
    minute: number;
    minutes: ArrayLike<number>;
    hourPeak: number;
    todayPeak: number;
    peaks: ArrayLike<number>;
    agents: { bits: ArrayLike<number> };
  };
  h[MINUTE] = o.minute;
  h[HOUR_PEAK] = o.hourPeak;
  h[TODAY_PEAK] = o.todayPeak;
  for (let i = 0; i < 5; i++) h[MINUTES + i] = o.minutes[i]!;
  for (let d = 0; d < HABIT_DAYS; d++) h[PEAKS + d] = Math.fround(o.peaks[d]!);
  const bits = o.agents.bits;
  for (let i = 0; i < AGENT_BITS && i < bits.length * 8; i++)
    if ((bits[i >>> 3]! & (1 << (i & 7))) !== 0) setAgentBit(h, i);
  return h;
}

function setAgentBit(h: ActorHabit, i: number): void {
  h[AGENTS + (i >>> 5)] = (h[AGENTS + (i >>> 5)]! | (1 << (i & 31))) >>> 0;
}

function popcount32(v: number): number {
  let n = v - ((v >>> 1) & 0x55555555);
  n = (n & 0x33333333) + ((n >>> 2) & 0x33333333);
  return (Math.imul((n + (n >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

/** Distinct user agents today (linear counting over 128 bits, as LinearCounter(16)). */
function agentEstimate(h: ActorHabit): number {
  let zeros = 0;
  for (let w = 0; w < AGENT_BITS / 32; w++) zeros += 32 - popcount32(h[AGENTS + w]! >>> 0);
  if (zeros === 0) return Math.round(AGENT_BITS * Math.log(AGENT_BITS));
  return Math.round(-AGENT_BITS * Math.log(zeros / AGENT_BITS));
}

/** Epoch minute of the habit's newest minute (-1 before its first event). */
export const habitMinute = (h: ActorHabit): number => h[MINUTE]!;

/** Epoch hour of the habit's newest minute. */
export const habitHour = (h: ActorHabit): number => hourOf(h[MINUTE]!);

/** Bytes of a habit with `length` numbers (array header and store header included). */
export const habitBytes = (length: number): number => 48 + length * 8;

/** Sum of the five minutes ending with the current one. */
export function windowSum(h: ActorHabit): number {
  let n = 0;
  for (let i = MINUTES; i < MINUTES + 5; i++) n += h[i]!;
  return n;
}

/**
 * Moves the habit to `ts`, closing minutes (each closed five-minute window teaches today's peak,
 * unless `learn` is false — an open episode never becomes habit) and days.
 */
export function advanceHabit(h: ActorHabit, ts: number, learn: boolean): void {
  const minute = Math.floor(ts / MINUTE_MS);
  if (h[MINUTE]! < 0) {
    h[MINUTE] = minute;
    return;
  }
  const last = h[MINUTE]!;
  if (minute <= last) return;
  const steps = Math.min(5, minute - last);
  for (let i = 1; i <= steps; i++) {
    // The window ending at the minute being closed is complete: it may teach this hour's peak.
    if (i === 1 && learn) h[HOUR_PEAK] = Math.max(h[HOUR_PEAK]!, windowSum(h));
    h[MINUTES + ((last + i) % 5)] = 0;
  }
  h[MINUTE] = minute;
  if (hourOf(minute) !== hourOf(last)) {
    h[TODAY_PEAK] = Math.max(h[TODAY_PEAK]!, h[HOUR_PEAK]!);
    h[HOUR_PEAK] = 0;
  }
  const day = dayOf(minute);
  const lastDay = dayOf(last);
  if (day !== lastDay) {
    const gap = day - lastDay;
    if (gap >= HABIT_DAYS) h.fill(-1, PEAKS, PEAKS + HABIT_DAYS);
    else for (let d = 1; d < gap; d++) h[PEAKS + ((lastDay + d) % HABIT_DAYS)] = -1;
    if (gap < HABIT_DAYS) h[PEAKS + (lastDay % HABIT_DAYS)] = Math.fround(h[TODAY_PEAK]!);
    h[TODAY_PEAK] = 0;
    h.fill(0, AGENTS, AGENTS + AGENT_BITS / 32);
  }
}

export function addToHabit(h: ActorHabit, ts: number, value: number, userAgent: string | null): void {
  h[MINUTES + (Math.floor(ts / MINUTE_MS) % 5)]! += value;
  if (userAgent) setAgentBit(h, fnv1a(userAgent) % AGENT_BITS);
}

export interface HabitJudgement {
  observed: number;
  threshold: number;
  /** Median of the active days' peaks of the last week (null with no history). */
  expected: number | null;
  /** Highest daily peak of the last week (evidence). */
  maxPeak: number | null;
  /** Median peak of the same weekday in the weeks before (null when none was seen). */
  weekdayPeak: number | null;
  days: number;
  distinctAgents: number;
}

export interface HabitLimits {
  /** Never a finding below this five-minute sum. */
  floor: number;
  /** With no history at all. */
  coldFloor: number;
  /**
   * × the actor's reference daily peak: the typical (median) one of the last week, or the
   * highest one where `reference` is `highest`.
   */
  peakMultiplier: number;
  /** Robust z over the daily peaks: median + z × 1.4826 × MAD. */
  zThreshold: number;
  /** For ip actors: user agents at or above this make the IP a shared egress (NAT, office). */
  sharedAgents: number;
}

export interface HabitRule {
  /**
   * `typical` (request rates): the median daily peak of the last week, so one past burst (an
   * export, an earlier attack) does not make the actor immune for a week; weekly jobs are in the
   * same weekday's peaks of the weeks before. `highest`: the week's highest daily peak (bytes,
   * whose daily peaks are heavy-tailed).
   */
  reference: 'typical' | 'highest';
  /** × the median peak of the same weekday in the weeks before (`typical` only). */
  weekdayMultiplier: number;
}

const TYPICAL: HabitRule = { reference: 'typical', weekdayMultiplier: 2 };

/**
 * The judgement for the current five-minute window: observed vs max(floor, multiplier × the
 * actor's reference daily peak, median + z·σ of the last week's daily peaks, and for `typical` a
 * multiple of the same weekday's peaks in the weeks before); cold actors face `coldFloor`. A shared
 * IP egress (many user agents) has its floors scaled by the number of agents it carries.
 */
export function judgeHabit(
  h: ActorHabit,
  limits: HabitLimits,
  isIp: boolean,
  rule: HabitRule = TYPICAL,
): HabitJudgement {
  const recent: number[] = [];
  const weekday: number[] = [];
  const day = dayOf(h[MINUTE]!);
  if (day >= 0)
    for (let d = 1; d <= HABIT_DAYS; d++) {
      const p = h[PEAKS + ((((day - d) % HABIT_DAYS) + HABIT_DAYS) % HABIT_DAYS)]!;
      if (p < 0) continue;
      if (d <= RECENT_DAYS) recent.push(p);
      if (d % 7 === 0) weekday.push(p);
    }
  const todayPeak = h[TODAY_PEAK]!;
  if (todayPeak > 0) recent.push(todayPeak);
  const observed = windowSum(h);
  const agents = agentEstimate(h);
  const shared = isIp && agents >= limits.sharedAgents ? agents / limits.sharedAgents : 1;
  const usable = recent.filter((p) => p > 0);
  const weekdayPeak = weekday.length > 0 ? median(weekday) : null;
  if (usable.length === 0 && !weekdayPeak) {
    return {
      observed,
      threshold: limits.coldFloor * shared,
      expected: null,
      maxPeak: null,
      weekdayPeak,
      days: 0,
      distinctAgents: agents,
    };
  }
  const maxPeak = usable.length > 0 ? Math.max(...usable) : 0;
  const med = usable.length > 0 ? median(usable) : 0;
  const spread = usable.length >= 3 ? 1.4826 * medianAbsoluteDeviation(usable) : 0;
  const reference = rule.reference === 'highest' ? maxPeak : med;
  const threshold = Math.max(
    limits.floor * shared,
    limits.peakMultiplier * reference,
    med + limits.zThreshold * spread,
    rule.reference === 'typical' ? rule.weekdayMultiplier * (weekdayPeak ?? 0) : 0,
  );
  return {
    observed,
    threshold,
    expected: med,
    maxPeak,
    weekdayPeak,
    days: usable.length,
    distinctAgents: agents,
  };
}
