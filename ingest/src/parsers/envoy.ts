import { type ApiEvent, type AuthOutcome, buildEvent, err, ok, type Result } from '@apiwatch/core';
import { credentialDraft, type IdentityClues, parseXfcc } from '../identity/draft.ts';
import {
  dash,
  forwardedClient,
  httpMethod,
  httpStatus,
  ipOf,
  latencyMs,
  originForm,
  splitTokens,
  traceParent,
} from './access-log.ts';
import { int, num, parseIsoTime, splitTarget, str } from './fields.ts';
import { parseJson } from './json.ts';
import type { ParseContext, ParseError, Parser, RawRecord } from './types.ts';

/**
 * Envoy access logs (formats.md §1a, §1b): the built-in default text line and `json_format` /
 * `typed_json_format` JSON, told apart per record. JSON keys are user-defined, so the common
 * spellings (Envoy Gateway's hyphenated keys, Istio's snake_case keys, Gloo's) are all read;
 * values may be strings with "-" (older Envoy) or numbers with null (newer). Istio sidecars are
 * Envoy, so Istio's default text layouts are read here too (istio.ts shares this reader).
 */
export const envoyParser: Parser = {
  id: 'envoy',
  title: 'Envoy access log (default text format and JSON, auto-detected)',
  framing: 'auto',
  parse(record: RawRecord, ctx: ParseContext): Result<ApiEvent[], ParseError> {
    return parseEnvoyRecord(record, ctx, 'envoy');
  },
};

export function parseEnvoyRecord(
  record: RawRecord,
  ctx: ParseContext,
  sourceKind: string,
): Result<ApiEvent[], ParseError> {
  if (record.json !== undefined) return fromJson(record.json, record.text, ctx, sourceKind);
  const text = record.text.trim();
  if (text.charCodeAt(0) === 123 /* { */) {
    const json = parseJson(text, `${sourceKind} JSON access log line`);
    return json.ok ? fromJson(json.value, record.text, ctx, sourceKind) : json;
  }
  if (text.charCodeAt(0) === 91 /* [ */) return fromText(text, record.text, ctx, sourceKind);
  return err({
    code: 'INGEST_PARSE_UNRECOGNISED',
    message: `not an ${sourceKind} access log line (text or JSON)`,
  });
}

// ---------------------------------------------------------------------------------------------
// Text: `[START_TIME] "METHOD PATH PROTOCOL" …` in one of three known layouts, told apart by the
// number of tokens after the time (quoted tokens may hold spaces, bare ones cannot).

interface TextLayout {
  name: string;
  status: number;
  flags: number;
  details: number | null;
  bytesIn: number;
  bytesOut: number;
  duration: number;
  xff: number;
  userAgent: number;
  requestId: number;
  authority: number;
  downstreamRemote: number | null;
}

const LAYOUTS = new Map<number, TextLayout>([
  // Envoy's built-in default (§1a).
  [
    12,
    {
      name: 'envoy-default',
      status: 1,
      flags: 2,
      details: null,
      bytesIn: 3,
      bytesOut: 4,
      duration: 5,
      xff: 7,
      userAgent: 8,
      requestId: 9,
      authority: 10,
      downstreamRemote: null,
    },
  ],
  // Istio >= 1.9 default (§2a): adds RESPONSE_CODE_DETAILS and CONNECTION_TERMINATION_DETAILS.
  [
    21,
    {
      name: 'istio-default',
      status: 1,
      flags: 2,
      details: 3,
      bytesIn: 6,
      bytesOut: 7,
      duration: 8,
      xff: 10,
      userAgent: 11,
      requestId: 12,
      authority: 13,
      downstreamRemote: 18,
    },
  ],
  // Istio < 1.9 default: a quoted mixer status where the details are now.
  [
    20,
    {
      name: 'istio-legacy',
      status: 1,
      flags: 2,
      details: null,
      bytesIn: 5,
      bytesOut: 6,
      duration: 7,
      xff: 9,
      userAgent: 10,
      requestId: 11,
      authority: 12,
      downstreamRemote: 17,
    },
  ],
]);

function fromText(
  line: string,
  raw: string,
  ctx: ParseContext,
  sourceKind: string,
): Result<ApiEvent[], ParseError> {
  const close = line.indexOf('] ');
  if (close < 0)
    return err({ code: 'INGEST_PARSE_UNRECOGNISED', message: `${sourceKind} text line has no [START_TIME]` });
  const ts = startTime(line.slice(1, close));
  if (ts === null)
    return err({ code: 'INGEST_PARSE_UNRECOGNISED', message: `${sourceKind} START_TIME not understood` });
  const t = splitTokens(line, close + 2);
  const layout = t ? LAYOUTS.get(t.length) : undefined;
  if (!t || !layout) {
    return err({
      code: 'INGEST_PARSE_UNRECOGNISED',
      message: `${sourceKind} text line is neither the Envoy nor the Istio default format (custom formats: use JSON)`,
    });
  }
  const request = requestLine(t[0]!);
  const status = httpStatus(int(t[layout.status]));
  if (status === null)
    return err({ code: 'INGEST_PARSE_UNRECOGNISED', message: `${sourceKind} RESPONSE_CODE is not a status` });
  const xff = dash(t[layout.xff]);
  const peerIp = layout.downstreamRemote === null ? null : ipOf(dash(t[layout.downstreamRemote]));
  const { path, queryKeys } = splitTarget(request.target);
  return ok([
    buildEvent(
      {
        ts,
        method: request.method,
        path,
        queryKeys,
        status,
        sourceKind,
        raw,
        host: dash(t[layout.authority]),
        requestBytes: int(t[layout.bytesIn]),
        responseBytes: int(t[layout.bytesOut]),
        latencyMs: latencyMs(num(t[layout.duration])),
        requestId: dash(t[layout.requestId]),
        clientIp: forwardedClient(xff) ?? peerIp,
        peerIp,
        userAgent: dash(t[layout.userAgent]),
        auth: authFromFlags(dash(t[layout.flags]), layout.details === null ? null : dash(t[layout.details])),
        gateway: ctx.gateway,
      },
      ctx.now,
    ),
  ]);
}

/** `"GET /p?q HTTP/1.1"`; for a request Envoy could not parse the parts are `-`. */
function requestLine(value: string): { method: string; target: string } {
  const first = value.indexOf(' ');
  const second = first < 0 ? -1 : value.indexOf(' ', first + 1);
  const method = httpMethod(first < 0 ? dash(value) : value.slice(0, first));
  const target =
    first < 0 ? null : dash(second < 0 ? value.slice(first + 1) : value.slice(first + 1, second));
  return { method: method ?? 'UNKNOWN', target: target ? originForm(target) : '/' };
}

/** START_TIME as `2016-04-15T20:17:00.310Z`, or `%START_TIME(%s.%3f)%`-style epoch seconds. */
function startTime(value: string | null): number | null {
  if (!value) return null;
  if (/^\d{9,11}(?:\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  if (/^\d{12,14}$/.test(value)) return Number(value);
  const t = parseIsoTime(value);
  return t !== null && t >= 0 ? t : null;
}

/** Envoy's own record of an authentication denial: ext_authz (UAEX) or jwt_authn. */
function authFromFlags(flags: string | null, details: string | null): AuthOutcome | undefined {
  if (flags?.includes('UAEX')) return 'failure';
  if (details && (details.startsWith('ext_authz_denied') || details.startsWith('jwt_authn_access_denied')))
    return 'failure';
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// JSON: user-defined keys; the spellings below cover Envoy Gateway's default, Istio's default
// (EnvoyJSONLogFormatIstio), Gloo's and the Envoy docs' examples.

const K = {
  time: ['start_time', 'timestamp', 'startTime', 'time', '@timestamp'],
  method: ['method', ':method', 'request_method', 'request_command', 'requestMethod'],
  path: [
    'x-envoy-origin-path',
    'x-envoy-original-path',
    'path',
    ':path',
    'request_uri',
    'uri',
    'original_path',
    'request_path',
  ],
  status: ['response_code', 'status_code', 'status', 'responseCode', 'code'],
  flags: ['response_flags', 'responseFlags'],
  details: ['response_code_details', 'responseCodeDetails'],
  bytesIn: ['bytes_received', 'bytesReceived', 'request_bytes'],
  bytesOut: ['bytes_sent', 'bytesSent', 'response_bytes'],
  duration: ['duration', 'response_duration', 'request_duration', 'duration_ms'],
  xff: ['x-forwarded-for', 'x_forwarded_for', 'forwarded_for', 'xff'],
  userAgent: ['user-agent', 'user_agent', 'userAgent'],
  requestId: ['x-request-id', 'request_id', 'x_request_id', 'requestId'],
  authority: [':authority', 'authority', 'host', 'server_name', 'hostname'],
  scheme: ['scheme', ':scheme', 'x-forwarded-proto', 'x_forwarded_proto'],
  peer: [
    'downstream_direct_remote_address',
    'downstream_remote_address',
    'client_address',
    'downstream_remote_address_without_port',
  ],
  traceId: ['trace_id', 'traceId', 'x-b3-traceid', 'x_b3_traceid'],
  spanId: ['span_id', 'spanId', 'x-b3-spanid', 'x_b3_spanid'],
  traceparent: ['traceparent'],
  peerUriSan: ['downstream_peer_uri_san', 'peer_uri_san', 'source_principal', 'downstream_peer_principal'],
  peerSubject: ['downstream_peer_subject', 'peer_subject'],
  xfcc: ['x-forwarded-client-cert', 'x_forwarded_client_cert', 'xfcc'],
  user: ['user_id', 'user', 'userId', 'end_user', 'x-user-id', 'x_user_id', 'request_auth_principal'],
  tenant: ['tenant', 'tenant_id', 'x-tenant-id', 'x_tenant_id'],
  authorization: ['authorization', 'Authorization', 'x-authorization'],
  apiKey: ['x-api-key', 'x_api_key', 'api-key', 'api_key', 'apikey'],
  extauth: ['extauth', 'ext_authz', 'envoy.filters.http.ext_authz'],
  jwt: ['jwt', 'jwt_payload', 'jwt_claims', 'envoy.filters.http.jwt_authn'],
} as const;

function pick(o: Record<string, unknown>, keys: readonly string[]): unknown {
  for (const k of keys) {
    const v = o[k];
    if (v !== undefined && v !== null && v !== '' && v !== '-') return v;
  }
  return undefined;
}

function fromJson(
  value: unknown,
  raw: string,
  ctx: ParseContext,
  sourceKind: string,
): Result<ApiEvent[], ParseError> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    return err({
      code: 'INGEST_PARSE_UNRECOGNISED',
      message: `${sourceKind} JSON access log record is not an object`,
    });
  }
  const o = value as Record<string, unknown>;
  const status = httpStatus(int(pick(o, K.status)));
  if (status === null)
    return err({
      code: 'INGEST_PARSE_UNRECOGNISED',
      message: `${sourceKind} JSON record has no response code`,
    });
  const timeValue = str(pick(o, K.time));
  const ts = timeValue === null ? ctx.now : startTime(timeValue);
  if (ts === null)
    return err({
      code: 'INGEST_PARSE_UNRECOGNISED',
      message: `${sourceKind} JSON record: start time not understood`,
    });
  const target = str(pick(o, K.path));
  const method = httpMethod(str(pick(o, K.method)));
  if (method === null && target === null) {
    return err({
      code: 'INGEST_PARSE_UNRECOGNISED',
      message: `${sourceKind} JSON record has neither a method nor a path`,
    });
  }
  const { path, queryKeys } = splitTarget(target ? originForm(target) : '/');
  const peerIp = ipOf(str(pick(o, K.peer)));
  const trace = traceParent(str(pick(o, K.traceparent)));
  const clues = jsonIdentityClues(o);
  // A user that ext_authz or jwt_authn put in the log is one Envoy authenticated.
  const auth =
    authFromFlags(str(pick(o, K.flags)), str(pick(o, K.details))) ??
    ((clues.user || clues.jwtClaims) && status < 400 ? 'success' : undefined);
  return ok([
    buildEvent(
      {
        ts,
        method: method ?? 'UNKNOWN',
        path,
        queryKeys,
        status,
        sourceKind,
        raw,
        scheme: str(pick(o, K.scheme)),
        host: str(pick(o, K.authority)),
        requestBytes: int(pick(o, K.bytesIn)),
        responseBytes: int(pick(o, K.bytesOut)),
        latencyMs: latencyMs(num(pick(o, K.duration))),
        requestId: str(pick(o, K.requestId)),
        clientIp: forwardedClient(str(pick(o, K.xff))) ?? peerIp,
        peerIp,
        userAgent: str(pick(o, K.userAgent)),
        traceId: trace?.traceId ?? str(pick(o, K.traceId)),
        spanId: trace?.spanId ?? str(pick(o, K.spanId)),
        auth,
        gateway: ctx.gateway,
        ...credentialDraft(ctx.identity, clues),
      },
      ctx.now,
    ),
  ]);
}

const NESTED_USER_KEYS = ['user_id', 'userId', 'user', 'sub', 'username', 'email'];

function nestedString(value: unknown, keys: readonly string[]): string | null {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return null;
  for (const k of keys) {
    const s = str((value as Record<string, unknown>)[k]);
    if (s !== null) return s;
  }
  return null;
}

function objectOf(value: unknown): Record<string, unknown> | null {
  return value && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

/**
 * Identity in a JSON access log: logged request headers (the record's own keys, read by the
 * source's identity rules), the mTLS peer, and what ext_authz or jwt_authn put in dynamic metadata.
 */
function jsonIdentityClues(o: Record<string, unknown>): IdentityClues {
  const clues: IdentityClues = { headers: o };
  const authorization = str(pick(o, K.authorization));
  if (authorization) clues.authorization = authorization;
  const apiKey = str(pick(o, K.apiKey));
  if (apiKey) clues.apiKey = apiKey;
  const spiffe = str(pick(o, K.peerUriSan));
  const subject = str(pick(o, K.peerSubject));
  const xfcc = parseXfcc(str(pick(o, K.xfcc)))?.subject ?? null;
  const mtls = spiffe ? (spiffe.includes('://') ? spiffe : `spiffe://${spiffe}`) : (subject ?? xfcc);
  if (mtls) {
    clues.mtlsSubject = mtls;
    clues.mtlsVerified = true;
  }
  const claims = objectOf(pick(o, K.jwt));
  if (claims) clues.jwtClaims = claims;
  const user = nestedString(pick(o, K.extauth), NESTED_USER_KEYS) ?? str(pick(o, K.user));
  if (user) clues.user = user;
  const tenant = str(pick(o, K.tenant));
  if (tenant) clues.tenant = tenant;
  return clues;
}
