import { parseJson } from './json.ts';
import type { RawRecord } from './types.ts';

/**
 * Logs as operators ship them (docs/formats/README.md, "Wrappers"): the access line inside a
 * syslog message (RFC 3164 or RFC 5424, with or without `<PRI>`: nginx `access_log syslog:`,
 * HAProxy `log`, rsyslog files), a CRI container log line (`<RFC3339> stdout|stderr F|P <line>`,
 * containerd/CRI-O, partial `P` lines joined) or a Docker json-file line
 * (`{"log":"…\n","stream":"stdout","time":"…"}`). Detected per line, so a file may mix them; every
 * text and JSON format is read through them (the pipeline's first step).
 */

/** `<134>` then RFC 5424 `1 TIMESTAMP HOST APP PROCID MSGID SD`, or BSD `Mmm dd hh:mm:ss HOST TAG: `. */
export const SYSLOG_PREFIX =
  /^(?:<\d{1,3}>)?(?:[A-Z][a-z]{2} {1,2}\d{1,2} \d{2}:\d{2}:\d{2} (?:(\S+) )?[^\s:[]+(?:\[\d+\])?: |1 \S+ (\S+) \S+ \S+ \S+ (?:-|\[(?:[^\]\\]|\\.)*\])+ |\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}) (\S+) [^\s:[]+(?:\[\d+\])?: )/;

const CRI =
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}) (stdout|stderr) ([FP])(?: (.*))?$/s;

const MONTH_START = /^[A-Z][a-z]{2} /;

export interface Unwrapped {
  record: RawRecord;
  /** A CRI `P` or an unterminated Docker line: the rest of the line comes in the next record. */
  partial: boolean;
  /** The container stream, for joining partial lines per stream. */
  stream: string | null;
  wrapper: 'cri' | 'docker' | 'syslog' | null;
  /** The container payload before the syslog prefix came off (what partial lines join). */
  line: string;
  /** The syslog HOSTNAME, when a syslog prefix came off: the gateway that logged the line. */
  host?: string;
}

/** Whether a line may be wrapped (cheap test first: most access lines start with an IP or `{`/`[`). */
export function mayBeWrapped(text: string): boolean {
  const c = text.charCodeAt(0);
  if (c === 60 /* < */) return true;
  if (c >= 48 && c <= 57 /* digit */)
    return text.charCodeAt(4) === 45 /* - */ && text.charCodeAt(10) === 84; /* T */
  return MONTH_START.test(text);
}

/** The syslog prefix of a line, or null. */
export function syslogPrefix(text: string): string | null {
  if (!mayBeWrapped(text)) return null;
  return SYSLOG_PREFIX.exec(text)?.[0] ?? null;
}

/**
 * One record without its wrappers: Docker json-file, then CRI, then a syslog prefix. A JSON
 * access line inside is parsed (depth-bounded) so JSON formats read it as they read a file line.
 * Records with no wrapper come back as they are.
 */
export function unwrapRecord(record: RawRecord): Unwrapped {
  let text = record.text;
  let wrapper: Unwrapped['wrapper'] = null;
  let partial = false;
  let stream: string | null = null;
  const j = record.json;
  if (j && typeof j === 'object' && !Array.isArray(j)) {
    const o = j as Record<string, unknown>;
    if (typeof o.log !== 'string' || (typeof o.stream !== 'string' && typeof o.time !== 'string'))
      return { record, partial, stream, wrapper, line: text };
    // Docker json-file: the line with its newline; without one, Docker split a long line (16 KiB).
    wrapper = 'docker';
    stream = typeof o.stream === 'string' ? o.stream : null;
    partial = !o.log.endsWith('\n');
    text = o.log.replace(/\r?\n$/, '');
  } else if (j === undefined && mayBeWrapped(text)) {
    const cri = CRI.exec(text);
    if (cri) {
      wrapper = 'cri';
      stream = cri[1]!;
      partial = cri[2] === 'P';
      text = cri[3] ?? '';
    }
  } else {
    return { record, partial, stream, wrapper, line: text };
  }
  const line = text;
  let host: string | undefined;
  if (!partial && mayBeWrapped(text)) {
    const m = SYSLOG_PREFIX.exec(text);
    if (m) {
      text = text.slice(m[0].length);
      host = m[1] ?? m[2] ?? m[3];
      if (host === '-') host = undefined;
      wrapper ??= 'syslog';
    }
  }
  if (wrapper === null) return { record, partial, stream, wrapper, line };
  return { record: innerRecord(text, partial), partial, stream, wrapper, line, ...(host ? { host } : {}) };
}

/** A container line joined from partial pieces, as a record: syslog prefix off, JSON parsed. */
export function joinedRecord(line: string): RawRecord {
  const prefix = syslogPrefix(line);
  return innerRecord(prefix ? line.slice(prefix.length) : line);
}

/** The line inside a wrapper as a record: JSON lines parsed, like a file's NDJSON line. */
export function innerRecord(text: string, partial = false): RawRecord {
  const t = text.trimStart();
  if (!partial && (t.startsWith('{') || t.startsWith('['))) {
    const parsed = parseJson(t);
    if (parsed.ok) return { text, json: parsed.value };
  }
  return { text };
}

/**
 * Lines that are a server's own diagnostics, not access logs: nginx/Apache/HAProxy/Envoy error
 * logs, Caddy/Traefik non-access loggers. Asked only after a parser refused a line, to say what
 * it is (INGEST_NOT_ACCESS_LOG) instead of "unrecognised".
 */
export function serverLogKind(record: RawRecord): string | null {
  const t = record.text.trimStart();
  if (
    /^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2} \[(?:debug|info|notice|warn|error|crit|alert|emerg)\] \d+#\d+:/.test(
      t,
    )
  )
    return 'an nginx error-log line';
  if (
    /^\[[A-Z][a-z]{2} [A-Z][a-z]{2} \d{2} [\d:.]+ \d{4}\] \[[\w:]*(?:error|warn|notice|info|debug|crit|alert|emerg)\]/.test(
      t,
    )
  )
    return 'an Apache error-log line';
  if (
    /^\[(?:NOTICE|WARNING|ALERT|ERROR|EMERG|CRIT|INFO|DEBUG)\]\s+\(\d+\)/.test(t) ||
    /^\[(?:WARNING|NOTICE|ALERT)\] \d{3}\/\d{6} \(\d+\)/.test(t)
  )
    return 'an HAProxy diagnostic line';
  if (/^(?:Proxy|Backend|Frontend|Server) \S+ (?:started|stopped|is (?:UP|DOWN))/.test(t))
    return 'an HAProxy status line';
  if (
    /^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}\]\[\d+\]\[(?:trace|debug|info|warning|error|critical)\]/.test(
      t,
    )
  )
    return 'an Envoy server-log line';
  if (/^time="[^"]+" level=(?:debug|info|warning|error|fatal|panic)/.test(t))
    return 'a Traefik server-log line';
  const j = record.json;
  if (j && typeof j === 'object' && !Array.isArray(j)) {
    const o = j as Record<string, unknown>;
    const logger = typeof o.logger === 'string' ? o.logger : '';
    if (
      typeof o.level === 'string' &&
      (typeof o.msg === 'string' || typeof o.message === 'string') &&
      !logger.startsWith('http.log.access') &&
      !('request' in o) &&
      !('RequestMethod' in o)
    )
      return 'a server-log JSON line (no request)';
  }
  return null;
}

/** Whether a text line carries a CRI or syslog wrapper (readRecords then frames by line). */
export function isWrappedLine(text: string): boolean {
  return mayBeWrapped(text) && (CRI.test(text) || SYSLOG_PREFIX.test(text));
}
