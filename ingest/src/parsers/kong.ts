import { type ApiEvent, buildEvent, type CredentialKind, err, ok, type Result } from '@apiwatch/core';
import { credentialDraft } from '../identity/draft.ts';
import { jsonBatchParser } from './batch.ts';
import { int, num, rawJson, splitTarget, str } from './fields.ts';
import type { ParseBatch, ParseContext, ParseError, Parser, RawRecord } from './types.ts';

/**
 * Kong Gateway log plugins (http-log, file-log, tcp/udp-log, syslog): one `kong.log.serialize()`
 * object per request, from the 0.x `api` era to 3.x (docs/formats/kong.md). An http-log body is a
 * JSON array (batched) or one object; the framing layer hands over one element at a time.
 */
export const kongParser: Parser = jsonBatchParser({
  id: 'kong',
  title: 'Kong Gateway log plugins (kong.log.serialize, 0.x to 3.x)',
  parseValue: kongBatch,
});

/** One record, or a whole http-log batch (a JSON array) handed over as one record. */
function kongBatch(value: unknown, record: RawRecord, ctx: ParseContext): ParseBatch {
  const batch = Array.isArray(value);
  const items: unknown[] = batch ? value : [value];
  const out: ParseBatch & { texts: string[] } = { events: [], texts: [], rejected: [], skipped: 0 };
  items.forEach((item, index) => {
    const text = batch ? rawJson(item) : record.text;
    const one = parseEntry(item, text, ctx);
    if (one.ok) {
      out.events.push(one.value);
      out.texts.push(text);
    } else {
      // Kong logs every query value and credential headers: keep a copy without them.
      const raw = obj(item) ? rawJson(redactKongRecord(item)) : text;
      out.rejected.push({ index, code: one.error.code, reason: one.error.message, raw });
    }
  });
  return out;
}

type Obj = Record<string, unknown>;

function obj(value: unknown): Obj | null {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Obj) : null;
}

/** A header value: Kong logs repeated headers as arrays; the first one is what most servers read. */
function header(headers: Obj | null, name: string): string | null {
  const v = headers?.[name];
  return str(Array.isArray(v) ? v[0] : v);
}

/** Query parameter names key-auth reads by default, plus the common alternatives. */
const API_KEY_PARAMS = ['apikey', 'api_key', 'api-key', 'x-api-key'];

function parseEntry(value: unknown, raw: string, ctx: ParseContext): Result<ApiEvent, ParseError> {
  const r = obj(value);
  if (!r) return err({ code: 'INGEST_PARSE_UNRECOGNISED', message: 'kong record is not a JSON object' });
  const request = obj(r.request);
  const response = obj(r.response);
  if (!request || !response) {
    return err({
      code: 'INGEST_PARSE_UNRECOGNISED',
      message: 'not a kong.log.serialize() record: no request or response object',
    });
  }
  const method = str(request.method);
  if (!method || !/^[A-Za-z][A-Za-z0-9_-]{0,31}$/.test(method)) {
    return err({ code: 'INGEST_PARSE_UNRECOGNISED', message: 'kong record has no request.method' });
  }
  const status = int(response.status);
  if (status === null || status < 0 || status > 999) {
    return err({ code: 'INGEST_PARSE_UNRECOGNISED', message: 'kong record has no response.status' });
  }
  const url = str(request.url) ?? str(request.request_uri);
  const split = splitTarget(str(request.uri) ?? url ?? '/');
  const queryKeys = [...split.queryKeys];
  const querystring = obj(request.querystring);
  if (querystring)
    for (const k of Object.keys(querystring))
      if (!queryKeys.includes(k) && queryKeys.length < 128) queryKeys.push(k.slice(0, 256));

  const headers = obj(request.headers);
  const responseHeaders = obj(response.headers);
  const consumer = obj(r.consumer);
  const entity = obj(r.authenticated_entity);
  const tls = obj(request.tls);

  // Header keys (x-api-key, apikey, … as configured in identity.apiKeyHeaders) are read from the
  // headers by the identity translator; key-auth may also take the key from the query string.
  let apiKey: string | null = null;
  for (const name of API_KEY_PARAMS) apiKey ??= querystring ? str(firstOf(querystring[name])) : null;
  // Kong 0.x logged the key-auth key itself in authenticated_entity.key.
  apiKey ??= str(entity?.key);
  const authorizationHeader = header(headers, 'authorization');
  const mtlsVerified = str(tls?.client_verify) === 'SUCCESS';
  const consumerName = consumer
    ? (str(consumer.username) ?? str(consumer.custom_id) ?? str(consumer.id))
    : null;
  // 0.x put the consumer's names on authenticated_entity.
  const legacyConsumer = entity
    ? (str(entity.username) ?? str(entity.custom_id) ?? str(entity.consumer_id))
    : null;
  const credentialRef = str(entity?.id);

  const identity = credentialDraft(ctx.identity, {
    // Kong 3.x logs `authorization: REDACTED`; the translator ignores redacted values.
    headers,
    apiKey,
    // mtls-auth maps the certificate to a consumer; Kong does not log the subject.
    mtlsSubject: mtlsVerified ? consumerName : null,
    mtlsVerified,
    service: consumerName ?? legacyConsumer,
    credentialRef,
  });
  let credentialKind: CredentialKind = identity.credentialKind ?? 'none';
  if (credentialKind === 'none' && credentialRef) {
    // Kong does not say which auth plugin accepted the credential. A (redacted) Authorization
    // header means basic-auth, jwt, oauth2 or hmac-auth: an opaque session-like token; without
    // one, key-auth (the key came in a header, query or body field with a configured name).
    credentialKind = authorizationHeader ? 'session' : 'api_key';
  }
  const source = str(r.source);
  const auth =
    status === 401 || status === 407
      ? 'failure'
      : (entity || consumer) && status < 400
        ? 'success'
        : source === 'kong' && status === 403 && credentialKind !== 'none'
          ? 'failure'
          : undefined;

  const startedAt = num(r.started_at);
  const latencies = obj(r.latencies);
  const traceIds = obj(r.trace_id);
  const traceparent = header(headers, 'traceparent');
  const w3c = traceparent ? /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-/.exec(traceparent) : null;
  const traceId = str(traceIds?.w3c) ?? str(traceIds?.b3) ?? str(traceIds?.datadog) ?? w3c?.[1] ?? null;

  return ok(
    buildEvent(
      {
        ts: startedAt ?? ctx.now,
        method,
        path: split.path,
        queryKeys,
        // route.paths are prefixes or regexes, not templates: the OpenAPI templater decides.
        route: null,
        status,
        sourceKind: 'kong',
        raw,
        scheme: url ? (/^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase() ?? null) : null,
        host: header(headers, 'host') ?? hostOfUrl(url),
        requestBytes: nonNegative(int(request.size)),
        responseBytes: nonNegative(int(response.size)),
        latencyMs: nonNegative(num(latencies?.request)),
        requestId: str(request.id) ?? header(responseHeaders, 'x-kong-request-id') ?? str(r.correlation_id),
        clientIp: str(r.client_ip),
        peerIp: null,
        userAgent: header(headers, 'user-agent'),
        traceId: traceId && /^[0-9a-f]{16,32}$/i.test(traceId) ? traceId.toLowerCase() : null,
        spanId: w3c?.[2] ?? null,
        gateway: ctx.gateway,
        ...identity,
        credentialKind,
        ...(auth ? { auth } : {}),
      },
      ctx.now,
    ),
  );
}

function firstOf(v: unknown): unknown {
  return Array.isArray(v) ? v[0] : v;
}

function nonNegative(n: number | null): number | null {
  return n === null || n < 0 ? null : n;
}

function hostOfUrl(url: string | null): string | null {
  if (!url) return null;
  return /^[a-z][a-z0-9+.-]*:\/\/([^/?#]+)/i.exec(url)?.[1] ?? null;
}

const SECRET_HEADER =
  /^(?:authorization|proxy-authorization|cookie|set-cookie|apikey|x-api-key|api-key|x-apikey|x-auth-token)$/i;

/**
 * A copy of a Kong record safe to keep in the DLQ: credential headers, every query value (key-auth
 * may read a key from any configured parameter name) and the 0.x `authenticated_entity.key` go.
 */
export function redactKongRecord(value: unknown): unknown {
  const r = obj(value);
  if (!r) return value;
  // Shallow copies of only what changes: nothing here recurses over the (untrusted) record.
  const copy: Obj = { ...r };
  const request = obj(r.request) ? { ...(r.request as Obj) } : null;
  if (request) {
    copy.request = request;
    const headers = obj(request.headers);
    if (headers) {
      const h: Obj = { ...headers };
      for (const k of Object.keys(h)) if (SECRET_HEADER.test(k)) h[k] = '[REDACTED]';
      request.headers = h;
    }
    const qs = obj(request.querystring);
    if (qs) request.querystring = Object.fromEntries(Object.keys(qs).map((k) => [k, '[REDACTED]']));
    for (const k of ['uri', 'url', 'request_uri']) {
      const v = request[k];
      if (typeof v === 'string' && v.includes('?')) request[k] = `${v.slice(0, v.indexOf('?'))}?[REDACTED]`;
    }
  }
  if (typeof copy.upstream_uri === 'string' && copy.upstream_uri.includes('?')) {
    copy.upstream_uri = `${copy.upstream_uri.slice(0, copy.upstream_uri.indexOf('?'))}?[REDACTED]`;
  }
  const entity = obj(r.authenticated_entity);
  if (entity && 'key' in entity) copy.authenticated_entity = { ...entity, key: '[REDACTED]' };
  return copy;
}
