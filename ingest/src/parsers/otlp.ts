import { type ApiEvent, buildEvent } from '@apiwatch/core';
import { credentialDraft } from '../identity/draft.ts';
import { batchParser, refusedBatch } from './batch.ts';
import { envoyParser } from './envoy.ts';
import { firstForwarded, int, num, rawJson, splitTarget, str } from './fields.ts';
import { parseJson } from './json.ts';
import { collectorDebugToOtlp, isCollectorDebugText } from './otlp-debug.ts';
import type { EntryRejection, ParseBatch, ParseContext, Parser, RawRecord } from './types.ts';

/**
 * OpenTelemetry (docs/formats/otlp.md): OTLP/JSON `ExportTraceServiceRequest` (HTTP server spans,
 * stable and pre-1.21 semantic conventions) and `ExportLogsServiceRequest` (HTTP access logs such
 * as Kong's `api-access` records, or Envoy's OTel access logger whose body is the text line).
 * Binary OTLP is decoded into the same JSON shape by the push endpoint (sources/otlp-http.ts).
 */
export const otlpParser: Parser = batchParser({
  id: 'otlp',
  title: 'OpenTelemetry OTLP/JSON traces (HTTP server spans) and logs (HTTP access logs)',
  framing: 'json',
  parseBatch: otlpBatch,
});

function otlpBatch(record: RawRecord, ctx: ParseContext): ParseBatch {
  let value = record.json;
  if (value === undefined) {
    const parsed = parseJson(record.text, 'otlp record');
    if (parsed.ok) value = parsed.value;
    else if (parsed.error.code !== 'INGEST_PARSE_INVALID_JSON' || !isCollectorDebugText(record.text))
      return refusedBatch(parsed.error, record.text);
    else {
      const dump = collectorDebugToOtlp(record.text);
      value = {
        resourceSpans: dump.traces?.resourceSpans ?? [],
        resourceLogs: dump.logs?.resourceLogs ?? [],
      };
    }
  }
  const r = obj(value);
  if (!r || (!Array.isArray(r.resourceSpans) && !Array.isArray(r.resourceLogs))) {
    return refusedBatch(
      {
        code: 'INGEST_PARSE_UNRECOGNISED',
        message:
          'not an OTLP/JSON ExportTraceServiceRequest or ExportLogsServiceRequest (no resourceSpans or resourceLogs)',
      },
      record.text,
    );
  }
  const traces = Array.isArray(r.resourceSpans) ? otlpTraceEvents(r, ctx) : EMPTY;
  const logs = Array.isArray(r.resourceLogs) ? otlpLogEvents(r, ctx) : EMPTY;
  const events = [...traces.events, ...logs.events];
  const rejected = [...traces.rejected, ...logs.rejected].map(
    (x, index): EntryRejection => ({
      index,
      where: x.where,
      code: 'INGEST_PARSE_UNRECOGNISED',
      reason: x.reason,
      raw: rawJson(pointer(r, x.where) ?? null),
    }),
  );
  // The route stage reads id-valued query parameters from the entry's text (`url.full`, `http.target`).
  const texts = [...traces.texts, ...logs.texts];
  return { events, texts, rejected, skipped: traces.skipped + logs.skipped };
}

/** `resourceSpans[0].scopeSpans[1].spans[2]` → that element, so the DLQ keeps the one bad item. */
function pointer(root: unknown, where: string): unknown {
  let cur: unknown = root;
  for (const m of where.matchAll(/(\w+)\[(\d+)\]/g)) {
    const key = m[1]!;
    const o = obj(cur);
    const container =
      o?.[key] ??
      (key === 'scopeSpans'
        ? o?.instrumentationLibrarySpans
        : key === 'scopeLogs'
          ? o?.instrumentationLibraryLogs
          : undefined);
    cur = Array.isArray(container) ? container[Number(m[2])] : undefined;
  }
  return cur;
}

export interface OtlpRejected {
  where: string;
  reason: string;
}

export interface OtlpResult {
  events: ApiEvent[];
  /** Each event's entry text when it has a query (for the route stage), else undefined. */
  texts: Array<string | undefined>;
  /** HTTP server spans or access-log records that could not become events. */
  rejected: OtlpRejected[];
  /** Spans or log records that are not HTTP API calls (internal/client spans, application logs). */
  skipped: number;
}

const EMPTY: OtlpResult = { events: [], texts: [], rejected: [], skipped: 0 };

type Obj = Record<string, unknown>;

function obj(value: unknown): Obj | null {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Obj) : null;
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** OTLP AnyValue → a JS value. int64 arrives as a string (spec) or a number (the JS SDK). */
function anyValue(v: unknown): unknown {
  const a = obj(v);
  if (!a) return undefined;
  if ('stringValue' in a) return a.stringValue;
  if ('intValue' in a) return a.intValue;
  if ('doubleValue' in a) return a.doubleValue;
  if ('boolValue' in a) return a.boolValue;
  if ('arrayValue' in a) return list(obj(a.arrayValue)?.values).map(anyValue);
  if ('kvlistValue' in a) return attributes(obj(a.kvlistValue)?.values);
  if ('bytesValue' in a) return a.bytesValue;
  return undefined;
}

function attributes(kvs: unknown): Map<string, unknown> {
  const m = new Map<string, unknown>();
  for (const kv of list(kvs)) {
    const o = obj(kv);
    const key = o ? str(o.key) : null;
    if (key) m.set(key, anyValue(o!.value));
  }
  return m;
}

function pick(a: Map<string, unknown>, ...keys: string[]): unknown {
  for (const k of keys) {
    const v = a.get(k);
    if (v === undefined || v === null || v === '') continue;
    // http.request.header.* values are string arrays.
    if (Array.isArray(v)) {
      if (v.length > 0) return v[0];
      continue;
    }
    return v;
  }
  return undefined;
}

/** A decimal-string (or number) nanosecond timestamp → BigInt; null when absent or zero. */
function nanos(value: unknown): bigint | null {
  if (typeof value === 'string' && /^\d{1,20}$/.test(value)) {
    const n = BigInt(value);
    return n > 0n ? n : null;
  }
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) return BigInt(Math.trunc(value));
  return null;
}

function nsToMs(ns: bigint): number {
  return Number(ns / 1_000_000n);
}

function hexId(value: unknown, length: number): string | null {
  const s = str(value);
  if (!s || s.length !== length || !/^[0-9a-fA-F]+$/.test(s) || /^0+$/.test(s)) return null;
  return s.toLowerCase();
}

const SPAN_KINDS: Record<string, number> = {
  SPAN_KIND_UNSPECIFIED: 0,
  SPAN_KIND_INTERNAL: 1,
  SPAN_KIND_SERVER: 2,
  SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4,
  SPAN_KIND_CONSUMER: 5,
};

function spanKind(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string')
    return SPAN_KINDS[value] ?? (Number.isInteger(Number(value)) ? Number(value) : 0);
  return 0;
}

/** Express/Koa style `:param` segments become `{param}`, the OpenAPI form used across apiwatch. */
export function normaliseRoute(route: string | null): string | null {
  if (!route) return null;
  return route.replace(/(^|\/):([A-Za-z_][A-Za-z0-9_]*)(?:\([^)]*\))?\??/g, '$1{$2}');
}

function methodOf(a: Map<string, unknown>): string | null {
  const m = str(pick(a, 'http.request.method', 'http.method'));
  if (m === '_OTHER') return str(pick(a, 'http.request.method_original')) ?? 'UNKNOWN';
  return m && /^[A-Za-z][A-Za-z0-9_-]{0,31}$/.test(m) ? m : null;
}

/**
 * The HTTP semantic conventions of one span or log record → the fields of a draft. New names win
 * and the pre-1.21 names are the fallback (`OTEL_SEMCONV_STABILITY_OPT_IN=http/dup` sends both).
 */
function httpFields(a: Map<string, unknown>) {
  const target = str(pick(a, 'http.target'));
  const fullUrl = str(pick(a, 'url.full', 'http.url'));
  const urlPath = str(pick(a, 'url.path'));
  const fromTarget = target ? splitTarget(target) : fullUrl ? splitTarget(fullUrl) : null;
  const path = urlPath ?? fromTarget?.path ?? '/';
  const query = str(pick(a, 'url.query'));
  const queryKeys = query ? splitTarget(`?${query}`).queryKeys : (fromTarget?.queryKeys ?? []);
  const peerIp = str(pick(a, 'network.peer.address', 'net.sock.peer.addr', 'net.peer.ip'));
  const clientIp =
    str(pick(a, 'client.address', 'http.client_ip')) ??
    firstForwarded(pick(a, 'http.request.header.x-forwarded-for')) ??
    peerIp;
  return {
    path: path.startsWith('/') ? path : `/${path}`,
    queryKeys,
    route: normaliseRoute(str(pick(a, 'http.route'))),
    status: int(pick(a, 'http.response.status_code', 'http.status_code')),
    scheme: str(pick(a, 'url.scheme', 'http.scheme')),
    host: str(
      pick(a, 'server.address', 'url.domain', 'http.host', 'net.host.name', 'http.request.header.host'),
    ),
    requestBytes: nonNegative(
      int(pick(a, 'http.request.size', 'http.request.body.size', 'http.request_content_length')),
    ),
    responseBytes: nonNegative(
      int(pick(a, 'http.response.size', 'http.response.body.size', 'http.response_content_length')),
    ),
    requestId: str(
      pick(a, 'http.request.header.x-request-id', 'kong.request.id', 'http.request.header.x-kong-request-id'),
    ),
    clientIp,
    peerIp,
    userAgent: str(pick(a, 'user_agent.original', 'http.user_agent', 'http.request.header.user-agent')),
  };
}

function identityOf(a: Map<string, unknown>, ctx: ParseContext) {
  return credentialDraft(ctx.identity, {
    // Only present when the SDK or gateway was told to capture these headers.
    authorization: str(pick(a, 'http.request.header.authorization')),
    apiKey: str(pick(a, 'http.request.header.x-api-key', 'http.request.header.apikey')),
    user: str(pick(a, 'user.id', 'enduser.id')),
    service: str(pick(a, 'kong.consumer.username', 'kong.consumer.id')),
    credentialRef: str(pick(a, 'kong.credential.id')),
  });
}

// gRPC status codes → the HTTP status a gateway would report (the gRPC-over-HTTP mapping).
const GRPC_TO_HTTP = [200, 499, 500, 400, 504, 404, 409, 403, 429, 400, 409, 400, 501, 500, 503, 500, 401];

/** Method, path and status of a server span that carries no HTTP attributes. */
function rpcCall(
  a: Map<string, unknown>,
  span: Obj,
): { method: string; path: string; status: number | null } {
  const service = str(pick(a, 'rpc.service'));
  const rpcMethod = str(pick(a, 'rpc.method'));
  const grpcStatus = int(pick(a, 'rpc.grpc.status_code'));
  const spanStatus = int(obj(span.status)?.code);
  const status =
    grpcStatus !== null && grpcStatus >= 0 && grpcStatus < GRPC_TO_HTTP.length
      ? GRPC_TO_HTTP[grpcStatus]!
      : spanStatus === 2
        ? 500
        : null;
  if (service && rpcMethod) return { method: 'POST', path: `/${service}/${rpcMethod}`, status };
  const name = (str(span.name) ?? 'unnamed').slice(0, 1024);
  return { method: 'UNKNOWN', path: name.startsWith('/') ? name : `/${name}`, status };
}

/** Server spans of one ExportTraceServiceRequest → events (HTTP, gRPC, or other by span name). */
export function otlpTraceEvents(request: Obj, ctx: ParseContext): OtlpResult {
  const out: OtlpResult = { events: [], texts: [], rejected: [], skipped: 0 };
  // The caller of a server span is the resource of its parent client span, when that span is in
  // the same request (batch exporters); across requests it is a join the store can do.
  const clientSpanService = new Map<string, string>();
  for (const rs of list(request.resourceSpans)) {
    const service = str(attributes(obj(obj(rs)?.resource)?.attributes).get('service.name'));
    if (!service) continue;
    for (const ss of scopes(obj(rs), 'scopeSpans', 'instrumentationLibrarySpans')) {
      for (const span of list(obj(ss)?.spans)) {
        const s = obj(span);
        const id = s ? hexId(s.spanId, 16) : null;
        if (s && id && spanKind(s.kind) === 3) clientSpanService.set(id, service);
      }
    }
  }
  list(request.resourceSpans).forEach((rs, ri) => {
    const resource = attributes(obj(obj(rs)?.resource)?.attributes);
    const serviceName = str(resource.get('service.name'));
    scopes(obj(rs), 'scopeSpans', 'instrumentationLibrarySpans').forEach((ss, si) => {
      list(obj(ss)?.spans).forEach((span, pi) => {
        const where = `resourceSpans[${ri}].scopeSpans[${si}].spans[${pi}]`;
        const s = obj(span);
        if (!s) {
          out.rejected.push({ where, reason: 'span is not an object' });
          return;
        }
        const a = attributes(s.attributes);
        if (spanKind(s.kind) !== 2) {
          out.skipped++;
          return;
        }
        // A server span is an inbound call even without HTTP conventions: gRPC names its method
        // in rpc.*, anything else is kept under its span name with an unknown method.
        const rpc = rpcCall(a, s);
        const method = methodOf(a) ?? rpc.method;
        const start = nanos(s.startTimeUnixNano);
        if (start === null) {
          out.rejected.push({ where, reason: 'HTTP server span has no startTimeUnixNano' });
          return;
        }
        const end = nanos(s.endTimeUnixNano);
        const http = httpFields(a);
        const f = methodOf(a) ? http : { ...http, path: rpc.path, status: http.status ?? rpc.status };
        const traceId = hexId(s.traceId, 32);
        const spanId = hexId(s.spanId, 16);
        const parent = hexId(s.parentSpanId, 16);
        const identity = identityOf(a, ctx);
        const caller = (parent ? clientSpanService.get(parent) : undefined) ?? str(pick(a, 'peer.service'));
        const event = buildEvent(
          {
            ts: nsToMs(start),
            method,
            ...f,
            // A server span without a status never got a response (aborted or timed out).
            status: f.status ?? 0,
            latencyMs: end !== null && end >= start ? Number(end - start) / 1e6 : null,
            sourceKind: 'otlp',
            raw: `${traceId}/${spanId}/${where}`,
            traceId,
            spanId,
            gateway: ctx.gateway ?? serviceName,
            ...identity,
            service: identity.service ?? (caller && caller !== serviceName ? caller : null),
          },
          ctx.now,
        );
        if (!f.requestId && traceId && spanId) event.id = `otlp:${traceId}:${spanId}`;
        out.events.push(event);
        out.texts.push(event.request.queryKeys.length > 0 ? rawJson(span) : undefined);
      });
    });
  });
  return out;
}

/** HTTP access-log records of one ExportLogsServiceRequest → events. */
export function otlpLogEvents(request: Obj, ctx: ParseContext): OtlpResult {
  const out: OtlpResult = { events: [], texts: [], rejected: [], skipped: 0 };
  list(request.resourceLogs).forEach((rl, ri) => {
    const resource = attributes(obj(obj(rl)?.resource)?.attributes);
    const serviceName = str(resource.get('service.name'));
    scopes(obj(rl), 'scopeLogs', 'instrumentationLibraryLogs').forEach((sl, si) => {
      list(obj(sl)?.logRecords).forEach((lr, li) => {
        const where = `resourceLogs[${ri}].scopeLogs[${si}].logRecords[${li}]`;
        const l = obj(lr);
        if (!l) {
          out.rejected.push({ where, reason: 'log record is not an object' });
          return;
        }
        const a = attributes(l.attributes);
        const traceId = hexId(l.traceId, 32);
        const spanId = hexId(l.spanId, 16);
        const time = nanos(l.timeUnixNano) ?? nanos(l.observedTimeUnixNano);
        const method = methodOf(a);
        const gateway = ctx.gateway ?? serviceName;
        if (!method) {
          // Envoy's OTel access logger (and Istio's envoyOtelAls) put the text access line in the body.
          const body = anyValue(l.body);
          if (typeof body === 'string' && /^\[\d{4}-\d{2}-\d{2}T/.test(body)) {
            const parsed = envoyParser.parse({ text: body }, { ...ctx, gateway });
            if (!parsed.ok) {
              out.rejected.push({ where, reason: `access-log body: ${parsed.error.message}` });
              return;
            }
            for (const e of parsed.value) {
              e.trace.traceId ??= traceId;
              e.trace.spanId ??= spanId;
              out.events.push(e);
              out.texts.push(body);
            }
            return;
          }
          out.skipped++;
          return;
        }
        const f = httpFields(a);
        if (f.status === null) {
          out.rejected.push({ where, reason: 'HTTP access-log record has no http.response.status_code' });
          return;
        }
        // Kong: kong.request.started_at is when the request began (ms); the record time is when it was logged.
        const startedAt = num(pick(a, 'kong.request.started_at'));
        const ts = startedAt ?? (time !== null ? nsToMs(time) : null);
        if (ts === null) {
          out.rejected.push({ where, reason: 'HTTP access-log record has no timeUnixNano' });
          return;
        }
        const latency = num(pick(a, 'kong.latency.total', 'http.server.request.duration'));
        const identity = identityOf(a, ctx);
        const event = buildEvent(
          {
            ts,
            method,
            ...f,
            status: f.status,
            latencyMs: latency === null || latency < 0 ? null : latency,
            sourceKind: 'otlp',
            raw: rawJson(lr),
            traceId: traceId ?? traceFromHeader(pick(a, 'http.request.header.traceparent')),
            spanId,
            gateway,
            ...identity,
          },
          ctx.now,
        );
        out.events.push(event);
        out.texts.push(event.request.queryKeys.length > 0 ? rawJson(lr) : undefined);
      });
    });
  });
  return out;
}

/** scopeSpans/scopeLogs, or the pre-1.0 instrumentationLibrary* name when only that is set. */
function scopes(resource: Obj | null, current: string, legacy: string): unknown[] {
  if (!resource) return [];
  const now = list(resource[current]);
  return now.length > 0 ? now : list(resource[legacy]);
}

function traceFromHeader(value: unknown): string | null {
  const s = str(value);
  const m = s ? /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-/.exec(s) : null;
  return m ? m[1]! : null;
}

function nonNegative(n: number | null): number | null {
  return n === null || n < 0 ? null : n;
}
