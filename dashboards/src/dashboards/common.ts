import type { Column, PanelSpec, VariableSpec } from '../model.ts';

/** Time range every dashboard opens on. */
export const TIME = { from: 'now-24h', to: 'now' };

/** Joins WHERE clauses with AND, one per line (the layout of the filters below). */
export const allOf = (...clauses: string[]): string => clauses.join('\n  AND ');

/** Standard template variables. `service` is the API host; `actor` an actor key (ip:…, credential:…, user:…). */
export const TENANT: VariableSpec = {
  name: 'tenant',
  label: 'Tenant',
  kind: 'query',
  sql: "SELECT DISTINCT tenant FROM endpoint_inventory WHERE tenant != '' ORDER BY tenant",
  multi: true,
  includeAll: true,
  description: 'Tenants seen in the inventory (events without a tenant match All).',
};
export const SERVICE: VariableSpec = {
  name: 'service',
  label: 'Service (API host)',
  kind: 'query',
  sql: 'SELECT DISTINCT host FROM endpoint_inventory WHERE $__conditionalAll(tenant IN (${tenant:singlequote}), $tenant) ORDER BY host',
  multi: true,
  includeAll: true,
  description: 'API hosts of the selected tenants.',
};
export const ROUTE: VariableSpec = {
  name: 'route',
  label: 'Route',
  kind: 'query',
  sql: 'SELECT DISTINCT route FROM endpoint_inventory WHERE $__conditionalAll(tenant IN (${tenant:singlequote}), $tenant) AND $__conditionalAll(host IN (${service:singlequote}), $service) ORDER BY route',
  multi: true,
  includeAll: true,
  description: 'Route templates of the selected services.',
};
export const ACTOR: VariableSpec = {
  name: 'actor',
  label: 'Actor',
  kind: 'textbox',
  description: 'An actor key (ip:203.0.113.9, credential:k1:…, user:alice); empty = everyone.',
};
export const STANDARD_VARS = [TENANT, SERVICE, ROUTE, ACTOR];

/**
 * The actor key of a stored event, exactly core/src/model/actor.ts actorKey (and the api_events_in
 * ALIAS of migration 0001, which api_events does not have): a failed call is its origin; a JWT
 * its subject (or client); else the credential, user, service, client IP.
 */
export const ACTOR_SQL = `multiIf(
    auth = 'failure',
      if(credential_kind = 'mtls' AND service != '', concat('service:', service),
         concat('ip:', if(client_ip != '', client_ip, if(peer_ip != '', peer_ip, 'unknown')))),
    credential_kind = 'jwt' AND user != '', concat('user:', user),
    credential_kind = 'jwt' AND service != '', concat('service:', service),
    credential_fingerprint != '', concat('credential:', credential_fingerprint),
    user != '', concat('user:', user),
    service != '', concat('service:', service),
    concat('ip:', if(client_ip != '', client_ip, if(peer_ip != '', peer_ip, 'unknown'))))`;

/** Queries over api_events get the actor key as a WITH alias, usable in SELECT, WHERE and GROUP BY. */
export const withActor = (sql: string): string =>
  /\bFROM api_events\b/.test(sql) && !sql.startsWith('WITH ') ? `WITH ${ACTOR_SQL} AS actor\n${sql}` : sql;

/** Filters of api_events (and tables with the same columns) by the standard variables. */
export const EVENT_FILTER = allOf(
  '$__timeFilter(ts)',
  '$__conditionalAll(tenant IN (${tenant:singlequote}), $tenant)',
  '$__conditionalAll(host IN (${service:singlequote}), $service)',
  '$__conditionalAll(route IN (${route:singlequote}), $route)',
  '$__conditionalAll(actor = ${actor:singlequote}, $actor)',
);

/** Baseline tables have tenant and route but no host or actor column. */
export const BASELINE_FILTER = allOf(
  '$__conditionalAll(tenant IN (${tenant:singlequote}), $tenant)',
  '$__conditionalAll(route IN (${route:singlequote}), $route)',
);

/**
 * Findings that overlap the range, in their latest state (findings is a
 * ReplacingMergeTree(version): FINAL gives each episode's newest update). Filtered by tenant,
 * route and the entity (actor key form kind:id).
 */
export const FINDING_FILTER = allOf(
  'first_seen <= $__toTime',
  '(ended_at IS NULL OR ended_at >= $__fromTime)',
  '$__conditionalAll(tenant IN (${tenant:singlequote}), $tenant)',
  '$__conditionalAll(route IN (${route:singlequote}), $route)',
  "$__conditionalAll(concat(entity_kind, ':', entity_id) = ${actor:singlequote}, $actor)",
);

/** The fill clause that gives a time series a point per interval over the whole range. */
export const FILL =
  'ORDER BY time WITH FILL FROM toStartOfInterval($__fromTime, INTERVAL $__interval_s second) TO $__toTime STEP $__interval_s';

export const INVESTIGATE_UID = 'apiwatch-investigate';
/** Data link to the entity investigation for an actor-key column. */
export const investigateLink = (field: string) => ({
  title: 'Investigate this entity',
  url: `/d/${INVESTIGATE_UID}/entity-investigation?var-actor=\${__data.fields.${field}}&\${__url_time_range}`,
});
/** Data link to one finding (its detail panel on the investigation dashboard). */
export const findingLink = (field: string) => ({
  title: 'Open this finding',
  url: `/d/${INVESTIGATE_UID}/entity-investigation?var-finding=\${__data.fields.${field}}&\${__url_time_range}`,
});

/** The columns every findings table has, with drill-down links. */
export const FINDING_COLUMNS: Column[] = [
  { name: 'id', kind: 'string', link: findingLink('id') },
  { name: 'detector', kind: 'string' },
  { name: 'severity', kind: 'string' },
  { name: 'status', kind: 'string' },
  { name: 'entity', kind: 'string', link: investigateLink('entity') },
  { name: 'entity_name', kind: 'string' },
  { name: 'tenant', kind: 'string' },
  { name: 'endpoint', kind: 'string' },
  { name: 'first_seen', kind: 'time', unit: 'dateTimeAsIso' },
  { name: 'last_seen', kind: 'time', unit: 'dateTimeAsIso' },
  { name: 'observed', kind: 'number', unit: 'short' },
  { name: 'summary', kind: 'string' },
];

/** A findings table's SQL for the findings matching `where` (besides the standard filter). */
export const findingsSql = (where: string, limit = 100) => `SELECT id, detector, severity, status,
  concat(entity_kind, ':', entity_id) AS entity, entity_name, tenant,
  trim(concat(method, ' ', route)) AS endpoint, first_seen, last_seen, observed, summary
FROM findings FINAL
WHERE ${allOf(FINDING_FILTER, where)}
ORDER BY last_seen DESC
LIMIT ${limit}`;

/** A panel before placement: its width and height on the grid instead of an id and position. */
export type PanelDraft = Omit<PanelSpec, 'id' | 'grid'> & { w: number; h: number };

/**
 * Places panels left to right on the 24-column grid, wrapping to a new line below the tallest
 * panel of the line, and numbers them from 1.
 */
export function place(drafts: PanelDraft[]): PanelSpec[] {
  let x = 0;
  let y = 0;
  let lineH = 0;
  return drafts.map((d, i) => {
    if (x + d.w > 24) {
      x = 0;
      y += lineH;
      lineH = 0;
    }
    const { w, h, ...rest } = d;
    const p: PanelSpec = { ...rest, sql: withActor(rest.sql), id: i + 1, grid: { x, y, w, h } };
    x += w;
    lineH = Math.max(lineH, h);
    return p;
  });
}

export const SEVERITY_SERIES = ['critical', 'high', 'medium', 'low', 'info'];
