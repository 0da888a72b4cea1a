/**
 * Per-route minute series the route-keyed volume detectors share (route_spike, error_spike,
 * route_drop): the last 60 event-time minutes of requests, 5xx answers and distinct callers, plus
 * the last 48 hours of hourly requests (a daily-rhythm check when no seasonal baseline is learned).
 * ~1.3 KiB per *route* — routes are few and bounded by templates, not by attackers.
 *
 * Expected values come from the hour-of-week seasonal baseline (`ctx.baselines().get`) when it is
 * learned with confidence `high`; otherwise from this series' own recent minutes (median and MAD
 * with simple-statistics, computed once per minute tick, never per event).
 */

import { type ApiEvent, actorKey } from '@apiwatch/core';
import { median, medianAbsoluteDeviation } from 'simple-statistics';
import { type BaselineSnapshot, hourOfWeek, type RouteRef } from '../baselines/index.ts';
import { fnv1a, HOUR_MS, LinearCounter, MINUTE_MS, TopK } from '../bola/common.ts';

export const RING = 60;
export const HOURS = 48;

export interface RouteSeries {
  /** Epoch minute of the newest slot. */
  minute: number;
  requests: Uint32Array;
  errors: Uint32Array;
  /** Distinct callers per minute (linear counting estimate, written when the minute closes). */
  callers: Uint16Array;
  /** Callers of the current minute. */
  current: LinearCounter;
  /** Minutes with data since the series started (capped at RING). */
  filled: number;
  hour: number;
  hourly: Uint32Array;
  hoursFilled: number;
  top: TopK;
}

export function newSeries(): RouteSeries {
  return {
    minute: -1,
    requests: new Uint32Array(RING),
    errors: new Uint32Array(RING),
    callers: new Uint16Array(RING),
    current: new LinearCounter(32),
    filled: 0,
    hour: -1,
    hourly: new Uint32Array(HOURS),
    hoursFilled: 0,
    top: new TopK(5),
  };
}

export const SERIES_BYTES = RING * 10 + HOURS * 4 + 32 + 200;

/** Moves the series to the minute of `ts`, zero-filling skipped minutes and hours. */
export function advanceSeries(s: RouteSeries, ts: number): void {
  const minute = Math.floor(ts / MINUTE_MS);
  const hour = Math.floor(ts / HOUR_MS);
  if (s.minute < 0) {
    s.minute = minute;
    s.hour = hour;
    return;
  }
  if (minute > s.minute) {
    s.callers[s.minute % RING] = Math.min(65535, s.current.estimate());
    s.current.clear();
    const steps = Math.min(RING, minute - s.minute);
    for (let i = 1; i <= steps; i++) {
      const slot = (s.minute + i) % RING;
      s.requests[slot] = 0;
      s.errors[slot] = 0;
      s.callers[slot] = 0;
    }
    s.filled = Math.min(RING, s.filled + (minute - s.minute));
    s.minute = minute;
  }
  if (hour > s.hour) {
    const steps = Math.min(HOURS, hour - s.hour);
    for (let i = 1; i <= steps; i++) s.hourly[(s.hour + i) % HOURS] = 0;
    s.hoursFilled = Math.min(HOURS, s.hoursFilled + (hour - s.hour));
    s.hour = hour;
  }
}

/**
 * The caller of the last event added, and its hash: the three route detectors add the same event
 * one after the other, so the actor key (a string built per call) is built and hashed once per
 * event instead of three times. Derived from the (immutable) event alone: nothing a replay sees.
 */
let lastEvent: ApiEvent | null = null;
let lastActor = '';
let lastHash = 0;

export function addToSeries(s: RouteSeries, event: ApiEvent): void {
  const slot = Math.floor(event.ts / MINUTE_MS) % RING;
  s.requests[slot]!++;
  if (event.response.status >= 500 || event.response.status === 0) s.errors[slot]!++;
  if (event !== lastEvent) {
    lastEvent = event;
    lastActor = actorKey(event);
    lastHash = fnv1a(lastActor);
  }
  const actor = lastActor;
  s.current.add(lastHash);
  s.top.add(actor);
  s.hourly[Math.floor(event.ts / HOUR_MS) % HOURS]!++;
}

/**
 * The `n` minutes ending with the series' newest minute (judged when that minute is complete,
 * i.e. before the series advances past it), newest first.
 */
export function lastMinutes(s: RouteSeries, field: Uint32Array | Uint16Array, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(field[(s.minute - i + RING * 4) % RING]!);
  return out;
}

/** Sum of the `n` minutes ending with the newest (as `lastMinutes`, without the array). */
export function sumLast(s: RouteSeries, field: Uint32Array | Uint16Array, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += field[(s.minute - i + RING * 4) % RING]!;
  return sum;
}

/** The minutes before that window (the recent baseline), newest first. */
export function historyMinutes(s: RouteSeries, field: Uint32Array | Uint16Array, window: number): number[] {
  const n = Math.min(s.filled + 1, RING) - window;
  if (n <= 0) return [];
  const out: number[] = [];
  for (let i = window; i < window + n; i++) out.push(field[(s.minute - i + RING * 4) % RING]!);
  return out;
}

export interface Expectation {
  /** Expected requests per minute. */
  perMinute: number;
  /** Robust σ of the sum of `n` minutes: Poisson noise plus the level's own spread. */
  sigma(n: number): number;
  kind: 'seasonal' | 'recent';
  confidence: 'high' | 'low';
  samples: number;
}

/**
 * What a minute of this route should hold at `ts`: the seasonal hour-of-week cell when learned,
 * else the median of the recent minutes before the window (needs `minRecentMinutes`), else null.
 * `minRecentPerMinute`: a caller that judges nothing whose recent level is below this rate gets
 * null without the median/MAD being computed when no recent minute reaches it (the median is at
 * most the maximum).
 */
export function expectation(
  s: RouteSeries,
  snapshot: BaselineSnapshot,
  route: RouteRef,
  ts: number,
  window: number,
  minRecentMinutes: number,
  minRecentPerMinute = 0,
): Expectation | null {
  const cell = snapshot.hasSeasonal(route) ? snapshot.get(route, hourOfWeek(ts)).requests : null;
  if (cell?.confidence === 'high') {
    const perMinute = cell.medianPerMinute;
    // The hour's level varies week to week by 1.4826·MAD (hourly totals): per minute, /60.
    const level = (1.4826 * cell.mad) / 60;
    const sigma = (n: number) => Math.sqrt(n * Math.max(perMinute, 1) + (n * level) ** 2);
    return { perMinute, sigma, kind: 'seasonal', confidence: 'high', samples: cell.samples };
  }
  const n = Math.min(s.filled + 1, RING) - window;
  if (Math.max(0, n) < minRecentMinutes) return null;
  if (minRecentPerMinute > 0) {
    let max = 0;
    for (let i = window; i < window + n; i++)
      max = Math.max(max, s.requests[(s.minute - i + RING * 4) % RING]!);
    if (max < minRecentPerMinute) return null;
  }
  const hist = historyMinutes(s, s.requests, window);
  const m = median(hist);
  const perMinuteSigma = Math.max(Math.sqrt(Math.max(m, 1)), 1.4826 * medianAbsoluteDeviation(hist));
  const sigma = (n: number) => perMinuteSigma * Math.sqrt(n);
  return { perMinute: m, sigma, kind: 'recent', confidence: 'low', samples: hist.length };
}

/** Requests in the same hour of the previous day (null before 24 h of series). */
export function sameHourYesterday(s: RouteSeries): number | null {
  if (s.hoursFilled < 24) return null;
  return s.hourly[(s.hour - 24 + HOURS * 4) % HOURS]!;
}
