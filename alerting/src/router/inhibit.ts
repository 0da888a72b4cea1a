import type { InhibitRuleConfigValue } from '@apiwatch/core';
import { type Labels, type Matcher, matchesAll, parseMatchers } from './matcher.ts';

/**
 * Inhibition (Alertmanager): a target finding is muted while a firing source finding exists whose
 * labels named in `equal` have the same values — e.g. a `volume.route_spike` on a route mutes the
 * `volume.error_spike` of the same route. A finding never inhibits itself.
 */
export interface InhibitRule {
  source: readonly Matcher[];
  target: readonly Matcher[];
  equal: readonly string[];
}

export function compileInhibitRules(rules: readonly InhibitRuleConfigValue[]): InhibitRule[] {
  return rules.map((r, i) => {
    try {
      return {
        source: parseMatchers(r.sourceMatchers),
        target: parseMatchers(r.targetMatchers),
        equal: r.equal,
      };
    } catch (e) {
      throw new Error(`alert.inhibitRules.${i}: ${(e as Error).message}`);
    }
  });
}

/** Label sets of firing findings a rule could use as a source: what the router remembers. */
export interface FiringSource {
  fingerprint: string;
  labels: Labels;
}

/** The first rule (index) that mutes `target`, or -1. Pure. */
export function inhibitedBy(
  rules: readonly InhibitRule[],
  target: Labels,
  targetFingerprint: string,
  sources: Iterable<FiringSource>,
): number {
  const list = [...sources];
  for (const [i, rule] of rules.entries()) {
    if (!matchesAll(rule.target, target)) continue;
    for (const s of list) {
      if (s.fingerprint === targetFingerprint) continue;
      if (!matchesAll(rule.source, s.labels)) continue;
      if (rule.equal.every((name) => (s.labels[name] ?? '') === (target[name] ?? ''))) return i;
    }
  }
  return -1;
}

/** Whether any rule could use these labels as a source (so the router only keeps those). */
export function isInhibitSource(rules: readonly InhibitRule[], labels: Labels): boolean {
  return rules.some((r) => matchesAll(r.source, labels));
}
