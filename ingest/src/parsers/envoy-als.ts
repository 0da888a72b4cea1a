import { type ApiEvent, buildEvent, err, ok, type Result, stableEventId } from '@apiwatch/core';
import { decodeJwtClaims } from '../identity/context.ts';
import { credentialDraft } from '../identity/draft.ts';
import { jsonBatchParser, refusedBatch } from './batch.ts';
import { firstForwarded, int, parseIsoTime, rawJson, splitTarget, str } from './fields.ts';
import type { ParseBatch, ParseContext, ParseError, Parser, RawRecord } from './types.ts';

/**
 * Envoy gRPC Access Log Service (docs/formats/envoy-als.md): the proto3 JSON form of
 * `envoy.service.accesslog.v3.StreamAccessLogsMessage` (or one `HTTPAccessLogEntry`, or Gloo
 * Mesh's `{"result": {"httpAccessLog": …}}` wrapper). The gRPC server (sources/envoy-als-grpc.ts)
 * decodes binary messages into this same shape, so both take one path.
 */
export const envoyAlsParser: Parser = jsonBatchParser({
  id: 'envoy-als',
  title: 'Envoy gRPC access log service (StreamAccessLogsMessage / HTTPAccessLogEntry, proto3 JSON)',
  parseValue: alsBatch,
});

const STREAM_IDENTIFIER = 'envoyAlsIdentifier';

function alsBatch(value: unknown, record: RawRecord, ctx: ParseContext): ParseBatch {
  const r = obj(value);
  if (!r)
    return refusedBatch(
      { code: 'INGEST_PARSE_UNRECOGNISED', message: 'envoy-als record is not a JSON object' },
      record.text,
    );
  const wrapped = obj(obj(r.result)?.httpAccessLog);
  const entry = wrapped ?? (obj(r.commonProperties) || obj(r.request) ? r : null);
  if (entry) {
    const one = alsEntryEvent(entry, null, ctx);
    return one.ok
      ? { events: [one.value], texts: [record.text], rejected: [], skipped: 0 }
      : refusedBatch(one.error, record.text);
  }
  if (!obj(r.httpLogs) && !obj(r.tcpLogs) && !obj(r.identifier)) {
    return refusedBatch(
      {
        code: 'INGEST_PARSE_UNRECOGNISED',
        message: 'not an ALS StreamAccessLogsMessage or HTTPAccessLogEntry',
      },
      record.text,
    );
  }
  // Only the first message of a gRPC stream is guaranteed to carry the identifier: keep it.
  const cached = (ctx.stream?.[STREAM_IDENTIFIER] as AlsIdentifier | undefined) ?? null;
  const identifier = alsIdentifier(r) ?? cached;
  if (ctx.stream && identifier) ctx.stream[STREAM_IDENTIFIER] = identifier;
  return alsMessageEvents(r, identifier, ctx);
}

type Obj = Record<string, unknown>;

function obj(value: unknown): Obj | null {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Obj) : null;
}

/** The reporting proxy: only the first message of a gRPC stream carries it, so streams cache it. */
export interface AlsIdentifier {
  nodeId: string | null;
  cluster: string | null;
  logName: string | null;
}

export function alsIdentifier(message: Obj): AlsIdentifier | null {
  const identifier = obj(message.identifier);
  if (!identifier) return null;
  const node = obj(identifier.node);
  return { nodeId: str(node?.id), cluster: str(node?.cluster), logName: str(identifier.logName) };
}

/**
 * Every HTTP entry of one StreamAccessLogsMessage. `streamIdentifier` is the identifier cached
 * from the stream's first message (used when this message has none). TCP entries are not API
 * calls: they are counted as skipped.
 */
export function alsMessageEvents(
  message: Obj,
  streamIdentifier: AlsIdentifier | null,
  ctx: ParseContext,
): ParseBatch {
  const identifier = alsIdentifier(message) ?? streamIdentifier;
  const out: ParseBatch & { texts: string[] } = { events: [], texts: [], rejected: [], skipped: 0 };
  const entries = obj(message.httpLogs)?.logEntry;
  if (Array.isArray(entries)) {
    entries.forEach((entry, index) => {
      const e = obj(entry);
      const raw = rawJson(entry);
      const where = `logEntry[${index}]`;
      if (!e) {
        out.rejected.push({
          index,
          where,
          code: 'INGEST_PARSE_UNRECOGNISED',
          reason: 'log entry is not an object',
          raw,
        });
        return;
      }
      const one = alsEntryEvent(e, identifier, ctx);
      if (one.ok) {
        out.events.push(one.value);
        out.texts.push(raw);
      } else out.rejected.push({ index, where, code: one.error.code, reason: one.error.message, raw });
    });
  }
  const tcp = obj(message.tcpLogs)?.logEntry;
  out.skipped = Array.isArray(tcp) ? tcp.length : 0;
  return out;
}

/** `"0.000151880s"` → ms; null when absent or malformed. */
export function durationMs(value: unknown): number | null {
  if (typeof value === 'string') {
    const m = /^(-?\d+)(?:\.(\d{1,9}))?s$/.exec(value);
    if (!m) return null;
    const ns = BigInt(m[1]!) * 1_000_000_000n + BigInt((m[2] ?? '').padEnd(9, '0') || '0');
    return ns < 0n ? null : Number(ns) / 1e6;
  }
  const d = obj(value);
  if (d) {
    const seconds = Number(d.seconds ?? 0);
    const nanos = Number(d.nanos ?? 0);
    return Number.isFinite(seconds) && Number.isFinite(nanos) ? seconds * 1000 + nanos / 1e6 : null;
  }
  return null;
}

/** RFC 3339 with up to 9 fractional digits → ms. */
function timestampMs(value: unknown): number | null {
  const s = str(value);
  if (!s) return null;
  // Date.parse keeps only milliseconds; cut the extra digits so any engine reads it.
  return parseIsoTime(s.replace(/(\.\d{3})\d+/, '$1'));
}

function address(value: unknown): string | null {
  const socket = obj(obj(value)?.socketAddress);
  return str(socket?.address);
}

const METHODS = [
  'METHOD_UNSPECIFIED',
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
];

function methodOf(value: unknown): string | null {
  // proto3 JSON writes enum names, but integers are legal too.
  const name = typeof value === 'number' ? METHODS[value] : str(value);
  return name && name !== 'METHOD_UNSPECIFIED' && /^[A-Z][A-Z0-9_-]{0,31}$/.test(name) ? name : null;
}

function responseCode(value: unknown): number | null {
  // UInt32Value is a bare number in JSON; a decoded-but-unconverted message is {value}.
  const wrapped = obj(value);
  return int(wrapped ? wrapped.value : value);
}

/** Istio writes principals without the scheme (`cluster.local/ns/default/sa/web`). */
function spiffe(principal: string | null): string | null {
  if (!principal) return null;
  return principal.startsWith('spiffe://') ? principal : `spiffe://${principal}`;
}

function alsEntryEvent(
  entry: Obj,
  identifier: AlsIdentifier | null,
  ctx: ParseContext,
): Result<ApiEvent, ParseError> {
  const common = obj(entry.commonProperties) ?? {};
  const request = obj(entry.request) ?? {};
  const response = obj(entry.response) ?? {};
  const method = methodOf(request.requestMethod);
  if (!method)
    return err({ code: 'INGEST_PARSE_UNRECOGNISED', message: 'ALS entry has no request.requestMethod' });
  const ts = timestampMs(common.startTime);
  if (ts === null)
    return err({ code: 'INGEST_PARSE_UNRECOGNISED', message: 'ALS entry has no commonProperties.startTime' });
  // A missing responseCode means Envoy never sent one (reset, timeout): proto3 omits unset fields.
  const status = responseCode(response.responseCode) ?? 0;
  if (status < 0 || status > 999)
    return err({ code: 'INGEST_PARSE_UNRECOGNISED', message: `ALS responseCode out of range: ${status}` });
  const { path, queryKeys } = splitTarget(str(request.path) ?? '/');
  const headers = obj(request.requestHeaders) ?? {};
  const header = (name: string): string | null => {
    for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return str(v);
    return null;
  };

  const filterMetadata = obj(obj(common.metadata)?.filterMetadata) ?? {};
  const istio = obj(filterMetadata.istio_authn) ?? {};
  const sourcePrincipal = str(istio['source.principal']) ?? str(istio['source.user']);
  const requestPrincipal = str(istio['request.auth.principal']);
  const istioClaims = obj(istio['request.auth.claims']);
  const tls = obj(common.tlsProperties);
  const peerCert = obj(tls?.peerCertificateProperties);
  const sanUri = Array.isArray(peerCert?.subjectAltName)
    ? ((peerCert.subjectAltName as unknown[]).map((s) => str(obj(s)?.uri)).find((u) => u !== null) ?? null)
    : null;
  const peerSubject = sanUri ?? str(peerCert?.subject);
  const jwtClaims = jwtAuthnClaims(filterMetadata);

  // Modern Istio: request.auth.principal is `<iss>/<sub>` of a validated JWT. Older Istio copied
  // the peer principal there, which names the service, not a user.
  const endUser = requestPrincipal && requestPrincipal !== sourcePrincipal ? requestPrincipal : null;
  const slash = endUser ? endUser.lastIndexOf('/') : -1;
  const claims = jwtClaims ?? (istioClaims ? flattenClaims(istioClaims) : null);
  const identity = credentialDraft(ctx.identity, {
    headers,
    mtlsSubject: peerSubject ?? spiffe(sourcePrincipal),
    mtlsVerified: peerSubject !== null || sourcePrincipal !== null,
    service: spiffe(sourcePrincipal),
    jwtClaims:
      claims ??
      (endUser
        ? {
            sub: slash > 0 ? endUser.slice(slash + 1) : endUser,
            ...(slash > 0 ? { iss: endUser.slice(0, slash) } : {}),
          }
        : null),
  });

  const peerIp = address(common.downstreamDirectRemoteAddress) ?? address(common.downstreamRemoteAddress);
  const clientIp = address(common.downstreamRemoteAddress) ?? firstForwarded(request.forwardedFor) ?? peerIp;
  const latency = durationMs(common.duration) ?? durationMs(common.timeToLastDownstreamTxByte);
  const requestBytes = sum(int(request.requestHeadersBytes), int(request.requestBodyBytes));
  const responseBytes = sum(int(response.responseHeadersBytes), int(response.responseBodyBytes));
  const traceparent = header('traceparent');
  const w3c = traceparent ? /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-/.exec(traceparent) : null;
  const b3 = header('x-b3-traceid');
  const details = str(response.responseCodeDetails);
  const auth =
    details &&
    /^(?:ext_authz_denied|ext_authz_error|rbac_access_denied|jwt_authn_access_denied|jwt_verification_fail)/.test(
      details,
    )
      ? 'failure'
      : undefined;
  const raw = rawJson(entry);
  const event = buildEvent(
    {
      ts,
      method,
      path,
      queryKeys,
      status,
      sourceKind: 'envoy-als',
      raw,
      scheme: str(request.scheme),
      host: str(request.authority),
      requestBytes,
      responseBytes,
      latencyMs: latency,
      requestId: str(request.requestId),
      clientIp,
      peerIp,
      userAgent: str(request.userAgent),
      traceId: w3c?.[1] ?? (b3 && /^[0-9a-f]{16,32}$/.test(b3) ? b3 : null),
      spanId: w3c?.[2] ?? null,
      gateway: ctx.gateway ?? identifier?.nodeId ?? identifier?.cluster ?? null,
      ...identity,
      ...(auth ? { auth } : {}),
    },
    ctx.now,
  );
  // One request crosses several proxies (gateway, client sidecar, server sidecar) with one
  // x-request-id: each hop is its own event, so the id also names the reporting proxy and entry.
  event.id = stableEventId('envoy-als', `${identifier?.nodeId ?? ''}\0${raw}`);
  return ok(event);
}

function sum(a: number | null, b: number | null): number | null {
  if (a === null && b === null) return null;
  return (a ?? 0) + (b ?? 0);
}

/** `envoy.filters.http.jwt_authn` metadata: `{<payload_in_metadata>: {claims…}}`. */
function jwtAuthnClaims(filterMetadata: Obj): Record<string, unknown> | null {
  const jwtAuthn = obj(filterMetadata['envoy.filters.http.jwt_authn']) ?? obj(filterMetadata.jwt_authn);
  if (!jwtAuthn) return null;
  for (const v of Object.values(jwtAuthn)) {
    const claims = obj(v);
    if (claims && (typeof claims.sub === 'string' || typeof claims.iss === 'string')) return claims;
    // Some configs store the raw token under a header name: decode (not verify) its claims.
    if (typeof v === 'string') {
      const decoded = decodeJwtClaims(v);
      if (decoded) return decoded;
    }
  }
  return null;
}

/** Istio's request.auth.claims holds each claim as a list. */
function flattenClaims(claims: Obj): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(claims)) out[k] = Array.isArray(v) && v.length === 1 ? v[0] : v;
  return out;
}
