import { gunzipSync } from 'node:zlib';
import {
  type ApiEvent,
  type AuthOutcome,
  buildEvent,
  type CredentialKind,
  err,
  ok,
  type Result,
} from '@apiwatch/core';
import { credentialDraft } from '../identity/draft.ts';
import { jsonBatchParser } from './batch.ts';
import { int, num, parseClfTime, rawJson, splitTarget, str } from './fields.ts';
import { parseJson } from './json.ts';
import type { ParseBatch, ParseContext, ParseError, ParseErrorCode, Parser } from './types.ts';

/**
 * AWS API Gateway (docs/formats/aws-apigw.md): REST and HTTP API `$context` access-log JSON, and
 * the envelopes it travels in — a Kinesis Firehose HTTP-endpoint delivery or transformation event
 * (`records[].data`, base64), a CloudWatch Logs subscription (`awslogs.data`, base64 gzip JSON,
 * or the decoded `logEvents` envelope) — plus the Lambda proxy request event (v1 and v2).
 */
export const awsApigwParser: Parser = jsonBatchParser({
  id: 'aws-apigw',
  title: 'AWS API Gateway access logs (JSON; Firehose and CloudWatch Logs envelopes; Lambda proxy events)',
  parseValue: (value, record, ctx) => awsApigwEntries(value, record.text, ctx),
});

interface AwsEntries extends ParseBatch {
  texts: string[];
}

type Obj = Record<string, unknown>;

function pushEvent(out: AwsEntries, event: ApiEvent, text: string): void {
  out.events.push(event);
  out.texts.push(text);
}

function reject(out: AwsEntries, where: string, code: ParseErrorCode, reason: string, raw: string): void {
  out.rejected.push({ index: out.rejected.length, where, code, reason, raw });
}

function obj(value: unknown): Obj | null {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Obj) : null;
}

/** Largest decompressed CloudWatch Logs payload accepted (a gzip bomb stops here). */
const MAX_INFLATED_BYTES = 32 * 1024 * 1024;

/**
 * Every access-log entry in one record, whatever envelope holds it. Entries that cannot be read
 * are returned one by one so a push endpoint can report and dead-letter each.
 */
export function awsApigwEntries(value: unknown, text: string, ctx: ParseContext): ParseBatch {
  const out: AwsEntries = { events: [], texts: [], rejected: [], skipped: 0 };
  collect(value, text, ctx, 'record', out, 0);
  return out;
}

function collect(
  value: unknown,
  text: string,
  ctx: ParseContext,
  where: string,
  out: AwsEntries,
  depth: number,
): void {
  if (depth > 4) {
    reject(out, where, 'INGEST_PARSE_UNRECOGNISED', 'envelopes nested too deep', text);
    return;
  }
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries())
      collect(item, rawJson(item), ctx, `${where}[${i}]`, out, depth + 1);
    return;
  }
  const r = obj(value);
  if (!r) {
    reject(out, where, 'INGEST_PARSE_UNRECOGNISED', 'not a JSON object', text);
    return;
  }
  // CloudWatch Logs subscription as delivered to Lambda: {"awslogs": {"data": base64(gzip(json))}}.
  const awslogs = obj(r.awslogs);
  if (awslogs && typeof awslogs.data === 'string') {
    const decoded = decodeData(awslogs.data, ctx);
    if (!decoded.ok) {
      reject(out, `${where}.awslogs.data`, 'INGEST_PARSE_UNRECOGNISED', decoded.reason, text);
      return;
    }
    collectText(decoded.text, ctx, `${where}.awslogs.data`, out, depth + 1, null);
    return;
  }
  // The decoded CloudWatch Logs envelope.
  if (Array.isArray(r.logEvents) && typeof r.messageType === 'string') {
    // CONTROL_MESSAGE is CloudWatch checking that the destination is reachable: no log data.
    if (r.messageType !== 'DATA_MESSAGE') return;
    r.logEvents.forEach((le, i) => {
      const logEvent = obj(le);
      const message = logEvent ? str(logEvent.message) : null;
      const at = `${where}.logEvents[${i}]`;
      if (!message) {
        reject(out, at, 'INGEST_PARSE_UNRECOGNISED', 'log event has no message', rawJson(le));
        return;
      }
      collectText(message, ctx, at, out, depth + 1, num(logEvent?.timestamp));
    });
    return;
  }
  // Firehose HTTP endpoint delivery ({requestId, timestamp, records}) or transformation event
  // ({invocationId, deliveryStreamArn, records}): each data is base64 of one or more log lines.
  if (
    Array.isArray(r.records) &&
    (typeof r.requestId === 'string' ||
      typeof r.invocationId === 'string' ||
      typeof r.deliveryStreamArn === 'string')
  ) {
    r.records.forEach((fr, i) => {
      const data = obj(fr)?.data;
      const at = `${where}.records[${i}]`;
      if (typeof data !== 'string') {
        reject(out, at, 'INGEST_PARSE_UNRECOGNISED', 'Firehose record has no base64 data', rawJson(fr));
        return;
      }
      const pre = (fr as { [DECODED_DATA]?: unknown })[DECODED_DATA];
      const decoded =
        typeof pre === 'string'
          ? { ok: true as const, text: pre }
          : pre && typeof pre === 'object'
            ? { ok: false as const, reason: String((pre as { reason: unknown }).reason) }
            : decodeData(data, ctx);
      if (!decoded.ok) {
        reject(out, at, 'INGEST_PARSE_UNRECOGNISED', decoded.reason, rawJson(fr));
        return;
      }
      collectText(decoded.text, ctx, at, out, depth + 1, num(obj(fr)?.approximateArrivalTimestamp));
    });
    return;
  }
  const one =
    r.requestContext && (r.httpMethod || r.rawPath !== undefined || r.version)
      ? lambdaEvent(r, text, ctx)
      : accessLog(r, text, ctx, null);
  if (one.ok) pushEvent(out, one.value, text);
  else reject(out, where, one.error.code, one.error.message, text);
}

/** A decoded payload: one JSON document, or newline-separated access-log lines. */
function collectText(
  text: string,
  ctx: ParseContext,
  where: string,
  out: AwsEntries,
  depth: number,
  fallbackTs: number | null,
): void {
  const trimmed = text.trim();
  if (!trimmed) return;
  const whole = tryJson(trimmed);
  if (whole.ok && (!obj(whole.value) || !looksLikeAccessLog(whole.value as Obj))) {
    collect(whole.value, trimmed, ctx, where, out, depth);
    return;
  }
  const lines = whole.ok ? [trimmed] : trimmed.split('\n').filter((l) => l.trim());
  lines.forEach((line, i) => {
    const at = lines.length > 1 ? `${where} line ${i + 1}` : where;
    const parsed = whole.ok ? whole : tryJson(line);
    if (!parsed.ok) {
      reject(out, at, 'INGEST_PARSE_INVALID_JSON', `not an access-log JSON line: ${parsed.reason}`, line);
      return;
    }
    const r = obj(parsed.value);
    if (!r) {
      reject(out, at, 'INGEST_PARSE_UNRECOGNISED', 'not a JSON object', line);
      return;
    }
    if (!looksLikeAccessLog(r)) {
      collect(r, line, ctx, at, out, depth);
      return;
    }
    const one = accessLog(r, line, ctx, fallbackTs);
    if (one.ok) pushEvent(out, one.value, line);
    else reject(out, at, one.error.code, one.error.message, line);
  });
}

function looksLikeAccessLog(r: Obj): boolean {
  return !('awslogs' in r) && !('logEvents' in r) && !('records' in r);
}

function tryJson(text: string): { ok: true; value: unknown } | { ok: false; reason: string } {
  const parsed = parseJson(text, 'entry');
  return parsed.ok ? parsed : { ok: false, reason: parsed.error.message };
}

/**
 * Firehose record data a push source already decoded (asynchronously, within the request's
 * inflated-bytes budget: sources/firehose.ts), set on the record object under this key: the text,
 * or `{ reason }` when it could not be decoded.
 */
export const DECODED_DATA: unique symbol = Symbol('apiwatch.firehose.decodedData');

function decodeData(
  data: string,
  ctx: ParseContext,
): { ok: true; text: string } | { ok: false; reason: string } {
  if (!/^[A-Za-z0-9+/=\s_-]*$/.test(data)) return { ok: false, reason: 'data is not base64' };
  const bytes = Buffer.from(data, 'base64');
  if (isGzip(bytes)) {
    const max = ctx.maxSyncInflateBytes ?? MAX_INFLATED_BYTES;
    if (max <= 0)
      return {
        ok: false,
        reason: 'gzip data nested inside a delivery is not inflated; send it as the record data',
      };
    try {
      return { ok: true, text: gunzipSync(bytes, { maxOutputLength: max }).toString('utf8') };
    } catch (e) {
      return { ok: false, reason: `gzip data could not be inflated: ${(e as Error).message}` };
    }
  }
  return { ok: true, text: bytes.toString('utf8') };
}

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * A field of a `$context` access-log template. Templates name keys freely; apiwatch reads the
 * variable name itself flat (`"identity.sourceIp"`), nested (`{"identity": {"sourceIp": …}}`), or
 * one of the console presets' short names (`ip`, `caller`, `user`).
 */
function ctxField(r: Obj, ...names: string[]): unknown {
  for (const name of names) {
    let v: unknown = r[name];
    if (v === undefined && name.includes('.')) {
      v = r;
      for (const part of name.split('.')) v = obj(v)?.[part];
    }
    if (v !== undefined && v !== null && v !== '' && v !== '-') return v;
  }
  return undefined;
}

const AUTH_FAILURE_TYPES = new Set([
  'UNAUTHORIZED',
  'ACCESS_DENIED',
  'INVALID_API_KEY',
  'EXPIRED_TOKEN',
  'INVALID_SIGNATURE',
  'MISSING_AUTHENTICATION_TOKEN',
  'AUTHORIZER_FAILURE',
  'AUTHORIZER_CONFIGURATION_ERROR',
]);

function accessLog(
  r: Obj,
  raw: string,
  ctx: ParseContext,
  fallbackTs: number | null,
): Result<ApiEvent, ParseError> {
  const routeKey = str(ctxField(r, 'routeKey'));
  const routeKeyMatch = routeKey ? /^([A-Z]+|ANY) (\/\S*)$/.exec(routeKey) : null;
  const method =
    str(ctxField(r, 'httpMethod', 'http.method', 'method')) ??
    (routeKeyMatch && routeKeyMatch[1] !== 'ANY' ? routeKeyMatch[1]! : null);
  if (!method || !/^[A-Za-z][A-Za-z0-9_-]{0,31}$/.test(method)) {
    return err({
      code: 'INGEST_PARSE_UNRECOGNISED',
      message: 'not an API Gateway access log: no httpMethod (log $context.httpMethod)',
    });
  }
  const status = int(ctxField(r, 'status', 'statusCode'));
  if (status === null || status < 0 || status > 999) {
    return err({
      code: 'INGEST_PARSE_UNRECOGNISED',
      message: 'API Gateway access log has no status (log $context.status)',
    });
  }
  const epoch = num(ctxField(r, 'requestTimeEpoch', 'timeEpoch'));
  const clf = str(ctxField(r, 'requestTime', 'time'));
  const ts =
    epoch ?? (clf ? parseClfTime(clf.replace(/:(\d{2})([+-]\d{4})$/, ':$1 $2')) : null) ?? fallbackTs;
  if (ts === null) {
    return err({
      code: 'INGEST_PARSE_UNRECOGNISED',
      message: 'API Gateway access log has no time (log $context.requestTimeEpoch)',
    });
  }
  const stage = str(ctxField(r, 'stage'));
  const resourcePath = str(ctxField(r, 'resourcePath'));
  const route = normaliseRoute(resourcePath ?? routeKeyMatch?.[2] ?? null);
  const rawPath = str(ctxField(r, 'path', 'http.path', 'rawPath'));
  // REST `$context.path` carries the stage (`/prod/pets/1`) while resourcePath does not; strip it
  // so path and route line up. The stage stays in source.gateway.
  const target = stripStage(rawPath, stage) ?? route ?? '/';
  const { path, queryKeys } = splitTarget(target);
  const sourceIp = str(ctxField(r, 'identity.sourceIp', 'sourceIp', 'ip', 'http.sourceIp'));

  const identity = awsIdentity(
    {
      apiKey: str(ctxField(r, 'identity.apiKey', 'apiKey')),
      apiKeyId: str(ctxField(r, 'identity.apiKeyId', 'apiKeyId')),
      principalId: str(ctxField(r, 'authorizer.principalId', 'principalId')),
      claims: claimsOf(r),
      subjectDN: str(
        ctxField(
          r,
          'identity.clientCert.subjectDN',
          'clientCert.subjectDN',
          'authentication.clientCert.subjectDN',
        ),
      ),
      issuerDN: str(ctxField(r, 'identity.clientCert.issuerDN', 'clientCert.issuerDN')),
      serialNumber: str(ctxField(r, 'identity.clientCert.serialNumber', 'clientCert.serialNumber')),
      userArn: str(ctxField(r, 'identity.userArn', 'userArn')),
      caller: str(ctxField(r, 'identity.caller', 'caller')),
      accessKey: str(ctxField(r, 'identity.accessKey', 'accessKey')),
      cognitoIdentityId: str(ctxField(r, 'identity.cognitoIdentityId', 'cognitoIdentityId')),
      user: str(ctxField(r, 'identity.user', 'user')),
      scopes: [],
    },
    ctx,
  );
  const errorType = str(ctxField(r, 'error.responseType', 'errorResponseType', 'responseType'));
  const authorizerStatus = int(ctxField(r, 'authorizer.status', 'authorize.status'));
  let auth: AuthOutcome | undefined;
  if (
    (errorType && AUTH_FAILURE_TYPES.has(errorType)) ||
    authorizerStatus === 401 ||
    authorizerStatus === 403
  )
    auth = 'failure';

  const latency = num(ctxField(r, 'responseLatency', 'latency'));
  const xray = str(ctxField(r, 'xrayTraceId'));
  const apiId = str(ctxField(r, 'apiId'));
  const event = buildEvent(
    {
      ts,
      method,
      path,
      queryKeys,
      route,
      status,
      sourceKind: 'aws-apigw',
      raw,
      scheme: 'https',
      host: str(ctxField(r, 'domainName')),
      requestBytes: nonNegative(int(ctxField(r, 'requestLength', 'requestSize'))),
      responseBytes: nonNegative(int(ctxField(r, 'responseLength'))),
      latencyMs: latency === null || latency < 0 ? null : latency,
      requestId: str(ctxField(r, 'requestId', 'extendedRequestId')),
      clientIp: sourceIp,
      peerIp: sourceIp,
      userAgent: str(ctxField(r, 'identity.userAgent', 'userAgent', 'http.userAgent')),
      traceId: xrayToW3c(xray),
      gateway: ctx.gateway ?? (apiId ? (stage ? `${apiId}/${stage}` : apiId) : null),
      ...identity,
      ...(auth ? { auth } : {}),
    },
    ctx.now,
  );
  return ok(event);
}

function claimsOf(r: Obj): Record<string, unknown> | null {
  const nested = obj(ctxField(r, 'authorizer.claims', 'authorizer.jwt.claims', 'claims'));
  if (nested) return nested;
  // Flat template keys such as "authorizer.claims.sub": gather them.
  const claims: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) {
    const m = /^(?:authorizer\.(?:jwt\.)?claims\.|claims\.)(.+)$/.exec(k);
    if (m && v !== '-' && v !== '') claims[m[1]!] = v;
  }
  return Object.keys(claims).length > 0 ? claims : null;
}

interface AwsIdentityClues {
  apiKey: string | null;
  apiKeyId: string | null;
  principalId: string | null;
  claims: Record<string, unknown> | null;
  subjectDN: string | null;
  userArn: string | null;
  caller: string | null;
  accessKey: string | null;
  cognitoIdentityId: string | null;
  user: string | null;
  scopes: string[];
  issuerDN?: string | null;
  serialNumber?: string | null;
  headers?: Obj | null;
}

/**
 * API Gateway identities: authorizer claims or principalId name the user, a client_id claim or an
 * IAM role ARN the calling service, apiKeyId is the key's non-secret ref (the raw `apiKey`, when a
 * template logs it, is only fingerprinted), and a client certificate DN is an mTLS identity.
 */
function awsIdentity(c: AwsIdentityClues, ctx: ParseContext) {
  const base = credentialDraft(ctx.identity, {
    headers: c.headers ?? null,
    apiKey: c.apiKey,
    jwtClaims: c.claims,
    scopes: c.scopes,
    mtlsSubject: c.subjectDN,
    // API Gateway verified the certificate against the domain's trust store before logging it.
    mtlsVerified: c.subjectDN !== null,
    mtlsIssuer: c.issuerDN,
    mtlsRef: c.serialNumber,
    // A Lambda authorizer's principalId names the user when no JWT claims do.
    user: c.claims ? null : (c.principalId ?? c.cognitoIdentityId),
    credentialRef: c.apiKeyId,
  });
  let kind: CredentialKind = base.credentialKind ?? 'none';
  let service = base.service ?? null;
  let ref = base.credentialRef ?? null;
  let user = base.user ?? null;
  if (c.apiKeyId && kind === 'none') kind = 'api_key';
  if (c.userArn || c.accessKey) {
    // IAM (SigV4): the role or user ARN is the calling workload; the access key id is its ref.
    // The canonical model has no SigV4 kind; a signed request is closest to a session credential.
    if (kind === 'none') kind = 'session';
    service ??= c.userArn ?? c.caller;
    ref ??= c.accessKey;
  }
  if (kind === 'none' && c.user) user ??= c.user;
  return { ...base, credentialKind: kind, credentialRef: ref, service, user };
}

function headerValue(headers: Obj, name: string): string | null {
  for (const [k, v] of Object.entries(headers))
    if (k.toLowerCase() === name) return str(Array.isArray(v) ? v[0] : v);
  return null;
}

/** The API Gateway Lambda proxy request event (payload v1 and v2): a request with no response yet. */
function lambdaEvent(r: Obj, raw: string, ctx: ParseContext): Result<ApiEvent, ParseError> {
  const rc = obj(r.requestContext)!;
  const http = obj(rc.http);
  const v1Identity = obj(rc.identity);
  const method = str(http?.method) ?? str(r.httpMethod) ?? str(rc.httpMethod);
  if (!method)
    return err({ code: 'INGEST_PARSE_UNRECOGNISED', message: 'Lambda proxy event has no HTTP method' });
  const ts =
    num(rc.timeEpoch) ??
    num(rc.requestTimeEpoch) ??
    (str(rc.time) ? parseClfTime(str(rc.time)!.replace(/:(\d{2})([+-]\d{4})$/, ':$1 $2')) : null);
  if (ts === null)
    return err({ code: 'INGEST_PARSE_UNRECOGNISED', message: 'Lambda proxy event has no request time' });
  const stage = str(rc.stage);
  const rawPath = str(r.rawPath) ?? str(http?.path) ?? str(r.path) ?? '/';
  const query = str(r.rawQueryString);
  const { path, queryKeys } = splitTarget(
    query ? `${stripStage(rawPath, stage)}?${query}` : (stripStage(rawPath, stage) ?? '/'),
  );
  const multi = obj(r.multiValueQueryStringParameters) ?? obj(r.queryStringParameters);
  if (multi)
    for (const k of Object.keys(multi))
      if (!queryKeys.includes(k) && queryKeys.length < 128) queryKeys.push(k);
  const routeKey = str(r.routeKey) ?? str(rc.routeKey);
  const route = normaliseRoute(
    str(r.resource) ??
      str(rc.resourcePath) ??
      (routeKey ? (/^[A-Z]+ (\/\S*)$/.exec(routeKey)?.[1] ?? null) : null),
  );
  const authorizer = obj(rc.authorizer);
  const jwt = obj(authorizer?.jwt);
  const authn = obj(rc.authentication);
  const cert = obj(authn?.clientCert) ?? obj(v1Identity?.clientCert);
  const headers = obj(r.headers);
  const sourceIp = str(http?.sourceIp) ?? str(v1Identity?.sourceIp);
  const identity = awsIdentity(
    {
      apiKey: str(v1Identity?.apiKey),
      apiKeyId: str(v1Identity?.apiKeyId),
      principalId: str(authorizer?.principalId),
      claims: obj(jwt?.claims) ?? obj(authorizer?.claims),
      subjectDN: str(cert?.subjectDN),
      issuerDN: str(cert?.issuerDN),
      serialNumber: str(cert?.serialNumber),
      userArn: str(v1Identity?.userArn),
      caller: str(v1Identity?.caller),
      accessKey: str(v1Identity?.accessKey),
      cognitoIdentityId: str(v1Identity?.cognitoIdentityId),
      user: str(v1Identity?.user),
      scopes: Array.isArray(jwt?.scopes)
        ? (jwt.scopes as unknown[]).filter((s): s is string => typeof s === 'string')
        : [],
      headers,
    },
    ctx,
  );
  const apiId = str(rc.apiId);
  const traceHeader = headers ? headerValue(headers, 'x-amzn-trace-id') : null;
  return ok(
    buildEvent(
      {
        ts,
        method,
        path,
        queryKeys,
        route,
        // A proxy request event is logged before the integration answers: no status yet.
        status: 0,
        sourceKind: 'aws-apigw',
        raw,
        scheme: 'https',
        host: str(rc.domainName),
        requestId: str(rc.requestId),
        clientIp: sourceIp,
        peerIp: sourceIp,
        userAgent: str(http?.userAgent) ?? str(v1Identity?.userAgent),
        traceId: xrayToW3c(traceHeader),
        gateway: ctx.gateway ?? (apiId ? (stage ? `${apiId}/${stage}` : apiId) : null),
        ...identity,
        // The integration only sees requests the authorizers let through.
        auth: identity.credentialKind === 'none' ? 'none' : 'success',
      },
      ctx.now,
    ),
  );
}

/** API Gateway routes are real templates: `/pets/{petId}`, `/{proxy+}`. `$default` is none. */
function normaliseRoute(route: string | null): string | null {
  if (!route || route.startsWith('$')) return null;
  return route.startsWith('/') ? route : null;
}

function stripStage(path: string | null, stage: string | null): string | null {
  if (!path) return null;
  if (!stage || stage === '$default') return path;
  const prefix = `/${stage}`;
  if (path === prefix) return '/';
  return path.startsWith(`${prefix}/`) ? path.slice(prefix.length) : path;
}

/** `1-5759e988-bd862e3fe1be46a994272793` (or `Root=1-…;Parent=…`) → the 32-hex W3C trace id. */
function xrayToW3c(value: string | null): string | null {
  if (!value) return null;
  const m = /(?:^|Root=)1-([0-9a-f]{8})-([0-9a-f]{24})/i.exec(value);
  return m ? `${m[1]}${m[2]}`.toLowerCase() : null;
}

function nonNegative(n: number | null): number | null {
  return n === null || n < 0 ? null : n;
}
