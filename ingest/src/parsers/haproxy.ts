import { type ApiEvent, buildEvent, err, ok, type Result } from '@apiwatch/core';
import { credentialDraft, type IdentityClues } from '../identity/draft.ts';
import { forwardedClient, httpMethod, httpStatus, ipOf, latencyMs, originForm } from './access-log.ts';
import { parseClfTime, splitTarget } from './fields.ts';
import type { ParseContext, ParseError, Parser, RawRecord } from './types.ts';
import { SYSLOG_PREFIX } from './wrappers.ts';

/**
 * HAProxy `option httplog` lines (formats.md §7b), with or without a syslog header (RFC 3164 or
 * RFC 5424, as written by `log /dev/log` or `log stdout format raw|rfc3164|rfc5424`):
 *
 *   %ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r
 *
 * HAProxy 1.x's Tq/Tw/Tc/Tr/Tt fill the same slot, and a host name inserted after the server (a
 * common custom variant) is accepted. Timers are ms, `-1` = the phase was never reached. `%tr` is
 * local time without an offset and is read as UTC (run HAProxy with TZ=UTC). Captured headers
 * (`{a|b}`) are positional without names, so each value is recognised by its shape: an
 * Authorization value (fingerprinted, never kept), an X-Forwarded-For list, a User-Agent, a Host.
 */
export const haproxyParser: Parser = {
  id: 'haproxy',
  title: 'HAProxy option httplog (syslog-prefixed or raw)',
  framing: 'text',
  parse(record: RawRecord, ctx: ParseContext): Result<ApiEvent[], ParseError> {
    const line = record.text.trim();
    const header = SYSLOG_PREFIX.exec(line);
    const body = header ? line.slice(header[0].length) : line;
    const m = HTTPLOG.exec(body);
    if (!m) return err({ code: 'INGEST_PARSE_UNRECOGNISED', message: 'not an HAProxy httplog line' });
    const ts = parseClfTime(m[3]!);
    if (ts === null || ts < 0)
      return err({
        code: 'INGEST_PARSE_UNRECOGNISED',
        message: `haproxy accept date not understood: ${m[3]}`,
      });
    // -1: the client went away before HAProxy had a response to send.
    const status = m[13] === '-1' ? 0 : httpStatus(Number(m[13]));
    if (status === null)
      return err({ code: 'INGEST_PARSE_UNRECOGNISED', message: 'haproxy status is not an HTTP status' });
    const request = requestLine(m[16]!);
    const captures = readCaptures(m[15] ?? '');
    const peerIp = ipOf(m[1] === '-' ? null : m[1]!);
    const { path, queryKeys } = splitTarget(request.target);
    const total = Number(m[12]);
    return ok([
      buildEvent(
        {
          ts,
          method: request.method,
          path,
          queryKeys,
          status,
          sourceKind: 'haproxy',
          raw: record.text,
          scheme: m[4]!.endsWith('~') ? 'https' : 'http',
          host: captures.host ?? m[7] ?? null,
          responseBytes: Number(m[14]),
          latencyMs: total < 0 ? null : latencyMs(total),
          clientIp: forwardedClient(captures.forwardedFor) ?? peerIp,
          peerIp,
          userAgent: captures.userAgent,
          gateway: ctx.gateway ?? (header ? (header[1] ?? header[2] ?? header[3] ?? null) : null),
          ...credentialDraft(ctx.identity, captures.identity),
        },
        ctx.now,
      ),
    ]);
  },
};

// `<134>Jul 30 09:03:52 host haproxy[123]: ` or `<134>1 2018-07-30T09:03:52.726Z host haproxy 123 - - `
const HTTPLOG = new RegExp(
  [
    String.raw`^(\S+):(\d+|-)`, // 1 %ci, 2 %cp
    String.raw` \[(\d{1,2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?)\]`, // 3 %tr
    String.raw` (\S+)`, // 4 %ft
    String.raw` ([^\s/]+)/(\S+)`, // 5 %b, 6 %s
    String.raw`(?: (\S+))?`, // 7 an inserted host (custom variant)
    String.raw` (-?\d+)/(-?\d+)/(-?\d+)/(-?\d+)/\+?(-?\d+)`, // 8-12 TR/Tw/Tc/Tr/Ta
    String.raw` (-1|\d{1,3})`, // 13 %ST
    String.raw` \+?(\d{1,15})`, // 14 %B
    String.raw` \S+ \S+ \S{4} \d+/\d+/\d+/\d+/\+?\d+ \d+/\d+`, // %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq
    String.raw`((?: \{[^}]*\})*)`, // 15 %hr %hs
    ` "(.*)"$`, // 16 %{+Q}r
  ].join(''),
);

function requestLine(value: string): { method: string; target: string } {
  const first = value.indexOf(' ');
  if (first < 0) return { method: 'UNKNOWN', target: '/' }; // <BADREQ>
  const second = value.indexOf(' ', first + 1);
  const target = second < 0 ? value.slice(first + 1) : value.slice(first + 1, second);
  return {
    method: httpMethod(value.slice(0, first)) ?? 'UNKNOWN',
    target: target ? originForm(target) : '/',
  };
}

interface Captures {
  host: string | null;
  userAgent: string | null;
  forwardedFor: string | null;
  identity: IdentityClues;
}

const AUTH_SCHEME = /^(?:basic|bearer|negotiate|digest|apikey|api-key|token) \S/i;
const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;
const IPV6 = /^[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}$/i;
const HOST = /^[a-z0-9-]+(?:\.[a-z0-9-]+)*(?::\d{1,5})?$/i;
const USER_AGENT = /^[A-Za-z][\w.-]*\/\S/;

/**
 * The request-header block is the first `{…}`; the response block (second) carries nothing
 * apiwatch reads. HAProxy encodes `|`, `{`, `}` and `"` inside values as `#7C` and the like.
 */
function readCaptures(blocks: string): Captures {
  const out: Captures = { host: null, userAgent: null, forwardedFor: null, identity: {} };
  const open = blocks.indexOf('{');
  if (open < 0) return out;
  const close = blocks.indexOf('}', open);
  for (const rawValue of blocks.slice(open + 1, close).split('|')) {
    const value = rawValue.includes('#')
      ? rawValue.replace(/#([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)))
      : rawValue;
    if (!value) continue;
    if (AUTH_SCHEME.test(value)) out.identity.authorization ??= value;
    else if (out.forwardedFor === null && isAddressList(value)) out.forwardedFor = value;
    else if (out.userAgent === null && USER_AGENT.test(value)) out.userAgent = value;
    else if (out.host === null && HOST.test(value)) out.host = value;
  }
  return out;
}

/** An X-Forwarded-For value: addresses without ports, comma-separated. */
function isAddressList(value: string): boolean {
  for (const part of value.split(',')) {
    const a = part.trim();
    if (!IPV4.test(a) && !IPV6.test(a)) return false;
  }
  return true;
}
