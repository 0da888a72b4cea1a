import { type ApiEvent, buildEvent, err, ok, type Result } from '@apiwatch/core';
import { credentialDraft } from '../identity/draft.ts';
import {
  canonicalHeaderName,
  dash,
  httpMethod,
  httpStatus,
  ipOf,
  latencyMs,
  originForm,
  prefixedHeaders,
  traceParent,
} from './access-log.ts';
import { int, num, parseClfTime, parseIsoTime, splitRequestLine, splitTarget, str } from './fields.ts';
import { parseJson } from './json.ts';
import type { ParseContext, ParseError, Parser, RawRecord } from './types.ts';

/**
 * Traefik access logs (formats.md §7a): JSON (`accessLog.format: json`) with v2+ field names
 * (`RouterName`, `ServiceName`) or v1 ones (`FrontendName`, `BackendName`); `Duration` is in
 * nanoseconds; kept request headers appear as `request_<Go-Canonical-Name>`. Also the CLF text
 * format: `<ClientHost> - <ClientUsername> [<start>] "<request>" <status> <size> "<referer>"
 * "<user agent>" <request count> "<router>" "<service url>" <duration>ms`.
 */
export const traefikParser: Parser = {
  id: 'traefik',
  title: 'Traefik access log (JSON v1/v2/v3, and CLF text)',
  framing: 'auto',
  parse(record: RawRecord, ctx: ParseContext): Result<ApiEvent[], ParseError> {
    if (record.json !== undefined) return fromJson(record.json, record.text, ctx);
    const text = record.text.trim();
    if (text.charCodeAt(0) === 123 /* { */) {
      const json = parseJson(text, 'traefik JSON access log line');
      return json.ok ? fromJson(json.value, record.text, ctx) : json;
    }
    return fromClf(text, record.text, ctx);
  },
};

function fromJson(value: unknown, raw: string, ctx: ParseContext): Result<ApiEvent[], ParseError> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    return err({
      code: 'INGEST_PARSE_UNRECOGNISED',
      message: 'traefik JSON access log record is not an object',
    });
  }
  const o = value as Record<string, unknown>;
  const method = httpMethod(str(o.RequestMethod));
  const target = str(o.RequestPath);
  if (method === null || target === null) {
    return err({
      code: 'INGEST_PARSE_UNRECOGNISED',
      message: 'traefik record has no RequestMethod and RequestPath',
    });
  }
  // What the client received; OriginStatus is 0 or absent when no backend answered.
  const status = httpStatus(int(o.DownstreamStatus) ?? int(o.OriginStatus));
  if (status === null)
    return err({ code: 'INGEST_PARSE_UNRECOGNISED', message: 'traefik record has no DownstreamStatus' });
  const timeValue = str(o.StartUTC) ?? str(o.StartLocal) ?? str(o.time);
  let ts = ctx.now;
  if (timeValue !== null) {
    const t = parseIsoTime(timeValue);
    if (t === null || t < 0)
      return err({ code: 'INGEST_PARSE_UNRECOGNISED', message: 'traefik record: StartUTC not understood' });
    ts = t;
  }
  const header = (lowerName: string): string | null => str(o[`request_${canonicalHeaderName(lowerName)}`]);
  const durationNs = num(o.Duration);
  const peerIp = ipOf(str(o.ClientAddr));
  const trace = traceParent(header('traceparent'));
  const { path, queryKeys } = splitTarget(originForm(target));
  return ok([
    buildEvent(
      {
        ts,
        method,
        path,
        queryKeys,
        status,
        sourceKind: 'traefik',
        raw,
        scheme: str(o.RequestScheme),
        host: str(o.RequestHost) ?? header('host'),
        requestBytes: int(o.RequestContentSize),
        responseBytes: int(o.DownstreamContentSize),
        latencyMs: durationNs === null ? null : latencyMs(durationNs / 1e6),
        // Traefik generates no request id; a kept X-Request-Id header is the client's (see caddy.ts).
        requestId: null,
        clientIp: str(o.ClientHost) ?? peerIp,
        peerIp,
        userAgent: header('user-agent'),
        traceId: trace?.traceId ?? str(o.TraceId),
        spanId: trace?.spanId ?? str(o.SpanId),
        gateway: ctx.gateway,
        ...credentialDraft(ctx.identity, {
          headers: prefixedHeaders(o, 'request_', false),
          basicUser: str(o.ClientUsername),
        }),
      },
      ctx.now,
    ),
  ]);
}

const CLF =
  /^(\S+) \S+ (\S+) \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{1,3}|-) (\d+|-)(?: "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)")?(.*)$/;
const CLF_DURATION = /(?:^|\s)(\d+)ms$/;

function fromClf(line: string, raw: string, ctx: ParseContext): Result<ApiEvent[], ParseError> {
  const m = CLF.exec(line);
  if (!m)
    return err({ code: 'INGEST_PARSE_UNRECOGNISED', message: 'not a Traefik CLF or JSON access log line' });
  const ts = parseClfTime(m[3]!);
  if (ts === null || ts < 0)
    return err({ code: 'INGEST_PARSE_UNRECOGNISED', message: `traefik time not understood: ${m[3]}` });
  const status = httpStatus(int(m[5]));
  if (status === null)
    return err({ code: 'INGEST_PARSE_UNRECOGNISED', message: 'traefik CLF line has no status' });
  const request = splitRequestLine(m[4]!);
  const { path, queryKeys } = splitTarget(request ? originForm(request.target) : '/');
  // The router and service URL after the user agent are free text; only the trailing duration
  // is read, so a line whose router quote is broken (as Traefik writes some) still counts.
  const duration = CLF_DURATION.exec(m[9] ?? '');
  const clientIp = ipOf(dash(m[1]));
  return ok([
    buildEvent(
      {
        ts,
        method: request?.method ?? 'UNKNOWN',
        path,
        queryKeys,
        status,
        sourceKind: 'traefik',
        raw,
        responseBytes: int(m[6]),
        latencyMs: duration ? Number(duration[1]) : null,
        clientIp,
        userAgent: m[8] === undefined ? null : dash(m[8]),
        gateway: ctx.gateway,
        ...credentialDraft(ctx.identity, { basicUser: dash(m[2]) }),
      },
      ctx.now,
    ),
  ]);
}
