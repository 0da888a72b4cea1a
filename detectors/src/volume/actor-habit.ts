/**
 * An actor's own habit for one measure (requests, response bytes, paginated calls): the sum over
 * the last five event-time minutes, and per day the highest five-minute sum, for the last four
 * weeks plus today so far. That is the actor's own history the volume family judges it against:
 * a backup job's nightly burst, an indexer's steady flood and an office's Monday peak are all in
 * its daily peaks, a weekly job in the peaks of the same weekday in the weeks before, so none of
 * them is a spike of that actor (docs/detectors/volume.actor_spike.md).
 *
 * ~330 B per actor. Daily peaks survive as long as the runtime keeps the key (idle keys are
 * dropped after `HABIT_IDLE_MS`): a restart or eviction starts the actor cold, where a higher
 * static floor applies.
 */
import { median, medianAbsoluteDeviation } from 'simple-statistics';
import { DAY_MS, fnv1a, HOUR_MS, LinearCounter, MINUTE_MS } from '../bola/common.ts';

/** Days of daily peaks kept (four weeks: the same weekday three and four weeks back too). */
export const HABIT_DAYS = 28;
/** Days the typical (median) daily peak is taken over. */
export const RECENT_DAYS = 7;
export const HABIT_IDLE_MS = 8 * DAY_MS;

export interface ActorHabit {
  /** Minute index (epoch minutes) of `minutes[last]`. */
  minute: number;
  /** The last five minutes' sums, ring by minute index mod 5. */
  minutes: Float64Array;
  day: number;
  hour: number;
  /**
   * Highest five-minute sum of this hour's completed windows: it joins the habit only when the
   * hour is over, so a burst (or an attack's ramp) never raises its own bar.
   */
  hourPeak: number;
  /** Highest five-minute sum today, of earlier hours. */
  todayPeak: number;
  /** Highest five-minute sum on each of the last HABIT_DAYS days (ring by day mod HABIT_DAYS), -1 = no data. */
  peaks: Float32Array;
  /** Distinct user agents today (ip actors: a shared egress carries many). */
  agents: LinearCounter;
}

export function newHabit(): ActorHabit {
  return {
    minute: -1,
    minutes: new Float64Array(5),
    day: -1,
    hour: -1,
    hourPeak: 0,
    todayPeak: 0,
    peaks: new Float32Array(HABIT_DAYS).fill(-1),
    agents: new LinearCounter(16),
  };
}

export const HABIT_BYTES = 5 * 8 + HABIT_DAYS * 4 + 16 + 120;

/** Sum of the five minutes ending with the current one. */
export function windowSum(h: ActorHabit): number {
  let n = 0;
  for (const v of h.minutes) n += v;
  return n;
}

/**
 * Moves the habit to `ts`, closing minutes (each closed five-minute window teaches today's peak,
 * unless `learn` is false — an open episode never becomes habit) and days.
 */
export function advanceHabit(h: ActorHabit, ts: number, learn: boolean): void {
  const minute = Math.floor(ts / MINUTE_MS);
  if (h.minute < 0) {
    h.minute = minute;
    h.day = Math.floor(ts / DAY_MS);
    h.hour = Math.floor(ts / HOUR_MS);
    return;
  }
  if (minute <= h.minute) return;
  const steps = Math.min(5, minute - h.minute);
  for (let i = 1; i <= steps; i++) {
    // The window ending at the minute being closed is complete: it may teach this hour's peak.
    if (i === 1 && learn) h.hourPeak = Math.max(h.hourPeak, windowSum(h));
    h.minutes[(h.minute + i) % 5] = 0;
  }
  h.minute = minute;
  const hour = Math.floor(ts / HOUR_MS);
  if (hour !== h.hour) {
    h.todayPeak = Math.max(h.todayPeak, h.hourPeak);
    h.hourPeak = 0;
    h.hour = hour;
  }
  const day = Math.floor(ts / DAY_MS);
  if (day !== h.day) {
    const gap = day - h.day;
    if (gap >= HABIT_DAYS) h.peaks.fill(-1);
    else for (let d = 1; d < gap; d++) h.peaks[(h.day + d) % HABIT_DAYS] = -1;
    if (gap < HABIT_DAYS) h.peaks[h.day % HABIT_DAYS] = h.todayPeak;
    h.todayPeak = 0;
    h.day = day;
    h.agents.clear();
  }
}

export function addToHabit(h: ActorHabit, ts: number, value: number, userAgent: string | null): void {
  h.minutes[Math.floor(ts / MINUTE_MS) % 5]! += value;
  if (userAgent) h.agents.add(fnv1a(userAgent));
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
  if (h.day >= 0)
    for (let d = 1; d <= HABIT_DAYS; d++) {
      const p = h.peaks[(((h.day - d) % HABIT_DAYS) + HABIT_DAYS) % HABIT_DAYS]!;
      if (p < 0) continue;
      if (d <= RECENT_DAYS) recent.push(p);
      if (d % 7 === 0) weekday.push(p);
    }
  if (h.todayPeak > 0) recent.push(h.todayPeak);
  const observed = windowSum(h);
  const agents = h.agents.estimate();
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
