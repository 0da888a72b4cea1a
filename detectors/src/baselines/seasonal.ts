import { median, medianAbsoluteDeviation } from 'simple-statistics';
import {
  ANY_TENANT,
  type BaselineQuerier,
  type BaselineSource,
  type BaselineWindow,
  type Confidence,
  hourOfWeek,
  type KeyCount,
  keyCount,
  num,
  type RouteRef,
  WEEK_HOURS,
  windowParams,
} from './types.ts';

/** A static level the caller expects when there is too little history (cold start). */
export interface StaticLevel {
  /** Expected value per hour. */
  median: number;
  /** Expected median absolute deviation per hour (raw, not scaled to σ). */
  mad: number;
}

export interface SeasonalFallback {
  /** Requests per hour assumed for an hour of the week with too little history. */
  requestsPerHour: StaticLevel;
  /** Distinct active actors per hour assumed for an hour of the week with too little history. */
  actorsPerHour: StaticLevel;
}

export interface SeasonalOptions extends BaselineWindow {
  /**
   * Observations (weeks) an hour of the week needs before its median is trusted; below it the
   * cell is the static fallback with confidence `low`. Default 2.
   */
  minWeeks?: number;
  /** Keys kept, busiest (most requests in the window) first; the rest are counted as dropped. Default 2000. */
  maxKeys?: number;
  fallback: SeasonalFallback;
}

/**
 * One measure over the 168 hours of the week, packed (a route holds two of these: ~3 KiB). Where
 * an hour had fewer than `minWeeks` observations, `median`/`mad` hold the static fallback.
 */
export interface SeasonalSeries {
  /** Per hour of the week: median of the hourly values over the weeks observed. */
  readonly median: Float32Array;
  /** Per hour of the week: median absolute deviation of those values (raw; ×1.4826 ≈ σ). */
  readonly mad: Float32Array;
  /** Per hour of the week: how many weeks were observed. */
  readonly samples: Uint8Array;
  readonly minWeeks: number;
}

/** One hour of the week of a series, as detectors read it. */
export interface SeasonalCell {
  hourOfWeek: number;
  /** Per hour. */
  median: number;
  mad: number;
  /** `median / 60`: the expected rate per minute in this hour. */
  medianPerMinute: number;
  /** Weeks of history behind this hour of the week. */
  samples: number;
  confidence: Confidence;
  source: BaselineSource;
}

export interface RouteSeasonal extends RouteRef {
  /** First hour with data in the window: the history of this key starts there. */
  firstHourMs: number;
  /** Requests per hour. */
  requests: SeasonalSeries;
  /** Distinct actors per hour. */
  actors: SeasonalSeries;
}

/**
 * The actor class is the kind of the actor key (`actor_kind` in baseline_actor_route_hour): how
 * the acting principal was identified — `credential` (an API key or other credential
 * fingerprint), `user` (a user, e.g. a JWT subject), `service` (a calling workload, e.g. mTLS),
 * `ip` (no usable identity, and every failed authentication, whose claimed identity is unverified).
 */
export type ActorClass = 'credential' | 'user' | 'service' | 'ip';
export const ACTOR_CLASSES: readonly ActorClass[] = ['credential', 'user', 'service', 'ip'];

export interface ActorClassSeasonal extends RouteSeasonal {
  actorClass: ActorClass;
}

export interface SeasonalResult<T> {
  baselines: T[];
  /** routeSeasonal only: every route over all its tenants, keyed with tenant ANY_TENANT. */
  allTenants?: T[];
  keys: KeyCount;
  /** Time the query took, ms. */
  queryMs: number;
  /** Time median/MAD took over every key, ms. */
  computeMs: number;
}

export const SEASONAL_DEFAULTS = { minWeeks: 2, maxKeys: 2000 } as const;

/**
 * Requests and distinct actors per hour of the week, per route, from `baseline_route_minute`:
 * hourly sums over the window (`sum` of the SimpleAggregateFunction counters, `uniqMerge` of the
 * actor states), then per hour of the week the median and MAD over the weeks. Hours without rows
 * count as 0 from the key's first hour with data to the end of the window.
 */
export const ROUTE_SEASONAL_SQL = `
SELECT tenant, route, method,
       groupArray((toUInt32(h), r, a)) AS hours,
       sum(r) AS total,
       count() OVER () AS found
FROM (
    SELECT tenant, route, method, toStartOfHour(minute) AS h,
           sum(requests) AS r, uniqMerge(actors) AS a
    FROM baseline_route_minute
    WHERE minute >= toDateTime({fromS:UInt32}, 'UTC') AND minute < toDateTime({toS:UInt32}, 'UTC')
      AND ({tenant:String} = '' OR tenant = {tenant:String})
    GROUP BY tenant, route, method, h
)
GROUP BY tenant, route, method
ORDER BY total DESC, tenant, route, method
LIMIT {maxKeys:UInt32}`;

/**
 * Requests and distinct actors per hour of the week, per route and actor class, from
 * `baseline_actor_route_hour` (one row per actor and hour once merged).
 */
export const ACTOR_CLASS_SEASONAL_SQL = `
SELECT tenant, route, method, actor_kind,
       groupArray((toUInt32(hour), r, a)) AS hours,
       sum(r) AS total,
       count() OVER () AS found
FROM (
    SELECT tenant, route, method, actor_kind, hour,
           sum(requests) AS r, uniqExact(actor) AS a
    FROM baseline_actor_route_hour
    WHERE hour >= toDateTime({fromS:UInt32}, 'UTC') AND hour < toDateTime({toS:UInt32}, 'UTC')
      AND ({tenant:String} = '' OR tenant = {tenant:String})
    GROUP BY tenant, route, method, actor_kind, hour
)
GROUP BY tenant, route, method, actor_kind
ORDER BY total DESC, tenant, route, method, actor_kind
LIMIT {maxKeys:UInt32}`;

interface SeasonalRow {
  tenant: string;
  route: string;
  method: string;
  actor_kind?: string;
  hours: Array<[number | string, number | string, number | string]>;
  found: number | string;
}

/** Seasonal (hour-of-week) median and MAD of requests and active actors per route. */
export async function routeSeasonal(
  store: BaselineQuerier,
  options: SeasonalOptions,
): Promise<SeasonalResult<RouteSeasonal>> {
  const { rows, queryMs, toS } = await runSeasonal(store, ROUTE_SEASONAL_SQL, options);
  const t0 = performance.now();
  const minWeeks = options.minWeeks ?? SEASONAL_DEFAULTS.minWeeks;
  const baselines: RouteSeasonal[] = rows.map((row) => ({
    tenant: row.tenant,
    route: row.route,
    method: row.method,
    ...seasonalFromHours(row.hours, toS, minWeeks, options.fallback),
  }));
  // Every route once more over all its tenants (tenant ANY_TENANT): a route's own volume, for
  // detectors that judge the route as a whole (volume.route_drop). Hourly values are summed per
  // hour before the median, so the median is the route's, not a sum of tenants' medians.
  const merged = new Map<string, { route: string; method: string; hours: Map<number, [number, number]> }>();
  for (const row of rows) {
    const k = `${row.method}\u0000${row.route}`;
    let m = merged.get(k);
    if (!m) {
      m = { route: row.route, method: row.method, hours: new Map() };
      merged.set(k, m);
    }
    for (const [h, r, a] of row.hours) {
      const at = num(h);
      const v = m.hours.get(at);
      if (v) {
        v[0] += num(r);
        v[1] += num(a);
      } else m.hours.set(at, [num(r), num(a)]);
    }
  }
  const allTenants: RouteSeasonal[] = [];
  for (const m of merged.values())
    allTenants.push({
      tenant: ANY_TENANT,
      route: m.route,
      method: m.method,
      ...seasonalFromHours(
        [...m.hours].map(([h, [r, a]]) => [h, r, a] as const),
        toS,
        minWeeks,
        options.fallback,
      ),
    });
  return {
    baselines,
    allTenants,
    keys: keyCount(rows.length ? num(rows[0]!.found) : 0, rows.length),
    queryMs,
    computeMs: performance.now() - t0,
  };
}

/** Seasonal (hour-of-week) median and MAD of requests and active actors per route and actor class. */
export async function actorClassSeasonal(
  store: BaselineQuerier,
  options: SeasonalOptions,
): Promise<SeasonalResult<ActorClassSeasonal>> {
  const { rows, queryMs, toS } = await runSeasonal(store, ACTOR_CLASS_SEASONAL_SQL, options);
  const t0 = performance.now();
  const minWeeks = options.minWeeks ?? SEASONAL_DEFAULTS.minWeeks;
  const baselines: ActorClassSeasonal[] = [];
  for (const row of rows) {
    // A kind this code does not know (a newer actor key) is skipped rather than mislabelled.
    const actorClass = ACTOR_CLASSES.find((c) => c === row.actor_kind);
    if (!actorClass) continue;
    baselines.push({
      tenant: row.tenant,
      route: row.route,
      method: row.method,
      actorClass,
      ...seasonalFromHours(row.hours, toS, minWeeks, options.fallback),
    });
  }
  return {
    baselines,
    keys: keyCount(rows.length ? num(rows[0]!.found) : 0, rows.length),
    queryMs,
    computeMs: performance.now() - t0,
  };
}

async function runSeasonal(
  store: BaselineQuerier,
  sql: string,
  options: SeasonalOptions,
): Promise<{ rows: SeasonalRow[]; queryMs: number; toS: number }> {
  const window = windowParams(options);
  const maxKeys = options.maxKeys ?? SEASONAL_DEFAULTS.maxKeys;
  const t0 = performance.now();
  const rows = await store.query<SeasonalRow>(sql, { ...window, maxKeys });
  return { rows, queryMs: performance.now() - t0, toS: window.toS };
}

/**
 * Turns one key's hourly values into per-hour-of-week median/MAD: zero-fills the hours without
 * rows from the first hour with data to the window's end, then one median and one MAD per hour
 * of the week (a few values each — the per-key-per-tick cost docs/performance.md §4 budgets).
 */
export function seasonalFromHours(
  hours: ReadonlyArray<readonly [number | string, number | string, number | string]>,
  toS: number,
  minWeeks: number,
  fallback: SeasonalFallback,
): { firstHourMs: number; requests: SeasonalSeries; actors: SeasonalSeries } {
  let firstS = toS;
  const byHour = new Map<number, [number, number]>();
  for (const [h, r, a] of hours) {
    const s = num(h);
    if (s < firstS) firstS = s;
    byHour.set(s, [num(r), num(a)]);
  }
  const requests: number[][] = Array.from({ length: WEEK_HOURS }, () => []);
  const actors: number[][] = Array.from({ length: WEEK_HOURS }, () => []);
  for (let s = firstS; s < toS; s += 3600) {
    const how = hourOfWeek(s * 1000);
    const v = byHour.get(s);
    requests[how]!.push(v ? v[0] : 0);
    actors[how]!.push(v ? v[1] : 0);
  }
  return {
    firstHourMs: firstS * 1000,
    requests: seriesOf(requests, minWeeks, fallback.requestsPerHour),
    actors: seriesOf(actors, minWeeks, fallback.actorsPerHour),
  };
}

function seriesOf(values: number[][], minWeeks: number, fallback: StaticLevel): SeasonalSeries {
  const med = new Float32Array(WEEK_HOURS);
  const mad = new Float32Array(WEEK_HOURS);
  const samples = new Uint8Array(WEEK_HOURS);
  for (let how = 0; how < WEEK_HOURS; how++) {
    const v = values[how]!;
    samples[how] = Math.min(255, v.length);
    if (v.length < minWeeks || v.length === 0) {
      med[how] = fallback.median;
      mad[how] = fallback.mad;
    } else {
      med[how] = median(v);
      mad[how] = medianAbsoluteDeviation(v);
    }
  }
  return { median: med, mad, samples, minWeeks };
}

/** One hour of the week of a series. */
export function seasonalCell(series: SeasonalSeries, how: number): SeasonalCell {
  if (!Number.isInteger(how) || how < 0 || how >= WEEK_HOURS) throw new RangeError(`hour of week ${how}`);
  const samples = series.samples[how]!;
  const high = samples >= series.minWeeks && samples > 0;
  const m = series.median[how]!;
  return {
    hourOfWeek: how,
    median: m,
    mad: series.mad[how]!,
    medianPerMinute: m / 60,
    samples,
    confidence: high ? 'high' : 'low',
    source: high ? 'history' : 'static',
  };
}

/** The fallback series for a key with no history at all. */
export function staticSeries(level: StaticLevel, minWeeks: number): SeasonalSeries {
  return {
    median: new Float32Array(WEEK_HOURS).fill(level.median),
    mad: new Float32Array(WEEK_HOURS).fill(level.mad),
    samples: new Uint8Array(WEEK_HOURS),
    minWeeks,
  };
}
