/**
 * Lenient field coercion shared by the parsers: gateways send numbers as numbers, numeric
 * strings or "-" (formats.md §0 rule 4).
 */

export function str(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const s =
    typeof value === 'string'
      ? value
      : typeof value === 'number' || typeof value === 'boolean'
        ? String(value)
        : null;
  if (s === null || s === '' || s === '-') return null;
  return s;
}

export function num(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value !== 'string' || value === '' || value === '-') return null;
  // nginx upstream lists ("0.100, 0.004"): the last element is the attempt that answered.
  const last = value.includes(',') ? value.slice(value.lastIndexOf(',') + 1).trim() : value;
  const n = Number(last);
  return Number.isFinite(n) ? n : null;
}

export function int(value: unknown): number | null {
  const n = num(value);
  return n === null ? null : Math.trunc(n);
}

/**
 * A request target as logged → its origin form (path and query). Forward proxies and some clients
 * send the absolute form (`GET https://bob:pw@api.example.com/x?y HTTP/1.1`); its scheme,
 * userinfo (a password!) and authority are dropped here, for every parser (splitTarget calls it).
 */
export function originForm(target: string): string {
  if (target.charCodeAt(0) === 47 /* / */) return target;
  const scheme = target.indexOf('://');
  if (scheme > 0 && scheme < 10 && /^[A-Za-z][A-Za-z0-9+.-]*$/.test(target.slice(0, scheme))) {
    const start = scheme + 3;
    let end = target.length;
    for (const c of ['/', '?', '#']) {
      const i = target.indexOf(c, start);
      if (i >= 0 && i < end) end = i;
    }
    const rest = target.slice(end);
    if (rest === '' || rest.charCodeAt(0) === 35 /* # */) return '/';
    return rest.charCodeAt(0) === 63 /* ? */ ? `/${rest}` : rest;
  }
  return target.length > 0 ? target : '/';
}

/**
 * A host as logged without userinfo: `user:pw@api.example.com` → `api.example.com` (Envoy's
 * `%REQ(:AUTHORITY)%` keeps what the client sent). The pipeline applies it to every event.
 */
export function hostWithoutUserinfo(host: string | null): string | null {
  if (host === null) return null;
  const at = host.lastIndexOf('@');
  if (at < 0) return host;
  const rest = host.slice(at + 1);
  return rest.length > 0 ? rest : null;
}

/**
 * Splits a request target (origin or absolute form, see originForm) into the path and the query
 * parameter names.
 */
export function splitTarget(raw: string): { path: string; queryKeys: string[] } {
  const target = originForm(raw);
  const q = target.indexOf('?');
  if (q < 0) return { path: target || '/', queryKeys: [] };
  const path = target.slice(0, q) || '/';
  const keys: string[] = [];
  for (const pair of target.slice(q + 1).split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    let key = eq < 0 ? pair : pair.slice(0, eq);
    try {
      key = decodeURIComponent(key.replaceAll('+', ' '));
    } catch {
      // keep the raw key when it is not valid percent-encoding
    }
    if (key && !keys.includes(key) && keys.length < 128) keys.push(key.slice(0, 256));
  }
  return { path, queryKeys: keys };
}

const MONTHS: Record<string, number> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};

/** `25/Feb/2021:16:20:01 -0500` (CLF, optional .mmm) → ms epoch, or null. */
export function parseClfTime(value: string): number | null {
  const m =
    /^(\d{1,2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?(?: ([+-])(\d{2}):?(\d{2}))?$/.exec(
      value,
    );
  if (!m) return null;
  const month = MONTHS[m[2]!];
  if (month === undefined) return null;
  const ms = m[7] ? Number(m[7].padEnd(3, '0')) : 0;
  let t = Date.UTC(Number(m[3]), month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]), ms);
  if (m[8]) {
    const offset = (Number(m[9]) * 60 + Number(m[10])) * 60_000;
    t -= m[8] === '+' ? offset : -offset;
  }
  return t;
}

/** ISO 8601 / RFC 3339 → ms epoch, or null. */
export function parseIsoTime(value: string): number | null {
  const t = Date.parse(value);
  return Number.isFinite(t) ? t : null;
}

/** `GET /path?x=1 HTTP/1.1` → method and target; null for an empty or garbled request line. */
export function splitRequestLine(
  line: string,
): { method: string; target: string; protocol: string | null } | null {
  const parts = line.trim().split(/\s+/);
  if (parts.length < 2 || !parts[0] || !parts[1]) return null;
  if (!/^[A-Za-z][A-Za-z0-9_-]{0,31}$/.test(parts[0])) return null;
  return { method: parts[0].toUpperCase(), target: parts[1], protocol: parts[2] ?? null };
}

/** The first address of an X-Forwarded-For list: the client as the first proxy saw it. */
export function firstForwarded(value: unknown): string | null {
  const s = str(value);
  if (!s) return null;
  const first = s.split(',')[0]?.trim();
  return first && first !== '-' && first !== 'unknown' ? first : null;
}

/**
 * JSON text of a value that came from untrusted input: JSON.stringify throws on nesting deep
 * enough to exhaust the stack (a few thousand levels), which a parser must report, not throw.
 */
export function rawJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return '[not serialisable: nested too deep]';
  }
}
