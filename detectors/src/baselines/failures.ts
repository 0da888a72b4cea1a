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
  /** 5xx answers over the same requests (the route's usual server-error share, volume.error_spike). */
  serverErrors: number;
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
 * window from baseline_route_minute; the window sums over every route give the overall auth-failure
 * rate in the same pass.
 */
export const AUTH_FAILURE_SQL = `
SELECT tenant, route, method,
       sum(requests) AS r,
       sum(auth_failures) AS f,
       sum(status_5xx) AS e,
       sum(sum(requests)) OVER () AS all_r,
       sum(sum(auth_failures)) OVER () AS all_f,
       count() OVER () AS found
FROM baseline_route_minute
WHERE minute >= toDateTime({fromS:UInt32}, 'UTC') AND minute < toDateTime({toS:UInt32}, 'UTC')
  AND ({tenant:String} = '' OR tenant = {tenant:String})
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
