import type { ActorClass } from './seasonal.ts';
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

/** Distinct objects one actor touches on a route in one hour, at peer percentiles. */
export interface ObjectPercentiles {
  p50: number;
  p95: number;
  p99: number;
}

export interface ObjectPeerOptions extends BaselineWindow {
  /**
   * Distinct actors a route needs before its percentiles are trusted; below it the values are the
   * static fallback with confidence `low`. Default 20.
   */
  minActors?: number;
  /** Only actors of this class (e.g. `user`); omitted compares every actor on the route. */
  actorClass?: ActorClass;
  /** Routes kept, those with most actors first; the rest are counted as dropped. Default 2000. */
  maxKeys?: number;
  /** Percentiles assumed for a route with too few actors (cold start). */
  fallback: ObjectPercentiles;
}

export interface ObjectPeerBaseline extends RouteRef, ObjectPercentiles {
  /** The most distinct objects any actor touched in one hour (historical maximum). */
  max: number;
  /** Distinct actors behind the percentiles. */
  samples: number;
  /** (actor, hour) pairs behind the percentiles. */
  observations: number;
  confidence: Confidence;
  source: BaselineSource;
}

export interface ObjectPeerResult {
  baselines: ObjectPeerBaseline[];
  keys: KeyCount;
  queryMs: number;
}

export const OBJECT_PEER_DEFAULTS = { minActors: 20, maxKeys: 2000 } as const;

/**
 * Per route: for every (actor, hour) the distinct object ids it touched (`uniqMerge` of the
 * `objects` state in baseline_actor_route_hour), then exact p50/p95/p99 of those counts across
 * the route's actor-hours. Routes whose calls carry no object ids have no rows. For BOLA
 * enumeration: one actor touching far more objects in an hour than its peers ever do.
 */
export const OBJECT_PEER_SQL = `
SELECT tenant, route, method,
       quantilesExactInclusive(0.5, 0.95, 0.99)(o) AS q,
       max(o) AS top,
       count() AS observations,
       uniqExact(actor) AS actors,
       count() OVER () AS found
FROM (
    SELECT tenant, route, method, hour, actor, uniqMerge(objects) AS o
    FROM baseline_actor_route_hour
    WHERE hour >= toDateTime({fromS:UInt32}, 'UTC') AND hour < toDateTime({toS:UInt32}, 'UTC')
      AND ({tenant:String} = '' OR tenant = {tenant:String})
      AND ({actorClass:String} = '' OR actor_kind = {actorClass:String})
    GROUP BY tenant, route, method, hour, actor
    HAVING o > 0
)
GROUP BY tenant, route, method
ORDER BY actors DESC, tenant, route, method
LIMIT {maxKeys:UInt32}`;

interface PeerRow {
  tenant: string;
  route: string;
  method: string;
  q: Array<number | string>;
  top: number | string;
  observations: number | string;
  actors: number | string;
  found: number | string;
}

/** Peer percentiles of distinct objects per actor per route per hour. */
export async function objectPeerPercentiles(
  store: BaselineQuerier,
  options: ObjectPeerOptions,
): Promise<ObjectPeerResult> {
  const minActors = options.minActors ?? OBJECT_PEER_DEFAULTS.minActors;
  const t0 = performance.now();
  const rows = await store.query<PeerRow>(OBJECT_PEER_SQL, {
    ...windowParams(options),
    actorClass: options.actorClass ?? '',
    maxKeys: options.maxKeys ?? OBJECT_PEER_DEFAULTS.maxKeys,
  });
  const queryMs = performance.now() - t0;
  const baselines = rows.map((row): ObjectPeerBaseline => {
    const samples = num(row.actors);
    const high = samples >= minActors;
    const [p50, p95, p99] = row.q.map(num) as [number, number, number];
    return {
      tenant: row.tenant,
      route: row.route,
      method: row.method,
      ...(high ? { p50, p95, p99 } : options.fallback),
      max: num(row.top),
      samples,
      observations: num(row.observations),
      confidence: high ? 'high' : 'low',
      source: high ? 'history' : 'static',
    };
  });
  return { baselines, keys: keyCount(rows.length ? num(rows[0]!.found) : 0, rows.length), queryMs };
}
