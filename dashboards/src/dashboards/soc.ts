import type { DashboardSpec } from '../model.ts';
import {
  allOf,
  BASELINE_FILTER,
  EVENT_FILTER,
  FILL,
  FINDING_FILTER,
  INVESTIGATE_UID,
  investigateLink,
  place,
  SEVERITY_SERIES,
  STANDARD_VARS,
  TIME,
} from './common.ts';
import { alarmFromOne, findingsTable, statPanel, topEndpointsChart } from './panels.ts';

const TAGS = ['apiwatch', 'soc'];

export const overview: DashboardSpec = {
  uid: 'apiwatch-overview',
  title: 'apiwatch / Overview',
  folder: 'SOC',
  file: 'overview',
  description: 'Home of the SOC: open findings, auth failures, inventory risk and response at a glance.',
  answers: 'What is firing now, how bad, and what needs triage first?',
  tags: TAGS,
  time: TIME,
  variables: STANDARD_VARS,
  panels: place([
    statPanel({
      title: 'Open critical/high findings',
      description: 'Episodes still firing (latest state) with severity critical or high.',
      w: 4,
      thresholds: alarmFromOne('red'),
      column: 'open_high',
      sql: `SELECT count() AS open_high FROM findings FINAL
WHERE ${allOf(FINDING_FILTER, "status = 'firing' AND severity IN ('critical', 'high')")}`,
    }),
    statPanel({
      title: 'Findings in range',
      description: 'Episodes overlapping the time range, any state.',
      w: 4,
      column: 'findings',
      sql: `SELECT count() AS findings FROM findings FINAL
WHERE ${FINDING_FILTER}`,
    }),
    statPanel({
      title: 'Auth failure rate',
      description: 'Share of calls whose authentication failed.',
      w: 4,
      unit: 'percentunit',
      thresholds: [
        ['green', null],
        ['orange', 0.05],
        ['red', 0.2],
      ],
      column: 'failure_rate',
      sql: `SELECT if(count() = 0, 0, countIf(auth = 'failure') / count()) AS failure_rate
FROM api_events
WHERE ${EVENT_FILTER}`,
    }),
    statPanel({
      title: 'Shadow + zombie endpoints',
      description: 'Endpoints with a shadow or zombie finding overlapping the range.',
      w: 4,
      column: 'endpoints',
      sql: `SELECT uniqExact(route, method) AS endpoints FROM findings FINAL
WHERE ${allOf(FINDING_FILTER, "detector IN ('spec.shadow_endpoint', 'spec.zombie_endpoint')")}`,
    }),
    statPanel({
      title: 'Response actions executed',
      description: 'Response actions (revocations, …) that ran in the range.',
      w: 4,
      column: 'executed',
      sql: `SELECT countIf(outcome = 'executed') AS executed FROM response_actions_audit
WHERE $__timeFilter(ts)`,
    }),
    statPanel({
      title: 'Events in range',
      description: 'API calls stored for the selection.',
      w: 4,
      column: 'events',
      sql: `SELECT count() AS events FROM api_events
WHERE ${EVENT_FILTER}`,
    }),
    {
      title: 'New findings by severity',
      description: 'Episodes by the interval they started in, stacked by severity.',
      viz: 'timeseries',
      w: 16,
      h: 8,
      unit: 'short',
      stacked: true,
      sql: `SELECT $__timeInterval(first_seen) AS time,
  ${SEVERITY_SERIES.map((s) => `uniqExactIf(id, severity = '${s}') AS ${s}`).join(',\n  ')}
FROM findings
WHERE $__timeFilter(first_seen)
  AND ${FINDING_FILTER}
GROUP BY time
${FILL}`,
      columns: [
        { name: 'time', kind: 'time' },
        ...SEVERITY_SERIES.map((s) => ({ name: s, kind: 'number' as const, unit: 'short' })),
      ],
    },
    {
      title: 'Findings by family',
      description: 'Episodes overlapping the range per detector family.',
      viz: 'barchart',
      w: 8,
      h: 8,
      sql: `SELECT family, count() AS findings FROM findings FINAL
WHERE ${FINDING_FILTER}
GROUP BY family
ORDER BY findings DESC`,
      columns: [
        { name: 'family', kind: 'string' },
        { name: 'findings', kind: 'number', unit: 'short' },
      ],
      sort: { column: 'findings', desc: true },
    },
    findingsTable({
      title: 'Needs triage',
      description: 'Open findings, newest activity first. Click a finding or an entity to drill down.',
      h: 10,
      where: "status = 'firing'",
    }),
  ]),
};

export const auth: DashboardSpec = {
  uid: 'apiwatch-auth',
  title: 'apiwatch / Authentication abuse',
  folder: 'SOC',
  file: 'auth',
  description: 'Brute force, credential stuffing, password spraying, key guessing, credential abuse.',
  answers: 'Who is failing authentication, against which accounts and routes, and did they get in?',
  tags: TAGS,
  time: TIME,
  variables: STANDARD_VARS,
  panels: place([
    {
      title: 'Authentication outcomes',
      description: 'Calls per interval by authentication outcome and 401/403 answers.',
      viz: 'timeseries',
      w: 12,
      h: 8,
      unit: 'short',
      sql: `SELECT $__timeInterval(ts) AS time,
  countIf(auth = 'success') AS success,
  countIf(auth = 'failure') AS failure,
  countIf(status = 401) AS status_401,
  countIf(status = 403) AS status_403
FROM api_events
WHERE ${EVENT_FILTER}
GROUP BY time
${FILL}`,
      columns: [
        { name: 'time', kind: 'time' },
        { name: 'success', kind: 'number', unit: 'short' },
        { name: 'failure', kind: 'number', unit: 'short' },
        { name: 'status_401', kind: 'number', unit: 'short' },
        { name: 'status_403', kind: 'number', unit: 'short' },
      ],
    },
    {
      title: 'Auth failure ratio',
      description: 'Share of calls whose authentication failed, per interval.',
      viz: 'timeseries',
      w: 12,
      h: 8,
      unit: 'percentunit',
      sql: `SELECT $__timeInterval(ts) AS time,
  if(count() = 0, 0, countIf(auth = 'failure') / count()) AS failure_ratio
FROM api_events
WHERE ${EVENT_FILTER}
GROUP BY time
${FILL}`,
      columns: [
        { name: 'time', kind: 'time' },
        { name: 'failure_ratio', kind: 'number', unit: 'percentunit' },
      ],
    },
    {
      title: 'Top failing sources',
      description:
        'Origins of failed calls: how many accounts and credentials each tried (stuffing vs brute force), user agents, last seen.',
      viz: 'table',
      w: 14,
      h: 9,
      sql: `SELECT actor, count() AS failures, uniqExactIf(user, user != '') AS accounts,
  uniqExact(credential) AS credentials, uniqExact(user_agent) AS user_agents,
  uniqExact(route) AS routes, max(ts) AS last_seen
FROM api_events
WHERE ${EVENT_FILTER}
  AND auth = 'failure'
GROUP BY actor
ORDER BY failures DESC
LIMIT 50`,
      columns: [
        { name: 'actor', kind: 'string', link: investigateLink('actor') },
        { name: 'failures', kind: 'number', unit: 'short' },
        { name: 'accounts', kind: 'number', unit: 'short' },
        { name: 'credentials', kind: 'number', unit: 'short' },
        { name: 'user_agents', kind: 'number', unit: 'short' },
        { name: 'routes', kind: 'number', unit: 'short' },
        { name: 'last_seen', kind: 'time', unit: 'dateTimeAsIso' },
      ],
      sort: { column: 'failures', desc: true },
    },
    topEndpointsChart({
      title: 'Failures by route',
      description: 'Failed authentications per route.',
      w: 10,
      h: 9,
      measure: { name: 'failures', expr: 'count()' },
      from: 'api_events',
      where: [EVENT_FILTER, "auth = 'failure'"],
    }),
    findingsTable({
      title: 'Authentication findings',
      description:
        'auth.* findings overlapping the range (brute force, stuffing, spraying, key guessing, abuse, success after failures).',
      h: 9,
      where: "family = 'auth'",
    }),
  ]),
};

export const bola: DashboardSpec = {
  uid: 'apiwatch-bola',
  title: 'apiwatch / BOLA',
  folder: 'SOC',
  file: 'bola',
  description: 'Broken object-level authorization: enumeration, cross-principal and cross-tenant access.',
  answers: 'Who touches far more objects than peers, and which object routes answer 403/404 to them?',
  tags: TAGS,
  time: TIME,
  variables: STANDARD_VARS,
  panels: place([
    {
      title: 'Object access and denials',
      description:
        'Distinct object ids requested per interval, with 403 and 404 answers on routes that carry ids.',
      viz: 'timeseries',
      w: 24,
      h: 8,
      unit: 'short',
      sql: `SELECT $__timeInterval(ts) AS time,
  uniqExactArray(object_ids) AS objects,
  countIf(status = 403) AS forbidden,
  countIf(status = 404) AS not_found
FROM api_events
WHERE ${EVENT_FILTER}
  AND notEmpty(object_ids)
GROUP BY time
${FILL}`,
      columns: [
        { name: 'time', kind: 'time' },
        { name: 'objects', kind: 'number', unit: 'short' },
        { name: 'forbidden', kind: 'number', unit: 'short' },
        { name: 'not_found', kind: 'number', unit: 'short' },
      ],
    },
    {
      title: 'Object-access suspects',
      description:
        'Actors by distinct objects per route (baseline_actor_route_hour), with the share of their calls denied (403) or missing (404).',
      viz: 'table',
      w: 14,
      h: 10,
      sql: `SELECT actor, trim(concat(method, ' ', route)) AS endpoint, uniqMerge(objects) AS distinct_objects,
  sum(requests) AS calls, sum(forbidden) AS forbidden_403, sum(not_found) AS not_found_404,
  (forbidden_403 + not_found_404) / calls AS denied_share, max(hour) AS last_hour
FROM baseline_actor_route_hour
WHERE hour >= toStartOfHour($__fromTime) AND hour <= $__toTime
  AND ${BASELINE_FILTER}
  AND $__conditionalAll(actor = \${actor:singlequote}, $actor)
GROUP BY actor, endpoint
HAVING distinct_objects > 0
ORDER BY distinct_objects DESC
LIMIT 50`,
      columns: [
        { name: 'actor', kind: 'string', link: investigateLink('actor') },
        { name: 'endpoint', kind: 'string' },
        { name: 'distinct_objects', kind: 'number', unit: 'short' },
        { name: 'calls', kind: 'number', unit: 'short' },
        { name: 'forbidden_403', kind: 'number', unit: 'short' },
        { name: 'not_found_404', kind: 'number', unit: 'short' },
        { name: 'denied_share', kind: 'number', unit: 'percentunit' },
        { name: 'last_hour', kind: 'time', unit: 'dateTimeAsIso' },
      ],
      sort: { column: 'distinct_objects', desc: true },
    },
    topEndpointsChart({
      title: 'Object routes by denials',
      description: 'Routes with object ids ranked by 403+404 answers.',
      w: 10,
      h: 10,
      measure: { name: 'denials', expr: 'countIf(status IN (403, 404))' },
      from: 'api_events',
      where: [EVENT_FILTER, 'notEmpty(object_ids)'],
    }),
    findingsTable({
      title: 'BOLA findings',
      description: 'bola.* findings overlapping the range.',
      h: 8,
      where: "family = 'bola'",
    }),
  ]),
};

const SPEC_DETECTORS = [
  'spec.shadow_endpoint',
  'spec.zombie_endpoint',
  'spec.undocumented_operation',
  'spec.parameter_violation',
  'spec.unauthenticated_access',
  'spec.missing_scope',
];

export const spec: DashboardSpec = {
  uid: 'apiwatch-spec',
  title: 'apiwatch / API inventory and spec conformance',
  folder: 'SOC',
  file: 'spec',
  description:
    'Every endpoint seen, shadow (undocumented but live) and zombie (deprecated but called) endpoints, spec violations.',
  answers: 'What endpoints exist, which are not in the spec or should be dead, and who violates the spec?',
  tags: TAGS,
  time: TIME,
  variables: STANDARD_VARS,
  panels: place([
    statPanel({
      title: 'Endpoints seen',
      description: 'Distinct (host, method, route) with traffic in the range.',
      column: 'endpoints',
      sql: `SELECT count() AS endpoints FROM (
  SELECT host, method, route FROM endpoint_inventory
  WHERE $__conditionalAll(tenant IN (\${tenant:singlequote}), $tenant)
    AND $__conditionalAll(host IN (\${service:singlequote}), $service)
    AND $__conditionalAll(route IN (\${route:singlequote}), $route)
  GROUP BY tenant, host, method, route
  HAVING max(last_seen) >= $__fromTime AND min(first_seen) <= $__toTime)`,
    }),
    ...(['spec.shadow_endpoint', 'spec.zombie_endpoint', 'spec.parameter_violation'] as const).map((d) =>
      statPanel({
        title: `${d.slice(5).replace('_', ' ')} findings`,
        description: `${d} episodes overlapping the range.`,
        column: 'findings',
        sql: `SELECT count() AS findings FROM findings FINAL
WHERE ${allOf(FINDING_FILTER, `detector = '${d}'`)}`,
      }),
    ),
    {
      title: 'Spec findings over time',
      description: 'spec.* episodes by the interval they started in.',
      viz: 'timeseries',
      w: 24,
      h: 7,
      unit: 'short',
      stacked: true,
      sql: `SELECT $__timeInterval(first_seen) AS time,
  ${SPEC_DETECTORS.map((d) => `uniqExactIf(id, detector = '${d}') AS ${d.slice(5)}`).join(',\n  ')}
FROM findings
WHERE $__timeFilter(first_seen)
  AND ${FINDING_FILTER}
GROUP BY time
${FILL}`,
      columns: [
        { name: 'time', kind: 'time' },
        ...SPEC_DETECTORS.map((d) => ({ name: d.slice(5), kind: 'number' as const, unit: 'short' })),
      ],
    },
    {
      title: 'Inventory',
      description:
        'Endpoints with traffic in the range: first/last seen, volume, errors, auth failures and the latest spec classification (unknown until a spec check ran).',
      viz: 'table',
      w: 24,
      h: 10,
      sql: `SELECT tenant, host, method, route, toDateTime64(min(first_seen), 3, 'UTC') AS first_seen,
  toDateTime64(max(last_seen), 3, 'UTC') AS last_seen,
  toUInt64(sum(requests)) AS calls, sum(errors) / calls AS error_share,
  toUInt64(sum(auth_failures)) AS failed_auth, argMaxMerge(spec_status) AS classification
FROM endpoint_inventory
WHERE $__conditionalAll(tenant IN (\${tenant:singlequote}), $tenant)
  AND $__conditionalAll(host IN (\${service:singlequote}), $service)
  AND $__conditionalAll(route IN (\${route:singlequote}), $route)
GROUP BY tenant, host, method, route
HAVING last_seen >= $__fromTime AND first_seen <= $__toTime
ORDER BY calls DESC
LIMIT 200`,
      columns: [
        { name: 'tenant', kind: 'string' },
        { name: 'host', kind: 'string' },
        { name: 'method', kind: 'string' },
        { name: 'route', kind: 'string' },
        { name: 'first_seen', kind: 'time', unit: 'dateTimeAsIso' },
        { name: 'last_seen', kind: 'time', unit: 'dateTimeAsIso' },
        { name: 'calls', kind: 'number', unit: 'short' },
        { name: 'error_share', kind: 'number', unit: 'percentunit' },
        { name: 'failed_auth', kind: 'number', unit: 'short' },
        { name: 'classification', kind: 'string' },
      ],
      sort: { column: 'calls', desc: true },
    },
    {
      title: 'Endpoints first seen in range',
      description: 'New endpoints: first call inside the range.',
      viz: 'table',
      w: 12,
      h: 8,
      sql: `SELECT host, method, route, toDateTime64(min(first_seen), 3, 'UTC') AS first_call, toUInt64(sum(requests)) AS calls
FROM endpoint_inventory
WHERE $__conditionalAll(tenant IN (\${tenant:singlequote}), $tenant)
  AND $__conditionalAll(host IN (\${service:singlequote}), $service)
  AND $__conditionalAll(route IN (\${route:singlequote}), $route)
GROUP BY tenant, host, method, route
HAVING first_call >= $__fromTime AND first_call <= $__toTime
ORDER BY first_call DESC
LIMIT 100`,
      columns: [
        { name: 'host', kind: 'string' },
        { name: 'method', kind: 'string' },
        { name: 'route', kind: 'string' },
        { name: 'first_call', kind: 'time', unit: 'dateTimeAsIso' },
        { name: 'calls', kind: 'number', unit: 'short' },
      ],
      sort: { column: 'first_call', desc: true },
    },
    topEndpointsChart({
      title: 'Top violating endpoints',
      description: 'Endpoints named by spec findings, by episodes.',
      w: 12,
      h: 8,
      measure: { name: 'findings', expr: 'count()' },
      from: 'findings FINAL',
      where: [FINDING_FILTER, "family = 'spec'"],
    }),
    findingsTable({
      title: 'Spec findings',
      description:
        'Shadow, zombie, undocumented operations, parameter violations, unauthenticated access, missing scopes.',
      h: 8,
      where: "family = 'spec'",
    }),
  ]),
};

export const traffic: DashboardSpec = {
  uid: 'apiwatch-traffic',
  title: 'apiwatch / Traffic against baseline',
  folder: 'SOC',
  file: 'traffic',
  description: 'Volume, errors and latency against the same window a week earlier (baseline_route_minute).',
  answers: 'Is traffic, error rate or latency out of its weekly habit, where, and who drives it?',
  tags: TAGS,
  time: TIME,
  variables: STANDARD_VARS,
  panels: place([
    {
      title: 'Requests vs a week earlier',
      description:
        'Calls per interval, and the same window shifted by 7 days (computed in SQL, not a panel time shift).',
      viz: 'timeseries',
      w: 12,
      h: 8,
      unit: 'short',
      sql: `SELECT time, sum(cur) AS requests, sum(prev) AS week_before FROM (
  SELECT $__timeInterval(minute) AS time, sum(requests) AS cur, toUInt64(0) AS prev
  FROM baseline_route_minute
  WHERE minute >= $__fromTime AND minute <= $__toTime AND ${BASELINE_FILTER}
  GROUP BY time
  UNION ALL
  SELECT $__timeInterval(minute + INTERVAL 7 DAY) AS time, toUInt64(0) AS cur, sum(requests) AS prev
  FROM baseline_route_minute
  WHERE minute >= $__fromTime - INTERVAL 7 DAY AND minute <= $__toTime - INTERVAL 7 DAY AND ${BASELINE_FILTER}
  GROUP BY time)
GROUP BY time
${FILL}`,
      columns: [
        { name: 'time', kind: 'time' },
        { name: 'requests', kind: 'number', unit: 'short' },
        { name: 'week_before', kind: 'number', unit: 'short' },
      ],
    },
    {
      title: '5xx share vs a week earlier',
      description: 'Server errors as a share of calls, now and 7 days before.',
      viz: 'timeseries',
      w: 12,
      h: 8,
      unit: 'percentunit',
      sql: `SELECT time, if(sum(cur_n) = 0, 0, sum(cur_e) / sum(cur_n)) AS error_share,
  if(sum(prev_n) = 0, 0, sum(prev_e) / sum(prev_n)) AS week_before FROM (
  SELECT $__timeInterval(minute) AS time, sum(status_5xx) AS cur_e, sum(requests) AS cur_n,
    toUInt64(0) AS prev_e, toUInt64(0) AS prev_n
  FROM baseline_route_minute
  WHERE minute >= $__fromTime AND minute <= $__toTime AND ${BASELINE_FILTER}
  GROUP BY time
  UNION ALL
  SELECT $__timeInterval(minute + INTERVAL 7 DAY) AS time, toUInt64(0), toUInt64(0), sum(status_5xx), sum(requests)
  FROM baseline_route_minute
  WHERE minute >= $__fromTime - INTERVAL 7 DAY AND minute <= $__toTime - INTERVAL 7 DAY AND ${BASELINE_FILTER}
  GROUP BY time)
GROUP BY time
${FILL}`,
      columns: [
        { name: 'time', kind: 'time' },
        { name: 'error_share', kind: 'number', unit: 'percentunit' },
        { name: 'week_before', kind: 'number', unit: 'percentunit' },
      ],
    },
    {
      title: 'Latency quantiles',
      description: 'p50/p95/p99 latency per interval (t-digest states merged).',
      viz: 'timeseries',
      w: 12,
      h: 8,
      unit: 'ms',
      sql: `SELECT time, q[1] AS p50, q[2] AS p95, q[3] AS p99 FROM (
  SELECT $__timeInterval(minute) AS time, quantilesTDigestMerge(0.5, 0.95, 0.99)(latency_ms) AS q
  FROM baseline_route_minute
  WHERE minute >= $__fromTime AND minute <= $__toTime AND ${BASELINE_FILTER}
  GROUP BY time)
${FILL}`,
      columns: [
        { name: 'time', kind: 'time' },
        { name: 'p50', kind: 'number', unit: 'ms' },
        { name: 'p95', kind: 'number', unit: 'ms' },
        { name: 'p99', kind: 'number', unit: 'ms' },
      ],
    },
    {
      title: 'Deviation per endpoint',
      description: 'Calls in the range against the same window a week earlier; deviation = now / before − 1.',
      viz: 'table',
      w: 12,
      h: 8,
      sql: `SELECT endpoint, sum(cur) AS requests, sum(prev) AS week_before,
  if(sum(prev) = 0, toFloat64(sum(cur) > 0), sum(cur) / sum(prev) - 1) AS deviation FROM (
  SELECT trim(concat(method, ' ', route)) AS endpoint, sum(requests) AS cur, toUInt64(0) AS prev
  FROM baseline_route_minute
  WHERE minute >= $__fromTime AND minute <= $__toTime AND ${BASELINE_FILTER}
  GROUP BY endpoint
  UNION ALL
  SELECT trim(concat(method, ' ', route)) AS endpoint, toUInt64(0), sum(requests)
  FROM baseline_route_minute
  WHERE minute >= $__fromTime - INTERVAL 7 DAY AND minute <= $__toTime - INTERVAL 7 DAY AND ${BASELINE_FILTER}
  GROUP BY endpoint)
GROUP BY endpoint
ORDER BY deviation DESC
LIMIT 50`,
      columns: [
        { name: 'endpoint', kind: 'string' },
        { name: 'requests', kind: 'number', unit: 'short' },
        { name: 'week_before', kind: 'number', unit: 'short' },
        { name: 'deviation', kind: 'number', unit: 'percentunit' },
      ],
      sort: { column: 'deviation', desc: true },
    },
    {
      title: 'Top talkers',
      description: 'Actors by calls, with response bytes (exfiltration) and distinct routes (scraping).',
      viz: 'table',
      w: 12,
      h: 9,
      sql: `SELECT actor, count() AS requests, sum(response_bytes) AS response_bytes,
  uniqExact(route) AS routes, countIf(status >= 500) AS errors, max(ts) AS last_seen
FROM api_events
WHERE ${EVENT_FILTER}
GROUP BY actor
ORDER BY requests DESC
LIMIT 25`,
      columns: [
        { name: 'actor', kind: 'string', link: investigateLink('actor') },
        { name: 'requests', kind: 'number', unit: 'short' },
        { name: 'response_bytes', kind: 'number', unit: 'bytes' },
        { name: 'routes', kind: 'number', unit: 'short' },
        { name: 'errors', kind: 'number', unit: 'short' },
        { name: 'last_seen', kind: 'time', unit: 'dateTimeAsIso' },
      ],
      sort: { column: 'requests', desc: true },
    },
    findingsTable({
      title: 'Volume and recon findings',
      description: 'volume.* and recon.* findings overlapping the range.',
      w: 12,
      h: 9,
      where: "family IN ('volume', 'recon')",
      limit: 50,
    }),
  ]),
};

export { INVESTIGATE_UID };
