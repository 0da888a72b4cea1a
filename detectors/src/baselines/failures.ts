import {
  type BaselineQuerier,
  type BaselineSource,
  type BaselineWindow,
  type Confidence,
  type KeyCount,
  keyCount,
  num,
  type RouteRef,
  windowParams,
} from './types.ts';

export interface AuthFailureOptions extends BaselineWindow {
  /** Requests a route (or the whole) needs before its rate is trusted. Default 1000. */
  minRequests?: number;
  /** Routes kept, busiest first; the rest are counted as dropped (they still count in `overall`). Default 2000. */
  maxKeys?: number;
  /** Auth-failure rate (0–1) assumed with too little traffic (cold start). */
  fallbackRate: number;
}

/** Authentication failures over requests. */
export interface AuthFailureRate {
  /** `authFailures / requests` from history, or the fallback rate when confidence is low. */
  rate: number;
  requests: number;
  authFailures: number;
  /** Requests behind the rate. */
  samples: number;
  confidence: Confidence;
  source: BaselineSource;
}

export interface RouteAuthFailureRate extends RouteRef, AuthFailureRate {
  /** 5xx answers over the same requests (volume.error_spike). */
  serverErrors: number;
  /**
   * Median over the window's days (with traffic) of the day's 5xx share: the route's usual share,
   * robust to an incident day (a day of outage does not make failing normal).
   */
  serverErrorDayShare: number;
}

export interface AuthFailureResult {
  routes: RouteAuthFailureRate[];
  /** Every route in the window (and tenant, when given), including routes the cap dropped. */
  overall: AuthFailureRate;
  keys: KeyCount;
  queryMs: number;
}

export const AUTH_FAILURE_DEFAULTS = { minRequests: 1000, maxKeys: 2000 } as const;

/**
 * Per route: requests, authentication failures (`auth = 'failure'`) and 5xx answers summed over the
 * window from baseline_route_minute (by day first, for the median daily 5xx share); the window sums
 * over every route give the overall auth-failure rate in the same pass.
 */
export const AUTH_FAILURE_SQL = `
SELECT tenant, route, method,
       sum(rd) AS r,
       sum(fd) AS f,
       sum(ed) AS e,
       quantileExact(0.5)(ed / rd) AS e_day,
       sum(sum(rd)) OVER () AS all_r,
       sum(sum(fd)) OVER () AS all_f,
       count() OVER () AS found
FROM (
    SELECT tenant, route, method, toStartOfDay(minute) AS d,
           sum(requests) AS rd, sum(auth_failures) AS fd, sum(status_5xx) AS ed
    FROM baseline_route_minute
    WHERE minute >= toDateTime({fromS:UInt32}, 'UTC') AND minute < toDateTime({toS:UInt32}, 'UTC')
      AND ({tenant:String} = '' OR tenant = {tenant:String})
    GROUP BY tenant, route, method, d
    HAVING rd > 0
)
GROUP BY tenant, route, method
ORDER BY r DESC, tenant, route, method
LIMIT {maxKeys:UInt32}`;

interface FailureRow {
  tenant: string;
  route: string;
  method: string;
  r: number | string;
  f: number | string;
  e: number | string;
  e_day: number | string;
  all_r: number | string;
  all_f: number | string;
  found: number | string;
}

/** Historical authentication-failure rates per route and overall. */
export async function authFailureRates(
  store: BaselineQuerier,
  options: AuthFailureOptions,
): Promise<AuthFailureResult> {
  const minRequests = options.minRequests ?? AUTH_FAILURE_DEFAULTS.minRequests;
  const t0 = performance.now();
  const rows = await store.query<FailureRow>(AUTH_FAILURE_SQL, {
    ...windowParams(options),
    maxKeys: options.maxKeys ?? AUTH_FAILURE_DEFAULTS.maxKeys,
  });
  const queryMs = performance.now() - t0;
  const rate = (requests: number, authFailures: number) =>
    failureRate(requests, authFailures, minRequests, options.fallbackRate);
  const routes = rows.map(
    (row): RouteAuthFailureRate => ({
      tenant: row.tenant,
      route: row.route,
      method: row.method,
      ...rate(num(row.r), num(row.f)),
      serverErrors: num(row.e),
      serverErrorDayShare: num(row.e_day),
    }),
  );
  const first = rows[0];
  return {
    routes,
    overall: first ? rate(num(first.all_r), num(first.all_f)) : rate(0, 0),
    keys: keyCount(first ? num(first.found) : 0, rows.length),
    queryMs,
  };
}

export function failureRate(
  requests: number,
  authFailures: number,
  minRequests: number,
  fallbackRate: number,
): AuthFailureRate {
  const high = requests >= minRequests && requests > 0;
  return {
    rate: high ? authFailures / requests : fallbackRate,
    requests,
    authFailures,
    samples: requests,
    confidence: high ? 'high' : 'low',
    source: high ? 'history' : 'static',
  };
}

/**
 * Per route over all its tenants: requests, 5xx answers and the median over the window's days
 * (with traffic) of the day's 5xx share — the route's usual share, robust to an incident day.
 */
export const WHOLE_ROUTE_ERRORS_SQL = `
SELECT route, method,
       sum(rd) AS r,
       sum(ed) AS e,
       quantileExact(0.5)(ed / rd) AS e_day
FROM (
    SELECT route, method, toStartOfDay(minute) AS d, sum(requests) AS rd, sum(status_5xx) AS ed
    FROM baseline_route_minute
    WHERE minute >= toDateTime({fromS:UInt32}, 'UTC') AND minute < toDateTime({toS:UInt32}, 'UTC')
      AND ({tenant:String} = '' OR tenant = {tenant:String})
    GROUP BY route, method, d
    HAVING rd > 0
)
GROUP BY route, method
ORDER BY r DESC, route, method
LIMIT {maxKeys:UInt32}`;

export interface WholeRouteErrors {
  route: string;
  method: string;
  requests: number;
  serverErrors: number;
  /** Median of the days' 5xx shares. */
  dayShare: number;
}

/** The usual 5xx share of each route over all its tenants (volume.error_spike). */
export async function wholeRouteServerErrors(
  store: BaselineQuerier,
  options: BaselineWindow & { maxKeys?: number },
): Promise<{ routes: WholeRouteErrors[]; queryMs: number }> {
  const t0 = performance.now();
  const rows = await store.query<{
    route: string;
    method: string;
    r: number | string;
    e: number | string;
    e_day: number | string;
  }>(WHOLE_ROUTE_ERRORS_SQL, {
    ...windowParams(options),
    maxKeys: options.maxKeys ?? AUTH_FAILURE_DEFAULTS.maxKeys,
  });
  return {
    routes: rows.map((row) => ({
      route: row.route,
      method: row.method,
      requests: num(row.r),
      serverErrors: num(row.e),
      dayShare: num(row.e_day),
    })),
    queryMs: performance.now() - t0,
  };
}
