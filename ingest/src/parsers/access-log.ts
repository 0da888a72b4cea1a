/**
 * Pieces shared by the access-log parsers (envoy, istio, nginx, caddy, traefik, haproxy): how
 * their logs spell addresses, durations, trace context and identity-bearing headers. Field
 * coercion itself (numbers as strings, "-") lives in fields.ts.
 */
import { str } from './fields.ts';

/** An HTTP status the schema accepts (0 = no response), or null. */
export function httpStatus(value: number | null): number | null {
  return value !== null && Number.isInteger(value) && value >= 0 && value <= 999 ? value : null;
}

const METHOD = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;

/** An upper-case HTTP method token, or null for anything that cannot be one. */
export function httpMethod(value: string | null): string | null {
  return value !== null && METHOD.test(value) ? value.toUpperCase() : null;
}

export { originForm } from './fields.ts';

/**
 * The IP of an address as gateways log it: `1.2.3.4:80`, `[2001:db8::1]:443`, bare IPv6,
 * `tcp://10.0.2.1:80`; null for `-`, empty, a unix socket or a `-:port` placeholder.
 */
export function ipOf(value: string | null | undefined): string | null {
  if (!value) return null;
  let v = value.trim();
  if (v === '' || v === '-' || v.startsWith('unix:') || v.startsWith('@')) return null;
  const scheme = v.indexOf('://');
  if (scheme >= 0) v = v.slice(scheme + 3);
  if (v.startsWith('[')) {
    const close = v.indexOf(']');
    return close > 1 ? v.slice(1, close) : null;
  }
  const firstColon = v.indexOf(':');
  if (firstColon < 0) return v;
  // One colon: IPv4 or name with a port. More: a bare IPv6 address (no port possible).
  if (v.indexOf(':', firstColon + 1) < 0) {
    const host = v.slice(0, firstColon);
    return host === '' || host === '-' ? null : host;
  }
  return v;
}

/** The first hop of an X-Forwarded-For list (the client as the first proxy saw it). */
export function forwardedClient(value: string | null | undefined): string | null {
  if (!value) return null;
  const comma = value.indexOf(',');
  const first = (comma < 0 ? value : value.slice(0, comma)).trim();
  if (first === '' || first === '-' || first.toLowerCase() === 'unknown') return null;
  return ipOf(first);
}

/** W3C `traceparent` → trace and span ids. */
export function traceParent(value: string | null | undefined): { traceId: string; spanId: string } | null {
  if (!value) return null;
  const m = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}/.exec(value.trim().toLowerCase());
  return m ? { traceId: m[1]!, spanId: m[2]! } : null;
}

const GO_DURATION_UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** A Go duration string (`1.5ms`, `2m3.5s`, `350µs`) → milliseconds, or null. */
export function goDurationMs(value: string): number | null {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|μs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(value); m; m = re.exec(value)) {
    total += Number(m[1]) * GO_DURATION_UNIT_MS[m[2]!]!;
    matched = re.lastIndex;
  }
  return matched > 0 && matched === value.length ? total : null;
}

/** Rounds to microsecond precision, the finest unit any of these gateways logs in ms. */
export function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** A non-negative finite latency in ms, or null. */
export function latencyMs(value: number | null): number | null {
  return value !== null && Number.isFinite(value) && value >= 0 ? roundMs(value) : null;
}

/**
 * Splits a line of space-separated tokens where a token is either bare (no spaces) or quoted.
 * Gateways such as Envoy do not escape quotes inside quoted values, so a quoted token ends at a
 * quote followed by a space or the end of the line. Returns null when a quote is not closed.
 */
export function splitTokens(line: string, from: number): string[] | null {
  const tokens: string[] = [];
  let i = from;
  const n = line.length;
  while (i < n) {
    if (line.charCodeAt(i) === 32) {
      i++;
      continue;
    }
    if (line.charCodeAt(i) === 34 /* " */) {
      let j = i + 1;
      for (;;) {
        j = line.indexOf('"', j);
        if (j < 0) return null;
        if (j + 1 === n || line.charCodeAt(j + 1) === 32) break;
        j++;
      }
      tokens.push(line.slice(i + 1, j));
      i = j + 1;
    } else {
      let j = line.indexOf(' ', i);
      if (j < 0) j = n;
      tokens.push(line.slice(i, j));
      i = j;
    }
  }
  return tokens;
}

/** `-` (and empty) mean "not set" in text access logs. */
export function dash(value: string | undefined): string | null {
  return value === undefined || value === '' || value === '-' ? null : value;
}

/**
 * Header lookup in a `{ "User-Agent": ["…"] }` map (Caddy). Go's net/http stores header names in
 * canonical form (HTTP/1 and HTTP/2 alike), so one property read finds a header or it is absent.
 */
export function headerValue(headers: Record<string, unknown>, lowerName: string): string | null {
  const v = headers[canonicalHeaderName(lowerName)];
  if (v === undefined) return null;
  if (Array.isArray(v)) return v.length === 1 ? str(v[0]) : v.length > 0 ? str(v.join(', ')) : null;
  return str(v);
}

const canonicalCache = new Map<string, string>();

/** `x-forwarded-for` → `X-Forwarded-For` (Go's textproto canonical form). */
export function canonicalHeaderName(lowerName: string): string {
  let c = canonicalCache.get(lowerName);
  if (c === undefined) {
    c = lowerName.replace(/(^|-)([a-z])/g, (_, dash: string, ch: string) => dash + ch.toUpperCase());
    if (canonicalCache.size < 1024) canonicalCache.set(lowerName, c);
  }
  return c;
}

/**
 * Request headers kept in a flat record under a prefix (`http_x_api_key` in nginx,
 * `request_X-Api-Key` in Traefik) as a header map for `credentialDraft`, which reads the
 * source's configured credential and identity headers from it. null when there are none.
 */
export function prefixedHeaders(
  o: Record<string, unknown>,
  prefix: string,
  underscores: boolean,
): Record<string, unknown> | null {
  let headers: Record<string, unknown> | null = null;
  for (const key in o) {
    if (key.length <= prefix.length || !key.startsWith(prefix)) continue;
    const name = key.slice(prefix.length);
    headers ??= {};
    headers[underscores ? name.replaceAll('_', '-') : name] = o[key];
  }
  return headers;
}
