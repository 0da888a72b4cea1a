/**
 * The endpoint inventory (docs/inventory.md): every (tenant, host, method, route) the store's
 * `endpoint_inventory` materialized view has seen — first and last seen, calls, errors, auth
 * failures — classified against the loaded OpenAPI specs, plus the documented operations that no
 * traffic has reached. The store keeps the catalogue as events arrive; the classification is
 * re-done against the specs in use whenever the inventory is read (specs change more often than
 * the catalogue), and `saveSpecStatus` writes it back into the catalogue's `spec_status`.
 */
import { quoteString, type Store } from '@apiwatch/core';
import { specCovers } from './conformance.ts';
import type { RouteMatcher, SpecOperation } from './openapi.ts';

export const INVENTORY_STATUSES = [
  'documented',
  'deprecated',
  'undocumented_method',
  'shadow',
  'unspecified',
  'unseen',
] as const;
export type InventoryStatus = (typeof INVENTORY_STATUSES)[number];

export interface InventoryRow {
  tenant: string;
  host: string;
  method: string;
  route: string;
  firstSeen: number;
  lastSeen: number;
  requests: number;
  errors: number;
  authFailures: number;
  samplePath: string;
  /** The status last saved in the store ('unknown' when never classified). */
  storedStatus: string;
}

export interface InventoryEntry extends Omit<InventoryRow, 'storedStatus'> {
  specStatus: InventoryStatus;
  specId: string | null;
  operationId: string | null;
}

/** One row per endpoint, busiest first (read with the -Merge/aggregate functions the table needs). */
export const INVENTORY_SQL = `
SELECT tenant, host, method, route,
       toUnixTimestamp64Milli(min(first_seen)) AS first_ms,
       toUnixTimestamp64Milli(max(last_seen)) AS last_ms,
       sum(requests) AS requests,
       sum(errors) AS errors,
       sum(auth_failures) AS auth_failures,
       any(sample_path) AS sample_path,
       argMaxMerge(spec_status) AS stored_status
FROM endpoint_inventory
WHERE ({tenant:String} = '' OR tenant = {tenant:String})
GROUP BY tenant, host, method, route
ORDER BY requests DESC, tenant, host, method, route
LIMIT {limit:UInt32}`;

interface Raw {
  tenant: string;
  host: string;
  method: string;
  route: string;
  first_ms: number | string;
  last_ms: number | string;
  requests: number | string;
  errors: number | string;
  auth_failures: number | string;
  sample_path: string;
  stored_status: string;
}

export async function readInventory(
  store: Pick<Store, 'query'>,
  options: { tenant?: string; limit?: number } = {},
): Promise<InventoryRow[]> {
  const rows = await store.query<Raw>(INVENTORY_SQL, {
    tenant: options.tenant ?? '',
    limit: options.limit ?? 10_000,
  });
  return rows.map((r) => ({
    tenant: r.tenant,
    host: r.host,
    method: r.method,
    route: r.route,
    firstSeen: Number(r.first_ms),
    lastSeen: Number(r.last_ms),
    requests: Number(r.requests),
    errors: Number(r.errors),
    authFailures: Number(r.auth_failures),
    samplePath: r.sample_path,
    storedStatus: r.stored_status,
  }));
}

/**
 * Classifies each seen endpoint against the specs and appends the documented operations nobody
 * called (`unseen`, once per method and route). Without specs every endpoint is `unspecified`.
 */
export function classifyInventory(
  rows: readonly InventoryRow[],
  matcher: RouteMatcher | null,
): InventoryEntry[] {
  const ops = new Map<string, SpecOperation>();
  const routes = new Set<string>();
  for (const spec of matcher?.specs ?? [])
    for (const op of spec.operations) {
      const k = `${op.method} ${op.route}`;
      if (!ops.has(k)) ops.set(k, op);
      routes.add(op.route);
    }
  const seen = new Set<string>();
  const out: InventoryEntry[] = rows.map((row) => {
    const { storedStatus: _stored, ...rest } = row;
    const entry = (specStatus: InventoryStatus, op: SpecOperation | null = null): InventoryEntry => ({
      ...rest,
      specStatus,
      specId: op?.specId ?? null,
      operationId: op?.operationId ?? null,
    });
    if (!matcher) return entry('unspecified');
    const op = ops.get(`${row.method} ${row.route}`);
    if (op) {
      seen.add(`${row.method} ${row.route}`);
      return entry(op.deprecated ? 'deprecated' : 'documented', op);
    }
    const host = row.host || null;
    const path = row.samplePath || row.route;
    const m = matcher.match(row.method, path, host);
    if (m?.methodDocumented) {
      seen.add(`${m.operation.method} ${m.route}`);
      return entry(m.operation.deprecated ? 'deprecated' : 'documented', m.operation);
    }
    if (m || routes.has(row.route)) return entry('undocumented_method', m?.operation ?? null);
    const retired = matcher.matchRetiredVersion(row.method, path, host);
    if (retired) return { ...entry('deprecated', retired.operation), operationId: null };
    if (matcher.specs.some((s) => specCovers(s, host, path))) return entry('shadow');
    return entry('unspecified');
  });
  for (const [k, op] of ops) {
    if (seen.has(k)) continue;
    out.push({
      tenant: '',
      host: '',
      method: op.method,
      route: op.route,
      firstSeen: 0,
      lastSeen: 0,
      requests: 0,
      errors: 0,
      authFailures: 0,
      samplePath: '',
      specStatus: 'unseen',
      specId: op.specId,
      operationId: op.operationId,
    });
  }
  return out;
}

/**
 * Writes the classification of seen endpoints into `endpoint_inventory.spec_status` (the latest
 * classification wins by `argMax`). The other columns carry values that leave the aggregates as
 * they are: the same first/last seen (min/max), zero counts, the same sample path.
 */
export async function saveSpecStatus(
  store: Pick<Store, 'exec'>,
  entries: readonly InventoryEntry[],
  classifiedAtMs: number,
): Promise<number> {
  const rows = entries.filter((e) => e.specStatus !== 'unseen');
  if (rows.length === 0) return 0;
  const lit = quoteString;
  const tuples = rows
    .map(
      (e) =>
        `(${lit(e.tenant)}, ${lit(e.host)}, ${lit(e.method)}, ${lit(e.route)}, ${e.firstSeen}, ${e.lastSeen}, ${lit(e.samplePath)}, ${lit(e.specStatus)})`,
    )
    .join(',\n');
  await store.exec(`
INSERT INTO endpoint_inventory (tenant, host, method, route, first_seen, last_seen, requests, errors, auth_failures, sample_path, spec_status)
SELECT t, h, m, r, fromUnixTimestamp64Milli(toInt64(f), 'UTC'), fromUnixTimestamp64Milli(toInt64(l), 'UTC'), 0, 0, 0, p,
       argMaxState(s, fromUnixTimestamp64Milli(toInt64(${Math.trunc(classifiedAtMs)}), 'UTC'))
FROM values('t String, h String, m String, r String, f Int64, l Int64, p String, s String', ${tuples})
GROUP BY t, h, m, r, f, l, p`);
  return rows.length;
}
