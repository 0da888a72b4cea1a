import { type ApiEvent, buildEvent, err, ok, type Result } from '@apiwatch/core';
import { credentialDraft } from '../identity/draft.ts';
import {
  firstForwarded,
  int,
  num,
  parseClfTime,
  parseIsoTime,
  splitRequestLine,
  splitTarget,
  str,
} from './fields.ts';
import type { ParseContext, ParseError, Parser, RawRecord } from './types.ts';

/**
 * NGINX access logs: a JSON `log_format` (docs/formats/nginx.md publishes the recommended one;
 * other common key names such as observIQ's are read too), `combined`, and ingress-nginx's
 * `upstreaminfo`. Times in $request_time are seconds.
 */
export const nginxParser: Parser = {
  id: 'nginx',
  title: 'NGINX (JSON log_format, combined, ingress-nginx upstreaminfo)',
  framing: 'auto',
  parse(record: RawRecord, ctx: ParseContext): Result<ApiEvent[], ParseError> {
    if (record.json !== undefined) return parseJson(record, ctx);
    const text = record.text.trim();
    if (text.startsWith('{')) {
      const repaired = repairNginxJson(text);
      try {
        return parseJson({ text: record.text, json: JSON.parse(repaired) }, ctx);
      } catch (e) {
        return err({ code: 'INGEST_PARSE_INVALID_JSON', message: `nginx JSON line: ${(e as Error).message}` });
      }
    }
    return parseText(text, record.text, ctx);
  },
};

/** Without escape=json nginx writes `\x22` for a quote inside a value: make it valid JSON. */
function repairNginxJson(text: string): string {
  return text.includes('\\x') ? text.replace(/\\x([0-9a-fA-F]{2})/g, '\\u00$1') : text;
}

function pick(o: Record<string, unknown>, ...keys: string[]): unknown {
  for (const k of keys) {
    const v = o[k];
    if (v !== undefined && v !== null && v !== '' && v !== '-') return v;
  }
  return undefined;
}

function parseJson(record: RawRecord, ctx: ParseContext): Result<ApiEvent[], ParseError> {
  const o = record.json;
  if (!o || typeof o !== 'object' || Array.isArray(o)) {
    return err({ code: 'INGEST_PARSE_UNRECOGNISED', message: 'nginx JSON record is not an object' });
  }
  const r = o as Record<string, unknown>;
  let method = str(pick(r, 'request_method', 'method'));
  let target = str(pick(r, 'request_uri', 'uri', 'path'));
  const requestLine = str(pick(r, 'request'));
  if ((!method || !target) && requestLine) {
    const split = splitRequestLine(requestLine);
    if (split) {
      method ??= split.method;
      target ??= split.target;
    }
  }
  if (!method || !target) {
    return err({ code: 'INGEST_PARSE_UNRECOGNISED', message: 'nginx JSON record has no request method and URI' });
  }
  const status = int(pick(r, 'status'));
  if (status === null) return err({ code: 'INGEST_PARSE_UNRECOGNISED', message: 'nginx JSON record has no status' });
  const ts = eventTime(r, ctx.now);
  if (ts === null) return err({ code: 'INGEST_PARSE_UNRECOGNISED', message: 'nginx JSON record has no parseable time' });
  const { path, queryKeys } = splitTarget(target);
  const requestTime = num(pick(r, 'request_time'));
  const peerIp = str(pick(r, 'remote_addr'));
  const forwarded = firstForwarded(pick(r, 'http_x_forwarded_for', 'x_forwarded_for', 'proxy_add_x_forwarded_for'));
  const identity = credentialDraft(ctx.identity, {
    authorization: str(pick(r, 'http_authorization', 'authorization')),
    apiKey: str(pick(r, 'http_x_api_key', 'x_api_key', 'http_apikey')),
    basicUser: str(pick(r, 'remote_user')),
    mtlsSubject: str(pick(r, 'ssl_client_s_dn')),
    mtlsVerified: str(pick(r, 'ssl_client_verify')) === 'SUCCESS',
  });
  const traceparent = str(pick(r, 'http_traceparent', 'traceparent'));
  const trace = traceparent ? /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-/.exec(traceparent) : null;
  return ok([
    buildEvent(
      {
        ts,
        method,
        path,
        queryKeys,
        status,
        sourceKind: 'nginx',
        raw: record.text,
        scheme: str(pick(r, 'scheme')),
        host: str(pick(r, 'host', 'http_host', 'server_name')),
        requestBytes: int(pick(r, 'request_length')),
        responseBytes: int(pick(r, 'body_bytes_sent', 'bytes_sent')),
        latencyMs: requestTime === null ? null : Math.round(requestTime * 1e6) / 1e3,
        requestId: str(pick(r, 'request_id', 'req_id')),
        clientIp: forwarded ?? peerIp,
        peerIp,
        userAgent: str(pick(r, 'http_user_agent', 'user_agent')),
        traceId: trace?.[1] ?? null,
        spanId: trace?.[2] ?? null,
        gateway: ctx.gateway,
        ...identity,
      },
      ctx.now,
    ),
  ]);
}

function eventTime(r: Record<string, unknown>, now: number): number | null {
  const msec = num(pick(r, 'msec'));
  if (msec !== null) return Math.round(msec * 1000);
  const iso = str(pick(r, 'time_iso8601', 'time', 'timestamp', '@timestamp'));
  if (iso) {
    const t = parseIsoTime(iso) ?? parseClfTime(iso);
    if (t !== null) return t;
  }
  const local = str(pick(r, 'time_local'));
  if (local) return parseClfTime(local);
  return iso || local ? null : now;
}

// `$remote_addr` may be an X-Forwarded-For list with spaces, optionally quoted, and custom
// formats put a second address before the `-`.
const TEXT_LINE =
  /^(?:"([^"]*)"|((?:[^\s,]+, )*[^\s,]+))(?: (\S+))? (\S+) (\S+) \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}) (\d+|-)(?: "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)")?(.*)$/;
// ingress-nginx upstreaminfo tail: request_length request_time [upstream] [alt] addr len time status req_id
const UPSTREAMINFO_TAIL = /^ (\d+|-) (\S+) \[([^\]]*)\] \[([^\]]*)\] (.*) (\S+)$/;

function parseText(line: string, raw: string, ctx: ParseContext): Result<ApiEvent[], ParseError> {
  const m = TEXT_LINE.exec(line);
  if (!m) return err({ code: 'INGEST_PARSE_UNRECOGNISED', message: 'not an nginx combined or upstreaminfo line' });
  const forwardedList = m[1] ?? m[2] ?? '';
  const secondAddr = m[3];
  const remoteUser = m[5];
  const ts = parseClfTime(m[6]!);
  if (ts === null) return err({ code: 'INGEST_PARSE_UNRECOGNISED', message: `nginx time not understood: ${m[6]}` });
  const request = splitRequestLine(unescapeNginx(m[7]!));
  const status = Number(m[8]);
  const list = forwardedList.split(',').map((s) => s.trim()).filter(Boolean);
  const peerIp = secondAddr && secondAddr !== '-' ? secondAddr : (list[list.length - 1] ?? null);
  const clientIp = list[0] ?? peerIp;
  let requestBytes: number | null = null;
  let latencyMs: number | null = null;
  let requestId: string | null = null;
  let upstream: string | null = null;
  const tail = m[12] ? UPSTREAMINFO_TAIL.exec(m[12]) : null;
  if (tail) {
    requestBytes = int(tail[1]);
    const seconds = num(tail[2]);
    latencyMs = seconds === null ? null : Math.round(seconds * 1e6) / 1e3;
    upstream = str(tail[3]);
    requestId = /^[0-9a-f]{16,64}$/.test(tail[6]!) ? tail[6]! : null;
  }
  const { path, queryKeys } = request ? splitTarget(request.target) : { path: '/', queryKeys: [] };
  const identity = credentialDraft(ctx.identity, { basicUser: str(remoteUser) });
  return ok([
    buildEvent(
      {
        ts,
        // An empty or garbled request line (a 400 from a scanner) is still a call worth keeping.
        method: request?.method ?? 'UNKNOWN',
        path,
        queryKeys,
        status,
        sourceKind: 'nginx',
        raw,
        requestBytes,
        responseBytes: int(m[9]),
        latencyMs,
        requestId,
        clientIp,
        peerIp,
        userAgent: m[11] ? str(unescapeNginx(m[11])) : null,
        gateway: ctx.gateway ?? upstream,
        ...identity,
      },
      ctx.now,
    ),
  ]);
}

function unescapeNginx(value: string): string {
  return value.replace(/\\x([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16))).replace(/\\"/g, '"');
}
