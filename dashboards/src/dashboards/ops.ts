import type { DashboardSpec, VariableSpec } from '../model.ts';
import {
  ACTOR,
  EVENT_FILTER,
  FILL,
  FINDING_COLUMNS,
  findingLink,
  INVESTIGATE_UID,
  investigateLink,
  place,
  STANDARD_VARS,
  TENANT,
} from './common.ts';

const TIME = { from: 'now-24h', to: 'now' };

/**
 * Credentials a response action revoked (alerting/src/actions: action 'revoke', target_ref = the
 * finding entity's revocable handle — Kong credential id, AWS apiKeyId, JWT jti — which ingest
 * stores as api_events.credential_ref), with when, and when an executed 'restore' undid it.
 */
const REVOKED = `SELECT target_ref, minIf(ts, action = 'revoke') AS revoked_at,
    maxIf(ts, action = 'restore') AS restored_at, anyIf(gateway, action = 'revoke') AS gateway,
    anyIf(finding_id, action = 'revoke') AS finding_id
  FROM response_actions_audit
  WHERE action IN ('revoke', 'restore') AND outcome = 'executed' AND target_ref != ''
  GROUP BY target_ref
  HAVING countIf(action = 'revoke') > 0`;
/**
 * Notification deliveries (notification_deliveries, written by the alert role's delivery queues:
 * one row per attempt, outcome delivered | retried | dead_lettered) of the selected receivers.
 */
const RECEIVER: VariableSpec = {
  name: 'receiver',
  label: 'Receiver',
  kind: 'query',
  sql: 'SELECT DISTINCT receiver FROM notification_deliveries ORDER BY receiver',
  multi: true,
  includeAll: true,
  description: 'Notification receivers (alert.receivers) that were sent something.',
};
const DELIVERIES_WHERE =
  '$__timeFilter(ts) AND $__conditionalAll(receiver IN (${receiver:singlequote}), $receiver)';

/** A call made with a revoked credential while the revocation stood. */
const AFTER_REVOCATION = 'e.ts > r.revoked_at AND (r.restored_at < r.revoked_at OR e.ts < r.restored_at)';

export const response: DashboardSpec = {
  uid: 'apiwatch-response',
  title: 'apiwatch / Alert delivery and response actions',
  folder: 'SOC',
  file: 'response',
  description:
    'Response actions (revocations, blocks) from response_actions_audit, revoked keys still seen at the gateway, and notification delivery per receiver (sent, retried, dead-lettered, latency) from notification_deliveries.',
  answers:
    'What did we do about findings, did it work, how fast, is any revoked key still being used — and did the notifications reach the people who act on them?',
  tags: ['apiwatch', 'soc'],
  time: TIME,
  variables: [...STANDARD_VARS, RECEIVER],
  panels: place([
    {
      title: 'Actions executed',
      description: 'Response actions that ran in the range.',
      viz: 'stat',
      w: 6,
      h: 4,
      unit: 'short',
      sql: `SELECT countIf(outcome = 'executed') AS executed FROM response_actions_audit WHERE $__timeFilter(ts)`,
      columns: [{ name: 'executed', kind: 'number', unit: 'short' }],
    },
    {
      title: 'Actions failed or denied',
      description: 'Response actions the gateway refused or that failed.',
      viz: 'stat',
      w: 6,
      h: 4,
      unit: 'short',
      thresholds: [
        ['green', null],
        ['red', 1],
      ],
      sql: `SELECT countIf(outcome IN ('failed', 'denied')) AS failed FROM response_actions_audit WHERE $__timeFilter(ts)`,
      columns: [{ name: 'failed', kind: 'number', unit: 'short' }],
    },
    {
      title: 'Revoked keys still seen',
      description: 'Revoked credentials with calls after their revocation, in the range.',
      viz: 'stat',
      w: 6,
      h: 4,
      unit: 'short',
      thresholds: [
        ['green', null],
        ['red', 1],
      ],
      sql: `SELECT uniqExact(e.credential_ref) AS still_seen
FROM api_events AS e
INNER JOIN (${REVOKED}) AS r ON e.credential_ref = r.target_ref
WHERE $__timeFilter(e.ts) AND ${AFTER_REVOCATION}`,
      columns: [{ name: 'still_seen', kind: 'number', unit: 'short' }],
    },
    {
      title: 'Median time to action',
      description: 'From the finding’s first event to the executed action (seconds).',
      viz: 'stat',
      w: 6,
      h: 4,
      unit: 's',
      sql: `SELECT ifNotFinite(median(toUnixTimestamp64Milli(a.ts) - toUnixTimestamp64Milli(f.first_seen)) / 1000, 0) AS seconds
FROM response_actions_audit AS a
INNER JOIN (SELECT id, first_seen FROM findings FINAL) AS f ON a.finding_id = f.id
WHERE $__timeFilter(a.ts) AND a.outcome = 'executed'`,
      columns: [{ name: 'seconds', kind: 'number', unit: 's' }],
    },
    {
      title: 'Response actions by outcome',
      description: 'Actions per interval by outcome.',
      viz: 'timeseries',
      w: 24,
      h: 7,
      unit: 'short',
      stacked: true,
      sql: `SELECT $__timeInterval(ts) AS time,
  countIf(outcome = 'executed') AS executed, countIf(outcome = 'skipped') AS skipped,
  countIf(outcome = 'denied') AS denied, countIf(outcome = 'failed') AS failed
FROM response_actions_audit
WHERE $__timeFilter(ts)
GROUP BY time
${FILL}`,
      columns: [
        { name: 'time', kind: 'time' },
        { name: 'executed', kind: 'number', unit: 'short' },
        { name: 'skipped', kind: 'number', unit: 'short' },
        { name: 'denied', kind: 'number', unit: 'short' },
        { name: 'failed', kind: 'number', unit: 'short' },
      ],
    },
    {
      title: 'Revoked keys still in use',
      description:
        'Each revoked credential seen after its revocation: calls after, from how many addresses, last seen. A non-empty table means the revocation did not reach every gateway (or a cache).',
      viz: 'table',
      w: 24,
      h: 8,
      sql: `SELECT r.target_ref AS credential_ref, r.revoked_at AS revoked_at, r.gateway AS gateway,
  r.finding_id AS finding_id, count() AS calls_after, uniqExact(e.client_ip) AS addresses,
  any(actor) AS last_actor, max(e.ts) AS last_seen
FROM api_events AS e
INNER JOIN (${REVOKED}) AS r ON e.credential_ref = r.target_ref
WHERE $__timeFilter(e.ts) AND ${AFTER_REVOCATION}
GROUP BY credential_ref, revoked_at, gateway, finding_id
ORDER BY calls_after DESC
LIMIT 100`,
      columns: [
        { name: 'credential_ref', kind: 'string' },
        { name: 'revoked_at', kind: 'time', unit: 'dateTimeAsIso' },
        { name: 'gateway', kind: 'string' },
        { name: 'finding_id', kind: 'string', link: findingLink('finding_id') },
        { name: 'calls_after', kind: 'number', unit: 'short' },
        { name: 'addresses', kind: 'number', unit: 'short' },
        { name: 'last_actor', kind: 'string', link: investigateLink('last_actor') },
        { name: 'last_seen', kind: 'time', unit: 'dateTimeAsIso' },
      ],
      sort: { column: 'calls_after', desc: true },
    },
    {
      title: 'Recent response actions',
      description: 'The audit trail, newest first.',
      viz: 'table',
      w: 24,
      h: 9,
      sql: `SELECT ts, action, mode, outcome, target_kind, target_ref, gateway, detector, finding_id,
  initiated_by, response_status
FROM response_actions_audit
WHERE $__timeFilter(ts)
ORDER BY ts DESC
LIMIT 200`,
      columns: [
        { name: 'ts', kind: 'time', unit: 'dateTimeAsIso' },
        { name: 'action', kind: 'string' },
        { name: 'mode', kind: 'string' },
        { name: 'outcome', kind: 'string' },
        { name: 'target_kind', kind: 'string' },
        { name: 'target_ref', kind: 'string' },
        { name: 'gateway', kind: 'string' },
        { name: 'detector', kind: 'string' },
        { name: 'finding_id', kind: 'string', link: findingLink('finding_id') },
        { name: 'initiated_by', kind: 'string' },
        { name: 'response_status', kind: 'number', unit: 'none' },
      ],
      sort: { column: 'ts', desc: true },
    },
    {
      title: 'Notifications delivered',
      description: 'Notifications a receiver accepted, in the range (one per notification).',
      viz: 'stat',
      w: 6,
      h: 4,
      unit: 'short',
      sql: `SELECT countIf(outcome = 'delivered') AS delivered FROM notification_deliveries WHERE ${DELIVERIES_WHERE}`,
      columns: [{ name: 'delivered', kind: 'number', unit: 'short' }],
    },
    {
      title: 'Notifications dead-lettered',
      description:
        'Notifications given up on: a permanent failure (4xx) or the last attempt failed. Replay them with apiwatch deliveries replay.',
      viz: 'stat',
      w: 6,
      h: 4,
      unit: 'short',
      thresholds: [
        ['green', null],
        ['red', 1],
      ],
      sql: `SELECT countIf(outcome = 'dead_lettered') AS dead_lettered FROM notification_deliveries WHERE ${DELIVERIES_WHERE}`,
      columns: [{ name: 'dead_lettered', kind: 'number', unit: 'short' }],
    },
    {
      title: 'Failed attempts retried',
      description: 'Attempts that failed with attempts left (5xx, 429, timeouts): the queue tried again.',
      viz: 'stat',
      w: 6,
      h: 4,
      unit: 'short',
      thresholds: [
        ['green', null],
        ['orange', 1],
      ],
      sql: `SELECT countIf(outcome = 'retried') AS retried FROM notification_deliveries WHERE ${DELIVERIES_WHERE}`,
      columns: [{ name: 'retried', kind: 'number', unit: 'short' }],
    },
    {
      title: 'p95 delivery latency',
      description: 'From queued to accepted by the receiver, retries included (95th percentile, ms).',
      viz: 'stat',
      w: 6,
      h: 4,
      unit: 'ms',
      sql: `SELECT ifNotFinite(quantileIf(0.95)(latency_ms, outcome = 'delivered'), 0) AS p95_ms
FROM notification_deliveries WHERE ${DELIVERIES_WHERE}`,
      columns: [{ name: 'p95_ms', kind: 'number', unit: 'ms' }],
    },
    {
      title: 'Delivery attempts by outcome',
      description: 'Attempts per interval: delivered, failed and retried, failed and dead-lettered.',
      viz: 'timeseries',
      w: 24,
      h: 7,
      unit: 'short',
      stacked: true,
      sql: `SELECT $__timeInterval(ts) AS time,
  countIf(outcome = 'delivered') AS delivered, countIf(outcome = 'retried') AS retried,
  countIf(outcome = 'dead_lettered') AS dead_lettered
FROM notification_deliveries
WHERE ${DELIVERIES_WHERE}
GROUP BY time
${FILL}`,
      columns: [
        { name: 'time', kind: 'time' },
        { name: 'delivered', kind: 'number', unit: 'short' },
        { name: 'retried', kind: 'number', unit: 'short' },
        { name: 'dead_lettered', kind: 'number', unit: 'short' },
      ],
    },
    {
      title: 'Delivery per receiver',
      description:
        'Per receiver: notifications sent (delivered), failed attempts, of which retried and dead-lettered, the median and p95 latency from queued to delivered, the median send time, and the last failure code. Worst first.',
      viz: 'table',
      w: 24,
      h: 7,
      sql: `SELECT receiver, countIf(outcome = 'delivered') AS sent, countIf(outcome != 'delivered') AS failed,
  countIf(outcome = 'retried') AS retried, countIf(outcome = 'dead_lettered') AS dead_lettered,
  ifNotFinite(quantileIf(0.5)(latency_ms, outcome = 'delivered'), 0) AS p50_latency_ms,
  ifNotFinite(quantileIf(0.95)(latency_ms, outcome = 'delivered'), 0) AS p95_latency_ms,
  ifNotFinite(quantile(0.5)(send_ms), 0) AS p50_send_ms,
  argMaxIf(code, ts, outcome != 'delivered') AS last_failure_code
FROM notification_deliveries
WHERE ${DELIVERIES_WHERE}
GROUP BY receiver
ORDER BY dead_lettered DESC, failed DESC, receiver
LIMIT 100`,
      columns: [
        { name: 'receiver', kind: 'string' },
        { name: 'sent', kind: 'number', unit: 'short' },
        { name: 'failed', kind: 'number', unit: 'short' },
        { name: 'retried', kind: 'number', unit: 'short' },
        { name: 'dead_lettered', kind: 'number', unit: 'short' },
        { name: 'p50_latency_ms', kind: 'number', unit: 'ms' },
        { name: 'p95_latency_ms', kind: 'number', unit: 'ms' },
        { name: 'p50_send_ms', kind: 'number', unit: 'ms' },
        { name: 'last_failure_code', kind: 'string' },
      ],
      sort: { column: 'dead_lettered', desc: true },
    },
    {
      title: 'Recent delivery failures',
      description:
        'Failed attempts, newest first: which notification, which attempt, what the receiver said.',
      viz: 'table',
      w: 24,
      h: 8,
      sql: `SELECT ts, receiver, notification_id, attempt, outcome, code, http_status, send_ms, error
FROM notification_deliveries
WHERE ${DELIVERIES_WHERE} AND outcome != 'delivered'
ORDER BY ts DESC
LIMIT 200`,
      columns: [
        { name: 'ts', kind: 'time', unit: 'dateTimeAsIso' },
        { name: 'receiver', kind: 'string' },
        { name: 'notification_id', kind: 'string' },
        { name: 'attempt', kind: 'number', unit: 'none' },
        { name: 'outcome', kind: 'string' },
        { name: 'code', kind: 'string' },
        { name: 'http_status', kind: 'number', unit: 'none' },
        { name: 'send_ms', kind: 'number', unit: 'ms' },
        { name: 'error', kind: 'string' },
      ],
      sort: { column: 'ts', desc: true },
    },
  ]),
};

const FINDING_VAR: VariableSpec = {
  name: 'finding',
  label: 'Finding id',
  kind: 'textbox',
  description: 'A finding (episode) id; links from findings tables set it.',
};

/** The investigated entity, matched as an actor key, a client IP, a credential ref or a user. */
const ENTITY_EVENTS = `$__conditionalAll((actor = \${actor:singlequote} OR client_ip = \${actor:singlequote} OR credential_ref = \${actor:singlequote} OR user = \${actor:singlequote}), $actor)`;
const EVENTS_WHERE = [
  '$__timeFilter(ts)',
  '$__conditionalAll(tenant IN (${tenant:singlequote}), $tenant)',
  ENTITY_EVENTS,
].join('\n  AND ');

export const investigate: DashboardSpec = {
  uid: INVESTIGATE_UID,
  title: 'apiwatch / Entity investigation',
  folder: 'SOC',
  file: 'investigate',
  description:
    'One actor, credential or IP across events, findings and response actions. Drill-down target of every table.',
  answers:
    'Everything about one entity: what it called, from where, with which keys, what fired on it, what we did.',
  tags: ['apiwatch', 'soc'],
  time: TIME,
  variables: [TENANT, ACTOR, FINDING_VAR],
  panels: place([
    ...(
      [
        ['Calls', 'count()', 'calls'],
        ['Failed calls', "countIf(status >= 400 OR auth = 'failure')", 'failed'],
        ['Routes', 'uniqExact(route)', 'routes'],
        ['Addresses', 'uniqExact(client_ip)', 'addresses'],
      ] as const
    ).map(([title, expr, name]) => ({
      title,
      description: `${title} of the entity in the range.`,
      viz: 'stat' as const,
      w: 6,
      h: 4,
      unit: 'short',
      sql: `SELECT ${expr} AS ${name} FROM api_events
WHERE ${EVENTS_WHERE}`,
      columns: [{ name, kind: 'number' as const, unit: 'short' }],
    })),
    {
      title: 'Activity',
      description: 'The entity’s calls per interval by outcome.',
      viz: 'timeseries',
      w: 24,
      h: 7,
      unit: 'short',
      sql: `SELECT $__timeInterval(ts) AS time,
  countIf(status < 400 AND auth != 'failure') AS ok,
  countIf(auth = 'failure') AS auth_failed,
  countIf(status >= 400 AND status < 500 AND auth != 'failure') AS client_errors,
  countIf(status >= 500) AS server_errors
FROM api_events
WHERE ${EVENTS_WHERE}
GROUP BY time
${FILL}`,
      columns: [
        { name: 'time', kind: 'time' },
        { name: 'ok', kind: 'number', unit: 'short' },
        { name: 'auth_failed', kind: 'number', unit: 'short' },
        { name: 'client_errors', kind: 'number', unit: 'short' },
        { name: 'server_errors', kind: 'number', unit: 'short' },
      ],
    },
    {
      title: 'Findings on this entity',
      description:
        'Findings naming the entity (as kind:id, name or revocable ref), or the one finding selected.',
      viz: 'table',
      w: 24,
      h: 8,
      sql: `SELECT id, detector, severity, status,
  concat(entity_kind, ':', entity_id) AS entity, entity_name, tenant,
  trim(concat(method, ' ', route)) AS endpoint, first_seen, last_seen, observed, summary
FROM findings FINAL
WHERE first_seen <= $__toTime AND (ended_at IS NULL OR ended_at >= $__fromTime)
  AND $__conditionalAll(tenant IN (\${tenant:singlequote}), $tenant)
  AND $__conditionalAll((concat(entity_kind, ':', entity_id) = \${actor:singlequote} OR entity_id = \${actor:singlequote} OR entity_name = \${actor:singlequote} OR entity_ref = \${actor:singlequote}), $actor)
  AND $__conditionalAll(id = \${finding:singlequote}, $finding)
ORDER BY last_seen DESC
LIMIT 100`,
      columns: FINDING_COLUMNS,
      sort: { column: 'last_seen', desc: true },
    },
    {
      title: 'Endpoints touched',
      description: 'Routes the entity called, with failures.',
      viz: 'table',
      w: 12,
      h: 8,
      sql: `SELECT host, method, route, count() AS calls, countIf(status >= 400) AS failed,
  uniqExactArray(object_ids) AS objects, min(ts) AS first_seen, max(ts) AS last_seen
FROM api_events
WHERE ${EVENTS_WHERE}
GROUP BY host, method, route
ORDER BY calls DESC
LIMIT 100`,
      columns: [
        { name: 'host', kind: 'string' },
        { name: 'method', kind: 'string' },
        { name: 'route', kind: 'string' },
        { name: 'calls', kind: 'number', unit: 'short' },
        { name: 'failed', kind: 'number', unit: 'short' },
        { name: 'objects', kind: 'number', unit: 'short' },
        { name: 'first_seen', kind: 'time', unit: 'dateTimeAsIso' },
        { name: 'last_seen', kind: 'time', unit: 'dateTimeAsIso' },
      ],
      sort: { column: 'calls', desc: true },
    },
    {
      title: 'Related keys, users and addresses',
      description: 'Which credentials, users and IPs the entity’s calls carried: pivots to the next entity.',
      viz: 'table',
      w: 12,
      h: 8,
      sql: `SELECT actor, client_ip, credential_ref, user, count() AS calls, max(ts) AS last_seen
FROM api_events
WHERE ${EVENTS_WHERE}
GROUP BY actor, client_ip, credential_ref, user
ORDER BY calls DESC
LIMIT 100`,
      columns: [
        { name: 'actor', kind: 'string', link: investigateLink('actor') },
        { name: 'client_ip', kind: 'string' },
        { name: 'credential_ref', kind: 'string' },
        { name: 'user', kind: 'string' },
        { name: 'calls', kind: 'number', unit: 'short' },
        { name: 'last_seen', kind: 'time', unit: 'dateTimeAsIso' },
      ],
      sort: { column: 'calls', desc: true },
    },
    {
      title: 'Response actions on this entity',
      description:
        'Audit rows whose target is the entity’s credential ref or address, or that answer one of its findings.',
      viz: 'table',
      w: 24,
      h: 6,
      sql: `SELECT ts, action, outcome, target_kind, target_ref, detector, finding_id, initiated_by
FROM response_actions_audit
WHERE $__timeFilter(ts)
  AND $__conditionalAll((target_ref = \${actor:singlequote} OR target_ref IN (SELECT DISTINCT credential_ref FROM api_events WHERE ${EVENTS_WHERE} AND credential_ref != '')), $actor)
  AND $__conditionalAll(finding_id = \${finding:singlequote}, $finding)
ORDER BY ts DESC
LIMIT 100`,
      columns: [
        { name: 'ts', kind: 'time', unit: 'dateTimeAsIso' },
        { name: 'action', kind: 'string' },
        { name: 'outcome', kind: 'string' },
        { name: 'target_kind', kind: 'string' },
        { name: 'target_ref', kind: 'string' },
        { name: 'detector', kind: 'string' },
        { name: 'finding_id', kind: 'string', link: findingLink('finding_id') },
        { name: 'initiated_by', kind: 'string' },
      ],
      sort: { column: 'ts', desc: true },
    },
    {
      title: 'Request sample',
      description: 'The entity’s latest calls (at most 200).',
      viz: 'table',
      w: 24,
      h: 10,
      sql: `SELECT ts, method, host, path, status, auth, client_ip, user_agent, credential_ref, latency_ms
FROM api_events
WHERE ${EVENTS_WHERE}
ORDER BY ts DESC
LIMIT 200`,
      columns: [
        { name: 'ts', kind: 'time', unit: 'dateTimeAsIso' },
        { name: 'method', kind: 'string' },
        { name: 'host', kind: 'string' },
        { name: 'path', kind: 'string' },
        { name: 'status', kind: 'number', unit: 'none' },
        { name: 'auth', kind: 'string' },
        { name: 'client_ip', kind: 'string' },
        { name: 'user_agent', kind: 'string' },
        { name: 'credential_ref', kind: 'string' },
        { name: 'latency_ms', kind: 'number', unit: 'ms' },
      ],
      sort: { column: 'ts', desc: true },
    },
  ]),
};

export const pipeline: DashboardSpec = {
  uid: 'apiwatch-pipeline',
  title: 'apiwatch / Pipeline health',
  folder: 'Operations',
  file: 'pipeline',
  description:
    'The pipeline’s own health from the store: events per source, ingest lag, dead letters, findings emitted, table sizes.',
  answers:
    'Is data arriving from every source, how late, what is being dead-lettered, and how big is the store?',
  tags: ['apiwatch', 'operations'],
  time: TIME,
  variables: STANDARD_VARS,
  panels: place([
    {
      title: 'Events stored',
      description: 'API calls stored in the range.',
      viz: 'stat',
      w: 6,
      h: 4,
      unit: 'short',
      sql: `SELECT count() AS events FROM api_events WHERE ${EVENT_FILTER}`,
      columns: [{ name: 'events', kind: 'number', unit: 'short' }],
    },
    {
      title: 'Dead letters',
      description: 'Records that never became events (or could not be stored) in the range.',
      viz: 'stat',
      w: 6,
      h: 4,
      unit: 'short',
      thresholds: [
        ['green', null],
        ['orange', 1],
      ],
      sql: `SELECT count() AS dead_letters FROM dead_letters WHERE $__timeFilter(ts)`,
      columns: [{ name: 'dead_letters', kind: 'number', unit: 'short' }],
    },
    {
      title: 'p95 ingest lag',
      description: 'From the gateway’s event time to ingest, 95th percentile.',
      viz: 'stat',
      w: 6,
      h: 4,
      unit: 'ms',
      sql: `SELECT ifNotFinite(quantile(0.95)(ingest_lag_ms), 0) AS p95_lag_ms FROM api_events WHERE ${EVENT_FILTER}`,
      columns: [{ name: 'p95_lag_ms', kind: 'number', unit: 'ms' }],
    },
    {
      title: 'Finding updates emitted',
      description: 'Finding updates (firing and resolved) detected in the range.',
      viz: 'stat',
      w: 6,
      h: 4,
      unit: 'short',
      sql: `SELECT count() AS updates FROM findings WHERE $__timeFilter(detected_at)`,
      columns: [{ name: 'updates', kind: 'number', unit: 'short' }],
    },
    {
      title: 'Events by source',
      description: 'Stored events per interval per source kind (long format: time, source, events).',
      viz: 'timeseries',
      w: 12,
      h: 8,
      unit: 'short',
      stacked: true,
      sql: `SELECT $__timeInterval(ts) AS time, source_kind AS source, count() AS events
FROM api_events
WHERE ${EVENT_FILTER}
GROUP BY time, source
ORDER BY time, source`,
      columns: [
        { name: 'time', kind: 'time' },
        { name: 'source', kind: 'string' },
        { name: 'events', kind: 'number', unit: 'short' },
      ],
    },
    {
      title: 'Ingest lag',
      description: 'Event time to ingest time per interval: median, p95, max.',
      viz: 'timeseries',
      w: 12,
      h: 8,
      unit: 'ms',
      sql: `SELECT $__timeInterval(ts) AS time, quantile(0.5)(ingest_lag_ms) AS p50,
  quantile(0.95)(ingest_lag_ms) AS p95, toFloat64(max(ingest_lag_ms)) AS max
FROM api_events
WHERE ${EVENT_FILTER}
GROUP BY time
ORDER BY time`,
      columns: [
        { name: 'time', kind: 'time' },
        { name: 'p50', kind: 'number', unit: 'ms' },
        { name: 'p95', kind: 'number', unit: 'ms' },
        { name: 'max', kind: 'number', unit: 'ms' },
      ],
    },
    {
      title: 'Dead letters by code',
      description: 'Dead-lettered records per interval by error code (long format).',
      viz: 'timeseries',
      w: 12,
      h: 8,
      unit: 'short',
      stacked: true,
      sql: `SELECT $__timeInterval(ts) AS time, code, count() AS records
FROM dead_letters
WHERE $__timeFilter(ts)
GROUP BY time, code
ORDER BY time, code`,
      columns: [
        { name: 'time', kind: 'time' },
        { name: 'code', kind: 'string' },
        { name: 'records', kind: 'number', unit: 'short' },
      ],
    },
    {
      title: 'Finding updates by family',
      description: 'Finding updates emitted per interval (detected_at), by family.',
      viz: 'timeseries',
      w: 12,
      h: 8,
      unit: 'short',
      stacked: true,
      sql: `SELECT $__timeInterval(detected_at) AS time,
  ${['auth', 'bola', 'spec', 'volume', 'recon'].map((f) => `countIf(family = '${f}') AS ${f}`).join(', ')}
FROM findings
WHERE $__timeFilter(detected_at)
GROUP BY time
${FILL}`,
      columns: [
        { name: 'time', kind: 'time' },
        ...['auth', 'bola', 'spec', 'volume', 'recon'].map((f) => ({
          name: f,
          kind: 'number' as const,
          unit: 'short',
        })),
      ],
    },
    {
      title: 'Latest dead letters',
      description: 'Newest dead-lettered records (raw record left out: open it in the store).',
      viz: 'table',
      w: 14,
      h: 8,
      sql: `SELECT ts, source, collector, code, reason FROM dead_letters
WHERE $__timeFilter(ts)
ORDER BY ts DESC
LIMIT 100`,
      columns: [
        { name: 'ts', kind: 'time', unit: 'dateTimeAsIso' },
        { name: 'source', kind: 'string' },
        { name: 'collector', kind: 'string' },
        { name: 'code', kind: 'string' },
        { name: 'reason', kind: 'string' },
      ],
      sort: { column: 'ts', desc: true },
    },
    {
      title: 'Store tables',
      description:
        'Active parts per table of the apiwatch database: rows, bytes on disk, parts (system.parts, not time-filtered).',
      viz: 'table',
      w: 10,
      h: 8,
      sql: `SELECT table, sum(rows) AS rows, sum(bytes_on_disk) AS bytes_on_disk, count() AS parts
FROM system.parts
WHERE active AND database = currentDatabase()
GROUP BY table
ORDER BY bytes_on_disk DESC`,
      columns: [
        { name: 'table', kind: 'string' },
        { name: 'rows', kind: 'number', unit: 'short' },
        { name: 'bytes_on_disk', kind: 'number', unit: 'bytes' },
        { name: 'parts', kind: 'number', unit: 'short' },
      ],
      sort: { column: 'bytes_on_disk', desc: true },
    },
  ]),
};
