import {
  type BaselineQuerier,
  type BaselineWindow,
  type KeyCount,
  keyCount,
  num,
  windowParams,
} from './types.ts';

/**
 * Object ownership learned from the event store (bola.cross_principal, docs/decisions/0027):
 * every object id — a route's primary object, its last path id, else its first query id — that
 * exactly one owner used successfully over the history window. The owner is one principal
 * (`user:…`, `credential:…`), or `tenant:…` when the call addresses a tenant in its path or query
 * (the object belongs to the tenant it lives under). Workloads (service principals) neither own
 * objects nor make them shared, anonymous calls and refusals do not count. An object two owners
 * used is shared and left out: that includes every object after a first foreign access (the
 * accessor's calls are in the store too), so a hand-over or a delegation is judged once.
 */
export interface OwnershipOptions extends BaselineWindow {
  /** Successful calls an object needs to be kept (the detector's own minimum applies on top). Default 2. */
  minCalls?: number;
  /** Time between its first and last call an object needs to be kept, seconds. Default 3600. */
  minSpanSeconds?: number;
  /** Objects kept, the most recently used first; the rest are counted as dropped. Default 500,000 (~12 MiB). */
  maxObjects?: number;
}

export const OWNERSHIP_DEFAULTS = { minCalls: 2, minSpanSeconds: 3600, maxObjects: 500_000 } as const;

/**
 * Parameter names that say "tenant" outright, as RE2 (case-insensitive): bola.cross_tenant's
 * `isTenantParam` (a unit test holds the two equal). A tenant parameter is never the object.
 */
export const TENANT_PARAM_RE2 =
  '(?i)^(tenant|tenants|org|orgs|organi[sz]ation|workspace|company)([-_]?(id|slug|name|key))?$';

/**
 * The store keeps an event's object ids as two arrays, path ids first in the route's order
 * (the `path` alias of api_events rebuilds the path from them), then query ids. The primary
 * object is the last non-tenant id among the first `np` (path parameters in the route), else the
 * first non-tenant query id — the detector's `primaryObject` on the event itself.
 */
export const OWNERSHIP_SQL = `
SELECT route, name, value, owner, owner_tenant, calls, first_ms, last_ms, count() OVER () AS found
FROM (
    SELECT route, name, value,
           uniqExact(o_owner) AS owners, any(o_owner) AS owner, any(o_tenant) AS owner_tenant,
           count() AS calls,
           toUnixTimestamp64Milli(min(ts)) AS first_ms, toUnixTimestamp64Milli(max(ts)) AS last_ms
    FROM (
        SELECT route, ts, object_names, object_ids,
               length(extractAll(route, '\\\\{[^}]+\\\\}')) AS np,
               arrayFilter(i -> NOT match(object_names[i], {tenantRe:String}), arrayEnumerate(object_ids)) AS nt,
               arrayFilter(i -> i <= np, nt) AS path_idx,
               if(length(path_idx) > 0, path_idx[-1], arrayFirst(i -> i > np, nt)) AS pick,
               arrayFirstIndex(n -> match(n, {tenantRe:String}), object_names) AS ti,
               object_names[pick] AS name, object_ids[pick] AS value,
               if(ti > 0, concat('tenant:', lower(trim(BOTH ' ' FROM object_ids[ti]))),
                  if(user != '', concat('user:', user), concat('credential:', credential_fingerprint))) AS o_owner,
               if(ti > 0, lower(trim(BOTH ' ' FROM object_ids[ti])), tenant) AS o_tenant
        FROM api_events
        WHERE ts >= toDateTime64({fromS:UInt32}, 3, 'UTC') AND ts < toDateTime64({toS:UInt32}, 3, 'UTC')
          AND ({tenant:String} = '' OR tenant = {tenant:String})
          AND route != '' AND status >= 200 AND status < 300 AND auth = 'success'
          AND (user != '' OR (service = '' AND credential != 0)) AND notEmpty(object_ids)
    )
    WHERE pick > 0
    GROUP BY route, name, value
    HAVING owners = 1 AND calls >= {minCalls:UInt32} AND last_ms - first_ms >= {minSpanMs:UInt64}
)
ORDER BY last_ms DESC, route, name, value
LIMIT {maxObjects:UInt32}`;

interface OwnershipRow {
  route: string;
  name: string;
  value: string;
  owner: string;
  owner_tenant: string;
  calls: number | string;
  first_ms: number | string;
  last_ms: number | string;
  found: number | string;
}

/** What the table knows of one object. */
export interface ObjectOwner {
  /** `user:…`, `credential:…` or `tenant:…`. */
  owner: string;
  /** The owner's token tenant (a principal), or the tenant itself; null when it had none. */
  ownerTenant: string | null;
  /** The owner's successful calls on the object in the history, and the first and last of them (ms). */
  calls: number;
  first: number;
  last: number;
}

const TWO_21 = 2 ** 21;

/**
 * A 53-bit hash of an object (route, id name, id value): two FNV-1a passes with different
 * offsets. ~1 in 10^5 chance of any collision among a million objects (birthday bound).
 */
export function objectHash(route: string, name: string, value: string): number {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x9e3779b9;
  const mix = (s: string) => {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995);
      b ^= b >>> 15;
    }
    a = Math.imul(a ^ 0, 0x01000193);
    b = Math.imul(b ^ 0, 0x5bd1e995);
  };
  mix(route);
  mix(name);
  mix(value);
  return (a >>> 0) * TWO_21 + ((b >>> 0) >>> 11);
}

/**
 * Objects with one owner, packed: a sorted array of object hashes (binary search) and parallel
 * typed arrays; owners are indices into one table of distinct owner strings (a principal owns
 * many objects). ~24 B per object plus the owner table: a million objects fit in ~24 MiB.
 */
export class OwnershipTable {
  private readonly hashes: Float64Array;
  private readonly ownerIdx: Uint32Array;
  private readonly calls: Uint32Array;
  /** First and last call, seconds since the epoch (ms precision is not needed to judge a habit of days). */
  private readonly firstS: Uint32Array;
  private readonly lastS: Uint32Array;
  private readonly owners: readonly string[];
  private readonly ownerTenants: readonly (string | null)[];

  constructor(rows: readonly (ObjectOwner & { route: string; name: string; value: string })[]) {
    const ownerIds = new Map<string, number>();
    const owners: string[] = [];
    const tenants: (string | null)[] = [];
    const entries = rows.map((r) => {
      const k = `${r.owner}\u0000${r.ownerTenant ?? ''}`;
      let o = ownerIds.get(k);
      if (o === undefined) {
        o = owners.length;
        ownerIds.set(k, o);
        owners.push(r.owner);
        tenants.push(r.ownerTenant);
      }
      return { h: objectHash(r.route, r.name, r.value), o, r };
    });
    entries.sort((x, y) => x.h - y.h);
    // A hash collision between two objects makes both unknown rather than one the other's.
    const kept = entries.filter(
      (e, i) =>
        (i === 0 || entries[i - 1]!.h !== e.h) && (i === entries.length - 1 || entries[i + 1]!.h !== e.h),
    );
    this.hashes = Float64Array.from(kept, (e) => e.h);
    this.ownerIdx = Uint32Array.from(kept, (e) => e.o);
    this.calls = Uint32Array.from(kept, (e) => Math.min(e.r.calls, 0xffffffff));
    this.firstS = Uint32Array.from(kept, (e) => Math.floor(e.r.first / 1000));
    this.lastS = Uint32Array.from(kept, (e) => Math.floor(e.r.last / 1000));
    this.owners = owners;
    this.ownerTenants = tenants;
    Object.freeze(this);
  }

  static readonly EMPTY = new OwnershipTable([]);

  get size(): number {
    return this.hashes.length;
  }

  /** Bytes held (typed arrays and owner strings), for stats. */
  get bytes(): number {
    return this.hashes.length * 24 + this.owners.reduce((n, o) => n + 32 + o.length * 2, 0);
  }

  /** The one owner of an object, or null when the history gives it none (new, shared, or dropped by the cap). */
  lookup(route: string, name: string, value: string): ObjectOwner | null {
    const h = objectHash(route, name, value);
    const a = this.hashes;
    let lo = 0;
    let hi = a.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = a[mid]!;
      if (v < h) lo = mid + 1;
      else if (v > h) hi = mid - 1;
      else {
        const o = this.ownerIdx[mid]!;
        return {
          owner: this.owners[o]!,
          ownerTenant: this.ownerTenants[o]!,
          calls: this.calls[mid]!,
          first: this.firstS[mid]! * 1000,
          last: this.lastS[mid]! * 1000,
        };
      }
    }
    return null;
  }
}

export interface OwnershipResult {
  table: OwnershipTable;
  keys: KeyCount;
  queryMs: number;
}

/** Reads the objects with one owner over the window into a packed table. */
export async function objectOwnership(
  store: BaselineQuerier,
  options: OwnershipOptions,
): Promise<OwnershipResult> {
  const t0 = performance.now();
  const rows = await store.query<OwnershipRow>(OWNERSHIP_SQL, {
    ...windowParams(options),
    tenantRe: TENANT_PARAM_RE2,
    minCalls: options.minCalls ?? OWNERSHIP_DEFAULTS.minCalls,
    minSpanMs: (options.minSpanSeconds ?? OWNERSHIP_DEFAULTS.minSpanSeconds) * 1000,
    maxObjects: options.maxObjects ?? OWNERSHIP_DEFAULTS.maxObjects,
  });
  const queryMs = performance.now() - t0;
  const table = new OwnershipTable(
    rows.map((r) => ({
      route: r.route,
      name: r.name,
      value: r.value,
      owner: r.owner,
      ownerTenant: r.owner_tenant === '' ? null : r.owner_tenant,
      calls: num(r.calls),
      first: num(r.first_ms),
      last: num(r.last_ms),
    })),
  );
  return { table, keys: keyCount(rows.length ? num(rows[0]!.found) : 0, rows.length), queryMs };
}
