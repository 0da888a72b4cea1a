import {
  type AuthFailureRate,
  authFailureRates,
  failureRate,
  type RouteAuthFailureRate,
  type WholeRouteErrors,
  wholeRouteServerErrors,
} from './failures.ts';
import { type ObjectOwner, OWNERSHIP_DEFAULTS, OwnershipTable, objectOwnership } from './ownership.ts';
import { type ObjectPeerBaseline, type ObjectPercentiles, objectPeerPercentiles } from './peers.ts';
import {
  type ActorClass,
  actorClassSeasonal,
  type RouteSeasonal,
  routeSeasonal,
  type SeasonalCell,
  type SeasonalFallback,
  type SeasonalSeries,
  seasonalCell,
  staticSeries,
} from './seasonal.ts';
import { ANY_TENANT, type BaselineQuerier, type Confidence, HOUR_MS, type RouteRef } from './types.ts';

export interface BaselineFallbacks {
  seasonal: SeasonalFallback;
  objects: ObjectPercentiles;
  /** Auth-failure rate (0–1). */
  authFailureRate: number;
}

export interface BaselineRefresherOptions {
  store: BaselineQuerier;
  /** Static values used at cold start and for keys without history. */
  fallback: BaselineFallbacks;
  /** Seconds between refreshes. Default 300. */
  refreshSeconds?: number;
  /** History read by each refresh, weeks back from the last whole hour. Default 4. */
  lookbackWeeks?: number;
  /** Weeks of history an hour of the week needs for confidence `high`. Default 2. */
  minWeeks?: number;
  /** Actors a route needs for its object percentiles to be trusted. Default 20. */
  minActors?: number;
  /** Requests a route needs for its auth-failure rate to be trusted. Default 1000. */
  minRequests?: number;
  /**
   * Cap on keys per baseline: routes (seasonal, objects, failure rates) and (route, actor class)
   * pairs. The busiest are kept; the rest read as the fallback and are counted in
   * `stats().droppedKeys`. A seasonal key holds ~3 KiB, so the default costs at most ~25 MiB. Default 2000.
   */
  maxKeys?: number;
  /** Only this tenant. */
  tenant?: string;
  /**
   * Object ownership (bola.cross_principal) is re-read when the history end crosses a multiple of
   * this (event time): it is a habit of days, and one scan of the window's events per refresh
   * would dominate an hourly refresh. Default 360 (every 6 h).
   */
  ownershipRefreshMinutes?: number;
  /** Cap on objects in the ownership table (the most recently used kept). Default 500,000. */
  maxObjects?: number;
  /** Event-time clock, ms; the history ends at its last whole hour. Default `Date.now`. */
  now?: () => number;
  /** Called when a refresh fails; the previous snapshot stays in use. */
  onError?: (error: Error) => void;
}

export interface BaselineRefresherStats {
  refreshes: number;
  failures: number;
  /** Event time the current snapshot's history ends at, ms; 0 before the first refresh. */
  historyEndMs: number;
  /** Wall time of the last successful refresh: queries, and median/MAD over every key. */
  lastRefreshMs: number;
  lastQueryMs: number;
  lastComputeMs: number;
  /** Keys held in the current snapshot. */
  keys: {
    routes: number;
    actorClasses: number;
    objectRoutes: number;
    failureRoutes: number;
    ownedObjects: number;
  };
  /** Bytes of the ownership table. */
  ownershipBytes: number;
  /** Wall time of the last ownership query (0 when the refresh reused the table). */
  lastOwnershipQueryMs: number;
  /** Keys dropped by `maxKeys` in the last refresh. */
  droppedKeys: number;
  /** Keys dropped by `maxKeys` over every refresh. */
  droppedKeysTotal: number;
}

/** Seasonal baseline of one route at one hour of the week. */
export interface RouteHourBaseline {
  requests: SeasonalCell;
  actors: SeasonalCell;
}

const routeId = (r: RouteRef) => `${r.tenant}\u0000${r.method}\u0000${r.route}`;

/** A route's historical server-error (5xx) share. */
export interface ServerErrorRate {
  requests: number;
  serverErrors: number;
  /** The usual 5xx share: the median of the days' shares (0 without history), robust to an incident day. */
  rate: number;
  confidence: Confidence;
}

/**
 * An immutable view of every baseline at one refresh. Detectors read it synchronously; a key it
 * does not hold (new, or dropped by the cap) reads as the static fallback with confidence `low`.
 */
export class BaselineSnapshot {
  /** Event time the history ends at (exclusive), ms. */
  readonly historyEndMs: number;
  private readonly routes: ReadonlyMap<string, RouteSeasonal>;
  /** Each route over all its tenants (tenant ANY_TENANT). */
  private readonly wholeRoutes: ReadonlyMap<string, RouteSeasonal>;
  private readonly classes: ReadonlyMap<string, RouteSeasonal>;
  private readonly objects: ReadonlyMap<string, ObjectPeerBaseline>;
  private readonly failures: ReadonlyMap<string, RouteAuthFailureRate>;
  /** Requests and 5xx per route over all its tenants (key: routeId with tenant ANY_TENANT). */
  private readonly wholeErrors: ReadonlyMap<
    string,
    { requests: number; serverErrors: number; share: number }
  >;
  private readonly overall: AuthFailureRate;
  private readonly fallback: BaselineFallbacks;
  private readonly staticRequests: SeasonalSeries;
  private readonly staticActors: SeasonalSeries;
  private readonly minRequests: number;
  private readonly ownership: OwnershipTable;

  constructor(parts: {
    historyEndMs: number;
    ownership?: OwnershipTable;
    routes: ReadonlyMap<string, RouteSeasonal>;
    wholeRoutes?: ReadonlyMap<string, RouteSeasonal>;
    wholeErrors?: readonly WholeRouteErrors[];
    classes: ReadonlyMap<string, RouteSeasonal>;
    objects: ReadonlyMap<string, ObjectPeerBaseline>;
    failures: ReadonlyMap<string, RouteAuthFailureRate>;
    overall: AuthFailureRate;
    fallback: BaselineFallbacks;
    minWeeks: number;
    minRequests: number;
  }) {
    this.historyEndMs = parts.historyEndMs;
    this.routes = parts.routes;
    this.wholeRoutes = parts.wholeRoutes ?? new Map();
    this.classes = parts.classes;
    this.objects = parts.objects;
    this.failures = parts.failures;
    this.wholeErrors = new Map(
      (parts.wholeErrors ?? []).map((w) => [
        routeId({ tenant: ANY_TENANT, route: w.route, method: w.method }),
        { requests: w.requests, serverErrors: w.serverErrors, share: w.dayShare },
      ]),
    );
    this.overall = Object.freeze(parts.overall);
    this.fallback = parts.fallback;
    this.minRequests = parts.minRequests;
    this.ownership = parts.ownership ?? OwnershipTable.EMPTY;
    this.staticRequests = staticSeries(parts.fallback.seasonal.requestsPerHour, parts.minWeeks);
    this.staticActors = staticSeries(parts.fallback.seasonal.actorsPerHour, parts.minWeeks);
    Object.freeze(this);
  }

  /**
   * An empty snapshot: every read is the fallback. With `ownership`, only object ownership is
   * known (a tool or test that reads ownership alone, objectOwnership()).
   */
  static empty(
    fallback: BaselineFallbacks,
    minWeeks: number,
    minRequests: number,
    ownership?: OwnershipTable,
  ): BaselineSnapshot {
    return new BaselineSnapshot({
      historyEndMs: 0,
      ...(ownership ? { ownership } : {}),
      routes: new Map(),
      classes: new Map(),
      objects: new Map(),
      failures: new Map(),
      overall: failureRate(0, 0, minRequests, fallback.authFailureRate),
      fallback,
      minWeeks,
      minRequests,
    });
  }

  /**
   * Requests and active actors per hour on a route at an hour of the week (see `hourOfWeek`);
   * with tenant ANY_TENANT, the route over all its tenants.
   */
  get(route: RouteRef, hourOfWeek: number): RouteHourBaseline {
    const map = route.tenant === ANY_TENANT ? this.wholeRoutes : this.routes;
    return this.cells(map.get(routeId(route)), hourOfWeek);
  }

  /**
   * Whether the route has a seasonal series of its own. Without one, `get` answers from the
   * static fallback, whose cells have no samples and are never of confidence `high`: a per-minute
   * caller can skip the hour-of-week lookups.
   */
  hasSeasonal(route: RouteRef): boolean {
    const map = route.tenant === ANY_TENANT ? this.wholeRoutes : this.routes;
    return map.has(routeId(route));
  }

  /** The same, for the actors of one class on the route. */
  actorClass(route: RouteRef, actorClass: ActorClass, hourOfWeek: number): RouteHourBaseline {
    return this.cells(this.classes.get(`${routeId(route)}\u0000${actorClass}`), hourOfWeek);
  }

  /** Peer percentiles of distinct objects per actor per hour on a route. */
  objectPeers(route: RouteRef): Readonly<ObjectPeerBaseline> {
    return (
      this.objects.get(routeId(route)) ?? {
        ...route,
        ...this.fallback.objects,
        max: 0,
        samples: 0,
        observations: 0,
        confidence: 'low',
        source: 'static',
      }
    );
  }

  /** Historical auth-failure rate on a route. */
  authFailureRate(route: RouteRef): Readonly<AuthFailureRate> {
    return (
      this.failures.get(routeId(route)) ?? failureRate(0, 0, this.minRequests, this.fallback.authFailureRate)
    );
  }

  /**
   * A route's usual 5xx share (the median of its days' shares, the same window as the auth-failure rate);
   * `confidence` is `high` with at least `minRequests` requests behind it. A route the snapshot does
   * not hold has no history: zero requests. With tenant ANY_TENANT, the route over all its tenants.
   */
  serverErrorRate(route: RouteRef): Readonly<ServerErrorRate> {
    const id = routeId(route);
    const w = route.tenant === ANY_TENANT ? this.wholeErrors.get(id) : undefined;
    const f = route.tenant === ANY_TENANT ? undefined : this.failures.get(id);
    const requests = w?.requests ?? f?.requests ?? 0;
    const serverErrors = w?.serverErrors ?? f?.serverErrors ?? 0;
    return {
      requests,
      serverErrors,
      rate: w ? w.share : (f?.serverErrorDayShare ?? 0),
      confidence: requests >= this.minRequests && requests > 0 ? 'high' : 'low',
    };
  }

  /**
   * The one owner of an object (route, primary id name and value) over the history, or null:
   * new, used by two owners (shared), or dropped by the cap (see ownership.ts).
   */
  objectOwner(route: string, name: string, value: string): ObjectOwner | null {
    return this.ownership.lookup(route, name, value);
  }

  /** The ownership table itself (a later snapshot reuses it between ownership refreshes). */
  get ownershipTable(): OwnershipTable {
    return this.ownership;
  }

  /** Historical auth-failure rate over every route. */
  overallAuthFailureRate(): Readonly<AuthFailureRate> {
    return this.overall;
  }

  get size(): {
    routes: number;
    actorClasses: number;
    objectRoutes: number;
    failureRoutes: number;
    ownedObjects: number;
  } {
    return {
      routes: this.routes.size,
      actorClasses: this.classes.size,
      objectRoutes: this.objects.size,
      failureRoutes: this.failures.size,
      ownedObjects: this.ownership.size,
    };
  }

  private cells(key: RouteSeasonal | undefined, how: number): RouteHourBaseline {
    return {
      requests: seasonalCell(key?.requests ?? this.staticRequests, how),
      actors: seasonalCell(key?.actors ?? this.staticActors, how),
    };
  }
}

/**
 * Re-reads the baselines from the store every `refreshSeconds` and swaps in a new immutable
 * snapshot. Median/MAD run per key per tick, never per event (docs/performance.md §4). A failed
 * refresh keeps the previous snapshot and is counted.
 */
export class BaselineRefresher {
  private readonly options: BaselineRefresherOptions;
  private readonly minWeeks: number;
  private readonly minRequests: number;
  private current: BaselineSnapshot;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private closed = false;
  /** The ownership boundary (history end / ownershipRefreshMinutes) the current table was read at. */
  private ownershipBoundary = Number.NaN;
  private readonly counters: BaselineRefresherStats;

  constructor(options: BaselineRefresherOptions) {
    const refreshSeconds = options.refreshSeconds ?? 300;
    if (!(refreshSeconds > 0)) throw new RangeError(`refreshSeconds must be > 0, got ${refreshSeconds}`);
    this.options = options;
    this.minWeeks = options.minWeeks ?? 2;
    this.minRequests = options.minRequests ?? 1000;
    this.current = BaselineSnapshot.empty(options.fallback, this.minWeeks, this.minRequests);
    this.counters = {
      refreshes: 0,
      failures: 0,
      historyEndMs: 0,
      lastRefreshMs: 0,
      lastQueryMs: 0,
      lastComputeMs: 0,
      keys: this.current.size,
      ownershipBytes: 0,
      lastOwnershipQueryMs: 0,
      droppedKeys: 0,
      droppedKeysTotal: 0,
    };
  }

  /** The current snapshot; hold it for a batch of events, then ask again. */
  snapshot(): BaselineSnapshot {
    return this.current;
  }

  /** Shorthand for `snapshot().get(route, hourOfWeek)`. */
  get(route: RouteRef, hourOfWeek: number): RouteHourBaseline {
    return this.current.get(route, hourOfWeek);
  }

  stats(): Readonly<BaselineRefresherStats> {
    return { ...this.counters, keys: { ...this.counters.keys } };
  }

  /** Runs a first refresh (a failure is reported via onError, not thrown), then one per interval. */
  async start(): Promise<void> {
    if (this.timer || this.closed) return;
    await this.refreshOnce();
    const ms = (this.options.refreshSeconds ?? 300) * 1000;
    this.timer = setInterval(() => {
      if (!this.inFlight) void this.refreshOnce();
    }, ms);
    this.timer.unref();
  }

  /** Refreshes now (after any refresh in flight) and resolves when the new snapshot is in place. */
  async flush(): Promise<void> {
    if (this.inFlight) await this.inFlight;
    if (this.closed) return;
    await this.refreshOnce();
  }

  /** Stops the interval and waits for a refresh in flight. The last snapshot stays readable. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.inFlight) await this.inFlight;
  }

  private refreshOnce(): Promise<void> {
    const run = this.refresh()
      .catch((e: unknown) => {
        this.counters.failures++;
        this.options.onError?.(e instanceof Error ? e : new Error(String(e)));
      })
      .finally(() => {
        if (this.inFlight === run) this.inFlight = null;
      });
    this.inFlight = run;
    return run;
  }

  private async refresh(): Promise<void> {
    const o = this.options;
    const t0 = performance.now();
    const toMs = Math.floor((o.now ?? Date.now)() / HOUR_MS) * HOUR_MS;
    const window = {
      fromMs: toMs - (o.lookbackWeeks ?? 4) * 168 * HOUR_MS,
      toMs,
      ...(o.tenant !== undefined ? { tenant: o.tenant } : {}),
    };
    const maxKeys = o.maxKeys ?? 2000;
    const seasonalOptions = { ...window, minWeeks: this.minWeeks, maxKeys, fallback: o.fallback.seasonal };
    // One at a time: chDB runs queries on one session, and a server gains little from overlap here.
    const routes = await routeSeasonal(o.store, seasonalOptions);
    const classes = await actorClassSeasonal(o.store, seasonalOptions);
    const objects = await objectPeerPercentiles(o.store, {
      ...window,
      maxKeys,
      fallback: o.fallback.objects,
      ...(o.minActors !== undefined ? { minActors: o.minActors } : {}),
    });
    const failures = await authFailureRates(o.store, {
      ...window,
      maxKeys,
      minRequests: this.minRequests,
      fallbackRate: o.fallback.authFailureRate,
    });
    const whole = await wholeRouteServerErrors(o.store, { ...window, maxKeys });
    // Ownership: re-read when the history end crossed an ownership boundary (event time, so a
    // replay reads it at the same history ends every run), else the previous table carries over.
    const ownEvery = (o.ownershipRefreshMinutes ?? 360) * 60_000;
    const ownBoundary = Math.floor(toMs / ownEvery);
    let ownership = this.current.ownershipTable;
    let ownRead = { queryMs: 0, dropped: 0 };
    if (ownBoundary !== this.ownershipBoundary) {
      const r = await objectOwnership(o.store, {
        ...window,
        maxObjects: o.maxObjects ?? OWNERSHIP_DEFAULTS.maxObjects,
      });
      ownership = r.table;
      ownRead = { queryMs: r.queryMs, dropped: r.keys.dropped };
      this.ownershipBoundary = ownBoundary;
    }
    const next = new BaselineSnapshot({
      historyEndMs: toMs,
      ownership,
      wholeErrors: whole.routes,
      routes: new Map(routes.baselines.map((b) => [routeId(b), b])),
      wholeRoutes: new Map((routes.allTenants ?? []).map((b) => [routeId(b), b])),
      classes: new Map(classes.baselines.map((b) => [`${routeId(b)}\u0000${b.actorClass}`, b])),
      objects: new Map(objects.baselines.map((b) => [routeId(b), Object.freeze(b)])),
      failures: new Map(failures.routes.map((b) => [routeId(b), Object.freeze(b)])),
      overall: failures.overall,
      fallback: o.fallback,
      minWeeks: this.minWeeks,
      minRequests: this.minRequests,
    });
    this.current = next;
    const dropped =
      routes.keys.dropped +
      classes.keys.dropped +
      objects.keys.dropped +
      failures.keys.dropped +
      ownRead.dropped;
    const c = this.counters;
    c.refreshes++;
    c.historyEndMs = toMs;
    c.lastQueryMs =
      routes.queryMs + classes.queryMs + objects.queryMs + failures.queryMs + whole.queryMs + ownRead.queryMs;
    c.lastComputeMs = routes.computeMs + classes.computeMs;
    c.lastRefreshMs = performance.now() - t0;
    c.keys = next.size;
    c.ownershipBytes = ownership.bytes;
    c.lastOwnershipQueryMs = ownRead.queryMs;
    c.droppedKeys = dropped;
    c.droppedKeysTotal += dropped;
  }
}
