import type { Finding } from '@apiwatch/core';
import type { Label } from './pipeline.ts';

/**
 * Scoring findings against ground truth (docs/eval.md). A finding update *matches* an attack when
 * its detector is the attack's kind, its entity is one the attack's labels accept (the attacker:
 * its address, actor, credential, user or — for route-level kinds — the endpoint), and it was
 * raised (detectedAt, the runtime's event-time clock) between the attack's start and its end plus
 * a grace period. Findings are counted per episode (one finding id = one episode, whatever its
 * firing and resolved updates):
 *
 * - true positive: an episode with an update that matches an attack of its kind;
 * - collateral: not a true positive, but it names an entity of some attack's traffic (its source,
 *   actor or endpoint) while that attack ran — e.g. a route spike during credential stuffing. A
 *   correct observation of attack traffic; reported, and neither true nor false;
 * - false positive: everything else.
 *
 * Per kind: recall = attacks detected / attacks; precision = TP / (TP + FP) episodes of that
 * detector; time to detect = first matching detectedAt − attack start (event time; from the
 * label's `detectableFrom` when its defining event comes later, e.g. the successful login of
 * success-after-failures), median over the detected attacks. False findings per 100k benign events = FP episodes (every detector) per
 * 100 000 events that belong to no attack — both counted in the scored period (`fromMs`, the last
 * week): the weeks before it are the baselines' learning period, as in a new deployment
 * (detection.md §7, time split); findings raised in them are reported as `learningFindings`.
 */

export interface KindScore {
  kind: string;
  attacks: number;
  detected: number;
  /** null when the kind had no attack in the corpus. */
  recall: number | null;
  truePositives: number;
  collateral: number;
  falsePositives: number;
  /** null when the detector raised nothing. */
  precision: number | null;
  /** Median time to detect, ms of event time; null when nothing was detected. */
  medianTtdMs: number | null;
  ttdMs: number[];
  /** Label ids of the attacks no finding matched. */
  missed: string[];
}

export interface Episode {
  id: string;
  detector: string;
  entity: string;
  firstDetectedAt: number;
  firstSeen: number;
  lastSeen: number;
  updates: Finding[];
}

export interface ScoreReport {
  kinds: KindScore[];
  benignEvents: number;
  episodes: number;
  falsePositives: number;
  /** False-positive episodes raised before the scored period (while baselines learn): reported, not judged. */
  learningFindings: number;
  falsePer100k: number;
  /** False-positive episodes per detector (every detector that raised one). */
  falseByDetector: Record<string, number>;
  /** The false-positive episodes themselves (first update of each), for the report. */
  falseFindings: Finding[];
}

export function entityKey(f: Finding): string {
  return `${f.entity.kind}:${f.entity.id}`;
}

/** Groups finding updates into episodes (by finding id), in order of first detection. */
export function episodes(findings: readonly Finding[]): Episode[] {
  const byId = new Map<string, Episode>();
  for (const f of findings) {
    let e = byId.get(f.id);
    if (!e) {
      e = {
        id: f.id,
        detector: f.detector,
        entity: entityKey(f),
        firstDetectedAt: f.detectedAt,
        firstSeen: f.firstSeen,
        lastSeen: f.lastSeen,
        updates: [],
      };
      byId.set(f.id, e);
    }
    e.updates.push(f);
    e.firstDetectedAt = Math.min(e.firstDetectedAt, f.detectedAt);
    e.firstSeen = Math.min(e.firstSeen, f.firstSeen);
    e.lastSeen = Math.max(e.lastSeen, f.lastSeen);
  }
  return [...byId.values()].sort((a, b) => a.firstDetectedAt - b.firstDetectedAt || (a.id < b.id ? -1 : 1));
}

function within(l: Label, ts: number): boolean {
  return ts >= l.start && ts <= l.end + l.graceMs;
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function score(
  labels: readonly Label[],
  findings: readonly Finding[],
  options: {
    benignEvents: number;
    kinds: readonly string[];
    /** Judge false findings from here on (the scored period); earlier ones are the learning period. */
    fromMs?: number;
  },
): ScoreReport {
  const from = options.fromMs ?? Number.NEGATIVE_INFINITY;
  const eps = episodes(findings);
  const attackerSets = labels.map((l) => new Set(l.attacker));
  const relatedSets = labels.map((l) => new Set(l.related));
  const firstMatch = new Map<string, number>();
  const status = new Map<string, 'tp' | 'collateral' | 'fp'>();
  for (const ep of eps) {
    let tp = false;
    for (const u of ep.updates) {
      const key = entityKey(u);
      labels.forEach((l, i) => {
        if (l.kind !== u.detector || !attackerSets[i]!.has(key) || !within(l, u.detectedAt)) return;
        tp = true;
        const prev = firstMatch.get(l.id);
        if (prev === undefined || u.detectedAt < prev) firstMatch.set(l.id, u.detectedAt);
      });
    }
    if (tp) {
      status.set(ep.id, 'tp');
      continue;
    }
    const collateral = ep.updates.some((u) => {
      const key = entityKey(u);
      return labels.some(
        (l, i) =>
          relatedSets[i]!.has(key) &&
          (within(l, u.detectedAt) || (u.firstSeen <= l.end + l.graceMs && u.lastSeen >= l.start)),
      );
    });
    status.set(ep.id, collateral ? 'collateral' : 'fp');
  }
  const kinds: KindScore[] = options.kinds.map((kind) => {
    const ls = labels.filter((l) => l.kind === kind && l.observable);
    const ttd: number[] = [];
    const missed: string[] = [];
    for (const l of ls) {
      const at = firstMatch.get(l.id);
      if (at === undefined) missed.push(l.id);
      else ttd.push(Math.max(0, at - (l.detectableFrom ?? l.start)));
    }
    const mine = eps.filter((e) => e.detector === kind);
    const tp = mine.filter((e) => status.get(e.id) === 'tp').length;
    const fp = mine.filter((e) => status.get(e.id) === 'fp' && e.firstDetectedAt >= from).length;
    return {
      kind,
      attacks: ls.length,
      detected: ls.length - missed.length,
      recall: ls.length > 0 ? (ls.length - missed.length) / ls.length : null,
      truePositives: tp,
      collateral: mine.filter((e) => status.get(e.id) === 'collateral').length,
      falsePositives: fp,
      precision: tp + fp > 0 ? tp / (tp + fp) : null,
      medianTtdMs: median(ttd),
      ttdMs: ttd,
      missed,
    };
  });
  const falseEps = eps.filter((e) => status.get(e.id) === 'fp' && e.firstDetectedAt >= from);
  const learning = eps.filter((e) => status.get(e.id) === 'fp' && e.firstDetectedAt < from).length;
  const falseByDetector: Record<string, number> = {};
  for (const e of falseEps) falseByDetector[e.detector] = (falseByDetector[e.detector] ?? 0) + 1;
  return {
    kinds,
    benignEvents: options.benignEvents,
    episodes: eps.length,
    falsePositives: falseEps.length,
    learningFindings: learning,
    falsePer100k: options.benignEvents > 0 ? (falseEps.length * 100_000) / options.benignEvents : 0,
    falseByDetector,
    falseFindings: falseEps.map((e) => e.updates[0]!),
  };
}
