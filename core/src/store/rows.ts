import type { DlqRecord } from '../bus/types.ts';
import type { ApiEvent } from '../model/event.ts';
import type { Finding } from '../model/finding.ts';

/**
 * Events and findings as table rows. Two encodings of the same columns: TSV lines for the fast
 * embedded path (written to tmpfs, read by `INSERT … SELECT … FROM file()`, see
 * docs/decisions/0002-chdb-insert-path.md) and JSONEachRow objects for the server driver.
 */

/** A column as the TSV file carries it, and the expression that turns it into the table's value. */
interface FileColumn {
  name: string;
  fileType: string;
  select?: string;
}

/** The api_events columns in TSV order. Timestamps travel as epoch ms (Int64). */
export const EVENT_FILE_COLUMNS: readonly FileColumn[] = [
  { name: 'id', fileType: 'String' },
  { name: 'ts', fileType: 'Int64', select: "fromUnixTimestamp64Milli(ts, 'UTC')" },
  { name: 'ingest_ts', fileType: 'Int64', select: "fromUnixTimestamp64Milli(ingest_ts, 'UTC')" },
  { name: 'tenant', fileType: 'String' },
  { name: 'method', fileType: 'String' },
  { name: 'scheme', fileType: 'String' },
  { name: 'host', fileType: 'String' },
  { name: 'path', fileType: 'String' },
  { name: 'route', fileType: 'String' },
  { name: 'query_keys', fileType: 'Array(String)' },
  { name: 'status', fileType: 'UInt16' },
  { name: 'latency_ms', fileType: 'Float32' },
  { name: 'request_bytes', fileType: 'UInt32' },
  { name: 'response_bytes', fileType: 'UInt32' },
  { name: 'client_ip', fileType: 'String' },
  { name: 'peer_ip', fileType: 'String' },
  { name: 'user_agent', fileType: 'String' },
  { name: 'credential_kind', fileType: 'String' },
  { name: 'credential_fingerprint', fileType: 'String' },
  { name: 'credential_ref', fileType: 'String' },
  { name: 'credential_issuer', fileType: 'String' },
  { name: 'principal', fileType: 'String' },
  { name: 'service', fileType: 'String' },
  { name: 'user', fileType: 'String' },
  { name: 'scopes', fileType: 'Array(String)' },
  { name: 'auth', fileType: 'String' },
  { name: 'object_names', fileType: 'Array(String)' },
  { name: 'object_ids', fileType: 'Array(String)' },
  { name: 'trace_id', fileType: 'String' },
  { name: 'span_id', fileType: 'String' },
  { name: 'source_kind', fileType: 'String' },
  { name: 'gateway', fileType: 'String' },
  { name: 'collector', fileType: 'String' },
];

export const EVENT_COLUMN_NAMES = EVENT_FILE_COLUMNS.map((c) => c.name);

/** `INSERT INTO api_events (…) SELECT … FROM file(<path>, 'TSV', …)` for a TSV file of events. */
export function eventFileInsertSql(table: string, pathLiteral: string): string {
  const structure = EVENT_FILE_COLUMNS.map((c) => `${c.name} ${c.fileType}`).join(', ');
  const select = EVENT_FILE_COLUMNS.map((c) => c.select ?? c.name).join(', ');
  return `INSERT INTO ${table} (${EVENT_COLUMN_NAMES.join(', ')}) SELECT ${select} FROM file(${pathLiteral}, 'TabSeparated', '${structure}')`;
}

/** TabSeparated escaping of a String field. */
export function tsvString(value: string): string {
  if (!/[\\\t\n\r\0]/.test(value)) return value;
  return value.replace(/[\\\t\n\r\0]/g, (c) => TSV_ESCAPES[c]!);
}

const TSV_ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  '\t': '\\t',
  '\n': '\\n',
  '\r': '\\r',
  '\0': '\\0',
};
const QUOTED_ESCAPES: Record<string, string> = { ...TSV_ESCAPES, "'": "\\'" };

/** An Array(String) field in TabSeparated: `['a','b']`, elements in quoted-string escaping. */
export function tsvStringArray(values: readonly string[]): string {
  if (values.length === 0) return '[]';
  let out = '[';
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (typeof v !== 'string') throw new TypeError('array element is not a string');
    out += `${i ? ',' : ''}'${/[\\\t\n\r\0']/.test(v) ? v.replace(/[\\\t\n\r\0']/g, (c) => QUOTED_ESCAPES[c]!) : v}'`;
  }
  return `${out}]`;
}

function str(v: string | null | undefined): string {
  if (v === null || v === undefined) return '';
  if (typeof v !== 'string') throw new TypeError('expected a string');
  return tsvString(v);
}

function uint(v: number | null | undefined, max: number): string {
  if (v === null || v === undefined) return '0';
  if (!Number.isFinite(v) || v < 0) throw new RangeError(`not a non-negative number: ${v}`);
  return String(Math.min(Math.trunc(v), max));
}

function epochMs(v: number): string {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`not an epoch-ms timestamp: ${v}`);
  return String(v);
}

/**
 * One event as a TSV line (with its newline). Throws on a structurally broken event (missing
 * sections, wrong types): the writer sends such a row to the DLQ instead of failing the batch.
 */
export function eventTsvLine(e: ApiEvent): string {
  const req = e.request;
  const res = e.response;
  const id = e.identity;
  const cred = id.credential;
  const latency = res.latencyMs ?? 0;
  if (!Number.isFinite(latency) || latency < 0)
    throw new RangeError(`latencyMs is not a non-negative number: ${latency}`);
  if (typeof e.id !== 'string' || e.id.length === 0) throw new TypeError('id is not a non-empty string');
  const objectNames: string[] = [];
  const objectIds: string[] = [];
  for (const o of e.objects) {
    objectNames.push(o.name);
    objectIds.push(o.value);
  }
  return `${[
    str(e.id),
    epochMs(e.ts),
    epochMs(e.ingestTs),
    str(id.tenant),
    str(req.method),
    str(req.scheme),
    str(req.host),
    str(req.path),
    str(req.route),
    tsvStringArray(req.queryKeys),
    uint(res.status, 65_535),
    String(latency),
    uint(req.bytes, 4_294_967_295),
    uint(res.bytes, 4_294_967_295),
    str(e.client.ip),
    str(e.client.peerIp),
    str(e.client.userAgent),
    str(cred.kind),
    str(cred.fingerprint),
    str(cred.ref),
    str(cred.issuer),
    str(id.principal),
    str(id.service),
    str(id.user),
    tsvStringArray(id.scopes),
    str(id.auth),
    tsvStringArray(objectNames),
    tsvStringArray(objectIds),
    str(e.trace.traceId),
    str(e.trace.spanId),
    str(e.source.kind),
    str(e.source.gateway),
    str(e.source.collector),
  ].join('\t')}\n`;
}

/** One api_events row as a JSONEachRow object (the server driver's encoding); DateTime64 as epoch ms. */
export function eventRow(e: ApiEvent): Record<string, unknown> {
  return {
    id: e.id,
    ts: e.ts,
    ingest_ts: e.ingestTs,
    tenant: e.identity.tenant ?? '',
    method: e.request.method,
    scheme: e.request.scheme ?? '',
    host: e.request.host ?? '',
    path: e.request.path,
    route: e.request.route ?? '',
    query_keys: e.request.queryKeys,
    status: e.response.status,
    latency_ms: e.response.latencyMs ?? 0,
    request_bytes: e.request.bytes ?? 0,
    response_bytes: e.response.bytes ?? 0,
    client_ip: e.client.ip ?? '',
    peer_ip: e.client.peerIp ?? '',
    user_agent: e.client.userAgent ?? '',
    credential_kind: e.identity.credential.kind,
    credential_fingerprint: e.identity.credential.fingerprint ?? '',
    credential_ref: e.identity.credential.ref ?? '',
    credential_issuer: e.identity.credential.issuer ?? '',
    principal: e.identity.principal,
    service: e.identity.service ?? '',
    user: e.identity.user ?? '',
    scopes: e.identity.scopes,
    auth: e.identity.auth,
    object_names: e.objects.map((o) => o.name),
    object_ids: e.objects.map((o) => o.value),
    trace_id: e.trace.traceId ?? '',
    span_id: e.trace.spanId ?? '',
    source_kind: e.source.kind,
    gateway: e.source.gateway ?? '',
    collector: e.source.collector ?? '',
  };
}

export function findingRow(f: Finding): Record<string, unknown> {
  if (typeof f.id !== 'string' || !f.id || typeof f.detector !== 'string')
    throw new TypeError('not a finding');
  const resolved = f.status === 'resolved';
  return {
    id: f.id,
    fingerprint: f.fingerprint,
    detector: f.detector,
    family: f.family ?? f.detector.slice(0, f.detector.indexOf('.')),
    status: f.status ?? 'firing',
    // ReplacingMergeTree(version): the newest update of an episode wins; resolved beats firing.
    version: String(BigInt(Math.max(0, Math.floor(f.detectedAt))) * 2n + (resolved ? 1n : 0n)),
    title: f.title ?? '',
    severity: f.severity,
    confidence: f.confidence,
    entity_kind: f.entity.kind,
    entity_id: f.entity.id,
    entity_name: f.entity.name ?? '',
    entity_ref: f.entity.ref ?? '',
    route: f.route ?? '',
    method: f.method ?? '',
    tenant: f.tenant ?? '',
    first_seen: f.firstSeen,
    last_seen: f.lastSeen,
    ended_at: f.endedAt ?? null,
    detected_at: f.detectedAt,
    owasp: f.owasp,
    nist: f.nist,
    observed: f.evidence?.observed ?? 0,
    baseline: f.evidence?.baseline ?? null,
    labels: f.labels ?? {},
    summary: f.summary,
    body: JSON.stringify(f),
  };
}

/** A response action as response_actions_audit stores it (written by the alerting actions). */
export interface ResponseActionAudit {
  ts: number;
  actionId: string;
  action: string;
  mode: 'auto' | 'manual' | 'dry_run';
  outcome: 'executed' | 'skipped' | 'denied' | 'failed';
  targetKind: string;
  targetRef: string;
  gateway: string;
  findingId: string;
  findingFingerprint: string;
  detector: string;
  initiatedBy: string;
  reason: string;
  responseStatus: number;
  details: Record<string, unknown>;
}

export function auditRow(a: ResponseActionAudit): Record<string, unknown> {
  return {
    ts: a.ts,
    action_id: a.actionId,
    action: a.action,
    mode: a.mode,
    outcome: a.outcome,
    target_kind: a.targetKind,
    target_ref: a.targetRef,
    gateway: a.gateway,
    finding_id: a.findingId,
    finding_fingerprint: a.findingFingerprint,
    detector: a.detector,
    initiated_by: a.initiatedBy,
    reason: a.reason,
    response_status: a.responseStatus,
    details: JSON.stringify(a.details),
  };
}

/** One dead_letters row (the DLQ kept in the store). */
export function dlqRow(d: DlqRecord): Record<string, unknown> {
  return {
    ts: d.ts,
    source: d.source,
    collector: d.collector ?? '',
    code: d.code,
    reason: d.reason,
    raw: d.raw,
  };
}

/**
 * One delivery attempt of a notification (notification_deliveries), as the delivery queue
 * decided it: delivered, retried (attempts left) or dead_lettered (permanent, or the last attempt).
 */
export interface NotificationDeliveryRecord {
  /** When the receiver answered, ms epoch. */
  ts: number;
  notificationId: string;
  receiver: string;
  type: string;
  groupKey: string;
  /** The notification's status: firing or resolved. */
  status: string;
  /** 1 for the first attempt. */
  attempt: number;
  outcome: 'delivered' | 'retried' | 'dead_lettered';
  /** '' when delivered, else the ALERT_DELIVERY_* code. */
  code: string;
  /** The receiver's HTTP status; 0 when there was none (timeout, network). */
  httpStatus: number;
  /** How long the send took, ms. */
  sendMs: number;
  /** When the notification was queued (Notification.queuedAt), ms epoch. */
  queuedAt: number;
  findings: number;
  error: string;
}

export function deliveryRow(d: NotificationDeliveryRecord): Record<string, unknown> {
  return {
    ts: d.ts,
    notification_id: d.notificationId,
    receiver: d.receiver,
    type: d.type,
    group_key: d.groupKey,
    status: d.status,
    attempt: d.attempt,
    outcome: d.outcome,
    code: d.code,
    http_status: d.httpStatus,
    send_ms: Math.max(0, Math.round(d.sendMs)),
    queued_at: d.queuedAt,
    latency_ms: Math.max(0, Math.round(d.ts - d.queuedAt)),
    findings: d.findings,
    error: d.error.slice(0, 2000),
  };
}

/** An uploaded OpenAPI document (api_specs): the newest upload of a name is the current one. */
export interface ApiSpecRecord {
  name: string;
  uploadedAt: number;
  uploadedBy: string;
  title: string;
  version: string;
  /** The document's `openapi` field (3.0.x, 3.1.x). */
  openapi: string;
  operations: number;
  sha256: string;
  bytes: number;
  /** The document as uploaded (JSON or YAML text). */
  document: string;
}

export function apiSpecRow(s: ApiSpecRecord): Record<string, unknown> {
  return {
    name: s.name,
    uploaded_at: s.uploadedAt,
    uploaded_by: s.uploadedBy,
    title: s.title,
    version: s.version,
    openapi: s.openapi,
    operations: s.operations,
    sha256: s.sha256,
    bytes: s.bytes,
    document: s.document,
  };
}

/** A revoked API token (api_token_revocations): its hash, never the token. */
export interface TokenRevocation {
  tokenSha256: string;
  tokenId: string;
  name: string;
  role: string;
  revokedAt: number;
  revokedBy: string;
  reason: string;
}

export function tokenRevocationRow(r: TokenRevocation): Record<string, unknown> {
  return {
    token_sha256: r.tokenSha256,
    token_id: r.tokenId,
    name: r.name,
    role: r.role,
    revoked_at: r.revokedAt,
    revoked_by: r.revokedBy,
    reason: r.reason,
  };
}
