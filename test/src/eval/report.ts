import type { EvalResult } from './evaluate.ts';
import type { KindScore } from './score.ts';

function ratio(v: number | null): string {
  return v === null ? '—' : v.toFixed(2);
}

function minutes(ms: number | null): string {
  if (ms === null) return '—';
  const m = ms / 60_000;
  return m < 10 ? `${m.toFixed(1)} min` : `${Math.round(m)} min`;
}

/** The per-kind table `apiwatch eval` prints. */
export function formatKindTable(kinds: readonly KindScore[]): string {
  const head = ['attack kind', 'attacks', 'recall', 'precision', 'median TTD', 'TP', 'coll.', 'FP'];
  const rows = kinds.map((k) => [
    k.kind,
    String(k.attacks),
    ratio(k.recall),
    ratio(k.precision),
    minutes(k.medianTtdMs),
    String(k.truePositives),
    String(k.collateral),
    String(k.falsePositives),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function formatReport(r: EvalResult): string {
  const o = r.options;
  const lines = [
    `apiwatch eval: seed ${o.seed}, ${o.weeks} weeks, scale ${o.scale}, ${o.perKind} attacks per kind, format ${o.format}`,
    `corpus: ${r.corpus.events.toLocaleString('en-US')} events, ${new Date(r.corpus.start).toISOString().slice(0, 10)} … ${new Date(r.corpus.end).toISOString().slice(0, 10)}; attacks from ${new Date(r.corpus.scoredStart).toISOString().slice(0, 10)}${r.corpus.rejected > 0 ? `; ${r.corpus.rejected} records rejected by the parser` : ''}`,
    '',
    formatKindTable(r.report.kinds),
    '',
    `false findings (scored week): ${r.report.falsePositives} episodes over ${r.report.benignEvents.toLocaleString('en-US')} benign events = ${r.report.falsePer100k.toFixed(2)} per 100k; ${r.report.learningFindings} more in the learning weeks` +
      (Object.keys(r.report.falseByDetector).length > 0
        ? ` (${Object.entries(r.report.falseByDetector)
            .sort((a, b) => b[1] - a[1])
            .map(([d, n]) => `${d} ${n}`)
            .join(', ')})`
        : ''),
  ];
  // Misses of kinds a detector already catches: what the detector authors look at first.
  const partial = r.report.kinds.filter((k) => k.detected > 0 && k.missed.length > 0);
  const undetected = r.report.kinds.filter((k) => k.attacks > 0 && k.detected === 0).map((k) => k.kind);
  if (partial.length > 0) {
    lines.push('missed attacks of kinds otherwise detected:');
    for (const k of partial)
      for (const id of k.missed) {
        const l = r.labels.find((x) => x.id === id)!;
        lines.push(`  ${id}  ${new Date(l.start).toISOString()}  ${l.variant}`);
      }
  }
  if (undetected.length > 0) lines.push(`kinds with no detection: ${undetected.join(', ')}`);
  if (r.benign) {
    const g = r.benign.gate;
    lines.push(
      `benign corpus (seed ${r.benign.seed}): ${r.benign.events.toLocaleString('en-US')} events; last week ${g.episodes} finding episodes: ${g.listed.length} known false positives, ${g.unexpected.length} unexpected; ${g.learning} in the learning weeks`,
    );
    for (const ep of g.unexpected.slice(0, 20)) {
      const f = ep.updates[0]!;
      lines.push(
        `  unexpected: ${ep.detector} ${ep.entity} at ${new Date(ep.firstDetectedAt).toISOString()}: ${f.summary}`,
      );
    }
    if (g.unexpected.length > 20) lines.push(`  … and ${g.unexpected.length - 20} more`);
  }
  lines.push(
    `time: generate ${r.seconds.generate.toFixed(1)} s, parse ${r.seconds.parse.toFixed(1)} s, detect ${r.seconds.detect.toFixed(1)} s, benign corpus ${r.seconds.benign.toFixed(1)} s`,
  );
  return `${lines.join('\n')}\n`;
}
