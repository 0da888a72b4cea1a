import { type ApiEvent, buildEvent, err, ok, type Result } from '@apiwatch/core';
import { credentialDraft } from '../identity/draft.ts';
import {
  forwardedClient,
  goDurationMs,
  headerValue,
  httpMethod,
  httpStatus,
  ipOf,
  latencyMs,
  originForm,
  traceParent,
} from './access-log.ts';
import { jsonParser } from './batch.ts';
import { int, num, parseIsoTime, splitTarget, str } from './fields.ts';
import type { ParseContext, ParseError, Parser, RawRecord } from './types.ts';

/**
 * Caddy v2 access logs (`log { format json }`): one JSON object per request with `request`
 * (`remote_ip`/`remote_port`, or `remote_addr` before v2.5; `client_ip` since v2.7; `method`,
 * `host`, `uri` with the query, `headers` as `{Name: [values]}`, `tls`), `status`, `size`,
 * `bytes_read`, `duration` (seconds by default), `ts` (float epoch seconds by default) and
 * `user_id` (the user the `basic_auth` handler accepted). Caddy writes `ts` when the response is
 * done, so the request started `duration` earlier.
 */
export const caddyParser: Parser = jsonParser({
  id: 'caddy',
  title: 'Caddy v2 access log (JSON)',
  what: 'caddy access log',
  parseValue(value: unknown, record: RawRecord, ctx: ParseContext): Result<ApiEvent[], ParseError> {
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      return err({ code: 'INGEST_PARSE_UNRECOGNISED', message: 'caddy access log record is not an object' });
    }
    const o = value as Record<string, unknown>;
    const request = o.request;
    if (!request || typeof request !== 'object' || Array.isArray(request)) {
      return err({
        code: 'INGEST_PARSE_UNRECOGNISED',
        message: 'caddy record has no "request" object (not an access log entry; check the logger name)',
      });
    }
    const req = request as Record<string, unknown>;
    const status = httpStatus(int(o.status));
    if (status === null)
      return err({ code: 'INGEST_PARSE_UNRECOGNISED', message: 'caddy record has no status' });
    const method = httpMethod(str(req.method));
    const uri = str(req.uri);
    if (method === null || uri === null) {
      return err({
        code: 'INGEST_PARSE_UNRECOGNISED',
        message: 'caddy record has no request method and uri',
      });
    }
    const durationMs = caddyDurationMs(o.duration);
    const logged = caddyTime(o.ts);
    if (logged === undefined)
      return err({ code: 'INGEST_PARSE_UNRECOGNISED', message: 'caddy record: ts not understood' });
    const ts = logged === null ? ctx.now : Math.max(0, logged - (durationMs ?? 0));
    const headers =
      req.headers && typeof req.headers === 'object' ? (req.headers as Record<string, unknown>) : null;
    const header = (name: string): string | null => (headers ? headerValue(headers, name) : null);
    const peerIp = str(req.remote_ip) ?? ipOf(str(req.remote_addr));
    const clientIp = str(req.client_ip) ?? forwardedClient(header('x-forwarded-for')) ?? peerIp;
    const tls = req.tls && typeof req.tls === 'object' ? (req.tls as Record<string, unknown>) : null;
    const clientCn = tls ? str(tls.client_common_name) : null;
    const trace = traceParent(header('traceparent'));
    const { path, queryKeys } = splitTarget(originForm(uri));
    return ok([
      buildEvent(
        {
          ts,
          method,
          path,
          queryKeys,
          status,
          sourceKind: 'caddy',
          raw: record.text,
          scheme: tls ? 'https' : 'http',
          host: str(req.host),
          requestBytes: int(o.bytes_read),
          responseBytes: int(o.size),
          latencyMs: latencyMs(durationMs),
          // Caddy generates no request id; an X-Request-Id header came from the client, and as the
          // event id it would let a client collapse its own calls into one stored event.
          requestId: null,
          clientIp,
          peerIp,
          userAgent: header('user-agent'),
          traceId: trace?.traceId ?? null,
          spanId: trace?.spanId ?? null,
          gateway: ctx.gateway,
          ...credentialDraft(ctx.identity, {
            headers,
            basicUser: str(o.user_id),
            mtlsSubject: clientCn,
            mtlsVerified: clientCn !== null,
            mtlsRef: tls ? str(tls.client_serial) : null,
          }),
        },
        ctx.now,
      ),
    ]);
  },
});

/** `duration`: float seconds (default), integer nanoseconds (`duration_format nanos`) or a Go duration string. */
function caddyDurationMs(value: unknown): number | null {
  if (typeof value === 'string') {
    const go = goDurationMs(value);
    if (go !== null) return go;
  }
  const n = num(value);
  if (n === null || n < 0) return null;
  // Integer nanoseconds can be told from seconds: no request takes a million seconds.
  return Number.isInteger(n) && n >= 1e6 ? n / 1e6 : n * 1000;
}

/** `ts`: float epoch seconds (default), epoch ms/ns, or an ISO 8601 string; null when absent, undefined when garbled. */
function caddyTime(value: unknown): number | null | undefined {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string' && !/^\d+(?:\.\d+)?$/.test(value)) {
    const t = parseIsoTime(value);
    return t !== null && t >= 0 ? t : undefined;
  }
  const n = num(value);
  if (n === null || n < 0) return undefined;
  if (n < 1e11) return Math.round(n * 1000);
  if (n < 1e14) return Math.round(n);
  return Math.round(n / 1e6);
}
