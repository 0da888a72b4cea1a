import { type ApiEvent, buildEvent, err, ok, type Result } from '@apiwatch/core';
import { credentialDraft } from '../identity/draft.ts';
import {
  forwardedClient,
  httpMethod,
  httpStatus,
  ipOf,
  latencyMs,
  originForm,
  prefixedHeaders,
  traceParent,
} from './access-log.ts';
import { int, num, parseClfTime, parseIsoTime, splitRequestLine, splitTarget, str } from './fields.ts';
import { parseJson as parseJsonText } from './json.ts';
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
      const json = parseJsonText(repairNginxJson(text), 'nginx JSON line');
      return json.ok ? parseJson({ text: record.text, json: json.value }, ctx) : json;
    }
    return parseText(text, record.text, ctx);
  },
};

/**
 * Without escape=json nginx writes `\x22` for a quote, `\x5C` for a backslash and `\xHH` for each
 * byte of a non-ASCII character: turn those into JSON escapes of the characters they encode.
 */
function repairNginxJson(text: string): string {
  if (!text.includes('\\x')) return text;
  return text.replace(/(?:\\x[0-9a-fA-F]{2})+/g, (run) => {
    const decoded = Buffer.from(run.replace(/\\x/g, ''), 'hex').toString('utf8');
    return JSON.stringify(decoded).slice(1, -1);
  });
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
  let method = httpMethod(str(pick(r, 'request_method', 'method')));
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
    return err({
      code: 'INGEST_PARSE_UNRECOGNISED',
      message: 'nginx JSON record has no request method and URI',
    });
  }
  const status = httpStatus(int(pick(r, 'status')));
  if (status === null)
    return err({ code: 'INGEST_PARSE_UNRECOGNISED', message: 'nginx JSON record has no status' });
  const requestTime = num(pick(r, 'request_time'));
  const ts = eventTime(r, ctx.now, requestTime);
  if (ts === null)
    return err({ code: 'INGEST_PARSE_UNRECOGNISED', message: 'nginx JSON record has no parseable time' });
  const { path, queryKeys } = splitTarget(originForm(target));
  const peerIp = ipOf(str(pick(r, 'remote_addr')));
  const forwarded = forwardedClient(
    str(pick(r, 'http_x_forwarded_for', 'x_forwarded_for', 'proxy_add_x_forwarded_for')),
  );
  // Logged request headers (`$http_<name>`): the source's identity rules read API keys,
  // trusted identity headers and XFCC from them.
  const sslVerify = str(pick(r, 'ssl_client_verify'));
  const identity = credentialDraft(ctx.identity, {
    headers: prefixedHeaders(r, 'http_', true),
    authorization: str(pick(r, 'http_authorization', 'authorization')),
    apiKey: str(pick(r, 'x_api_key', 'api_key')),
    basicUser: str(pick(r, 'remote_user')),
    mtlsSubject: str(pick(r, 'ssl_client_s_dn')),
    mtlsVerified: sslVerify === 'SUCCESS',
    mtlsIssuer: str(pick(r, 'ssl_client_i_dn')),
    mtlsRef: str(pick(r, 'ssl_client_serial', 'ssl_client_fingerprint')),
  });
  const trace = traceParent(str(pick(r, 'http_traceparent', 'traceparent')));
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
        latencyMs: requestTime === null ? null : latencyMs(requestTime * 1000),
        requestId: str(pick(r, 'request_id', 'req_id')),
        clientIp: forwarded ?? peerIp,
        peerIp,
        userAgent: str(pick(r, 'http_user_agent', 'user_agent')),
        traceId: trace?.traceId ?? null,
        spanId: trace?.spanId ?? null,
        gateway: ctx.gateway,
        ...identity,
      },
      ctx.now,
    ),
  ]);
}

/**
 * nginx stamps its log variables when the response is done. `$msec` has ms precision, so the
 * request's start is `$msec - $request_time`; the second-precision times are kept as logged.
 */
function eventTime(r: Record<string, unknown>, now: number, requestTime: number | null): number | null {
  const msec = num(pick(r, 'msec'));
  if (msec !== null) {
    if (msec < 0) return null;
    return Math.max(
      0,
      Math.round((msec - (requestTime !== null && requestTime >= 0 ? requestTime : 0)) * 1000),
    );
  }
  const iso = str(pick(r, 'time_iso8601', 'time', 'timestamp', '@timestamp'));
  if (iso) {
    const t = parseIsoTime(iso) ?? parseClfTime(iso);
    if (t !== null) return t >= 0 ? t : null;
  }
  const local = str(pick(r, 'time_local'));
  if (local) {
    const t = parseClfTime(local);
    return t !== null && t >= 0 ? t : null;
  }
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
  if (!m)
    return err({ code: 'INGEST_PARSE_UNRECOGNISED', message: 'not an nginx combined or upstreaminfo line' });
  const forwardedList = m[1] ?? m[2] ?? '';
  const secondAddr = m[3];
  const remoteUser = m[5];
  const ts = parseClfTime(m[6]!);
  if (ts === null || ts < 0)
    return err({ code: 'INGEST_PARSE_UNRECOGNISED', message: `nginx time not understood: ${m[6]}` });
  const request = splitRequestLine(unescapeNginx(m[7]!));
  const status = Number(m[8]);
  const list = forwardedList
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  // `$host $remote_addr - …` (a vhost-first variant of combined): the first field is a name, not an address.
  const vhost =
    secondAddr && secondAddr !== '-' && list.length === 1 && !looksLikeIp(list[0]!) ? list[0]! : null;
  const peerIp = ipOf(secondAddr && secondAddr !== '-' ? secondAddr : (list[list.length - 1] ?? null));
  const clientIp = vhost ? peerIp : (ipOf(list[0]) ?? peerIp);
  let requestBytes: number | null = null;
  let latency: number | null = null;
  let requestId: string | null = null;
  const tail = m[12] ? UPSTREAMINFO_TAIL.exec(m[12]) : null;
  if (tail) {
    requestBytes = int(tail[1]);
    const seconds = num(tail[2]);
    latency = seconds === null ? null : latencyMs(seconds * 1000);
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
        latencyMs: latency,
        requestId,
        host: vhost,
        clientIp,
        peerIp,
        userAgent: m[11] ? str(unescapeNginx(m[11])) : null,
        gateway: ctx.gateway,
        ...identity,
      },
      ctx.now,
    ),
  ]);
}

function looksLikeIp(value: string): boolean {
  return /^[0-9.]+$/.test(value) || value.includes(':');
}

function unescapeNginx(value: string): string {
  if (!value.includes('\\')) return value;
  // Runs of \xHH are the bytes of one or more UTF-8 characters.
  return value
    .replace(/(?:\\x[0-9a-fA-F]{2})+/g, (run) => Buffer.from(run.replace(/\\x/g, ''), 'hex').toString('utf8'))
    .replace(/\\"/g, '"');
}
