import type { Finding } from '@apiwatch/core';

/**
 * Alertmanager's label matchers: `name=value`, `name!=value`, `name=~regex`, `name!~regex`.
 * Values may be double-quoted; regexes are anchored at both ends (Alertmanager does the same), so
 * `severity=~"high|critical"` matches exactly those two. A matcher on a missing label sees "".
 */
export type MatchOp = '=' | '!=' | '=~' | '!~';

export interface Matcher {
  name: string;
  op: MatchOp;
  value: string;
  /** Compiled for =~ and !~. */
  regex: RegExp | null;
}

export type Labels = Readonly<Record<string, string>>;

const MATCHER = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$/;

export function parseMatcher(text: string): Matcher {
  const m = MATCHER.exec(text);
  if (!m)
    throw new Error(`"${text}" is not a matcher (label=value, label!=value, label=~regex, label!~regex)`);
  const [, name, op, raw] = m as unknown as [string, string, MatchOp, string];
  let value = raw;
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    // JSON escapes (\" \\ \n) when they parse; otherwise the text between the quotes as written,
    // so a regex like "auth\..*" needs no doubled backslash.
    try {
      value = JSON.parse(value) as string;
    } catch {
      value = value.slice(1, -1);
    }
  }
  let regex: RegExp | null = null;
  if (op === '=~' || op === '!~') {
    try {
      regex = new RegExp(`^(?:${value})$`);
    } catch (e) {
      throw new Error(`"${text}": ${(e as Error).message}`);
    }
  }
  return { name, op, value, regex };
}

export function parseMatchers(texts: readonly string[]): Matcher[] {
  return texts.map(parseMatcher);
}

export function matches(matcher: Matcher, labels: Labels): boolean {
  const v = labels[matcher.name] ?? '';
  switch (matcher.op) {
    case '=':
      return v === matcher.value;
    case '!=':
      return v !== matcher.value;
    case '=~':
      return matcher.regex!.test(v);
    case '!~':
      return !matcher.regex!.test(v);
  }
}

export function matchesAll(matchers: readonly Matcher[], labels: Labels): boolean {
  for (const m of matchers) if (!matches(m, labels)) return false;
  return true;
}

export function formatMatcher(m: Matcher): string {
  return `${m.name}${m.op}${JSON.stringify(m.value)}`;
}

/**
 * The labels routing sees for a finding: its own bounded labels, then the fields every finding
 * has (these win, so a detector cannot spoof `severity` through a label).
 */
export function findingLabels(f: Finding): Labels {
  return {
    ...f.labels,
    detector: f.detector,
    family: f.family,
    severity: f.severity,
    status: f.status,
    entity_kind: f.entity.kind,
    entity: f.entity.id,
    fingerprint: f.fingerprint,
    ...(f.tenant !== null ? { tenant: f.tenant } : {}),
    ...(f.route !== null ? { route: f.route } : {}),
    ...(f.method !== null ? { method: f.method } : {}),
  };
}
