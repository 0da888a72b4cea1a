import type { Store } from '@apiwatch/core';

/**
 * `high`: the value was learned from enough history (see each baseline's minimum). `low`: cold
 * start — too little history, and the value is the caller's static fallback.
 */
export type Confidence = 'high' | 'low';

/** Where a baseline value came from: the store's history, or the caller's static fallback. */
export type BaselineSource = 'history' | 'static';

/**
 * The tenant of a route's all-tenants seasonal key (routeSeasonal adds one per route): the route
 * as a whole, whatever tenant its callers belong to. Not a tenant name a token can carry.
 */
export const ANY_TENANT = '\u0001*';

/** A route as the baseline tables key it. */
export interface RouteRef {
  tenant: string;
  route: string;
  method: string;
}

/** The part of the store baselines use: read queries only. Baselines never write. */
export type BaselineQuerier = Pick<Store, 'query'>;

/** The history window a baseline reads: `[fromMs, toMs)`, event time, whole hours. */
export interface BaselineWindow {
  /** Start of the history, ms (inclusive). Rounded down to the hour. */
  fromMs: number;
  /** End of the history, ms (exclusive). Rounded down to the hour, so a partial hour is left out. */
  toMs: number;
  /** Only this tenant; omitted reads every tenant. */
  tenant?: string;
}

/** How many keys a query found and how many the cap kept. */
export interface KeyCount {
  /** Keys with data in the window. */
  found: number;
  /** Keys returned (the busiest `found` ones, up to the cap). */
  kept: number;
  /** `found - kept`: keys dropped by the cap. */
  dropped: number;
}

export const HOUR_MS = 3_600_000;
export const WEEK_HOURS = 168;

/** Hour of the week in UTC: 0 = Monday 00:00–00:59, 167 = Sunday 23:00–23:59. */
export function hourOfWeek(ms: number): number {
  // 1970-01-01 was a Thursday: hour 0 of the epoch is hour 72 of its week.
  return (((Math.floor(ms / HOUR_MS) + 72) % WEEK_HOURS) + WEEK_HOURS) % WEEK_HOURS;
}

/** Window bounds as whole-hour epoch seconds, the form the queries bind. */
export function windowParams(window: BaselineWindow): { fromS: number; toS: number; tenant: string } {
  const fromS = Math.floor(window.fromMs / HOUR_MS) * 3600;
  const toS = Math.floor(window.toMs / HOUR_MS) * 3600;
  if (!(toS > fromS)) throw new RangeError(`baseline window is empty: [${window.fromMs}, ${window.toMs})`);
  return { fromS, toS, tenant: window.tenant ?? '' };
}

export function keyCount(found: number, kept: number): KeyCount {
  return { found, kept, dropped: Math.max(0, found - kept) };
}

/** ClickHouse returns 64-bit integers as strings or numbers depending on settings. */
export function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(v);
}
