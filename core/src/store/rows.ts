import { actorKey } from '../model/actor.ts';
import type { ApiEvent } from '../model/event.ts';
import type { Finding } from '../model/finding.ts';

/** One api_events row as JSONEachRow; column names are the table's (see store/schema.ts). */
export function eventRow(e: ApiEvent): Record<string, unknown> {
  return {
    id: e.id,
    ts: e.ts,
    ingest_ts: e.ingestTs,
    method: e.request.method,
    host: e.request.host ?? '',
    path: e.request.path,
    route: e.request.route ?? '',
    status: e.response.status,
    latency_ms: e.response.latencyMs ?? 0,
    request_bytes: e.request.bytes ?? 0,
    response_bytes: e.response.bytes ?? 0,
    client_ip: e.client.ip ?? '',
    user_agent: e.client.userAgent ?? '',
    credential_kind: e.identity.credential.kind,
    credential_fingerprint: e.identity.credential.fingerprint ?? '',
    credential_ref: e.identity.credential.ref ?? '',
    service: e.identity.service ?? '',
    user: e.identity.user ?? '',
    tenant: e.identity.tenant ?? '',
    auth: e.identity.auth,
    actor: actorKey(e),
    object_ids: e.objects.map((o) => o.value),
    source_kind: e.source.kind,
    collector: e.source.collector ?? '',
    trace_id: e.trace.traceId ?? '',
  };
}

export function findingRow(f: Finding): Record<string, unknown> {
  return {
    id: f.id,
    fingerprint: f.fingerprint,
    detector: f.detector,
    severity: f.severity,
    confidence: f.confidence,
    entity_kind: f.entity.kind,
    entity_id: f.entity.id,
    route: f.route ?? '',
    method: f.method ?? '',
    tenant: f.tenant ?? '',
    first_seen: f.firstSeen,
    last_seen: f.lastSeen,
    detected_at: f.detectedAt,
    owasp: f.owasp,
    nist: f.nist,
    summary: f.summary,
    body: JSON.stringify(f),
  };
}
