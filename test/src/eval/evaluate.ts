import type { Config, Finding } from '@apiwatch/core';
import { ATTACK_KINDS } from './attacks.ts';
import { buildCorpus, type Corpus, renderCorpus } from './corpus.ts';
import { detectFindings } from './detect.ts';
import { type BenignGateResult, benignGate, type KnownFalsePositive } from './gates.ts';
import { corpusReader, type Label, parseCorpus } from './pipeline.ts';
import type { CorpusFormat } from './render.ts';
import { type ScoreReport, score } from './score.ts';

export interface EvalOptions {
  seed: number;
  weeks: number;
  scale: number;
  perKind: number;
  format: CorpusFormat;
  config: Config;
  /** Also run the benign corpus (another seed, no attacks) through every detector. Default true. */
  benign?: boolean;
  knownFalsePositives?: readonly KnownFalsePositive[];
  /** How findings are produced from events (default: the detection engine as replay runs it). */
  detect?: (events: Parameters<typeof detectFindings>[0], config: Config) => Promise<Finding[]>;
  progress?: (line: string) => void;
}

export interface EvalResult {
  options: Omit<EvalOptions, 'config' | 'detect' | 'progress' | 'knownFalsePositives'>;
  corpus: { start: number; end: number; scoredStart: number; events: number; rejected: number };
  labels: Label[];
  findings: Finding[];
  report: ScoreReport;
  benign: null | {
    seed: number;
    events: number;
    rejected: number;
    findings: Finding[];
    gate: BenignGateResult;
  };
  seconds: { generate: number; parse: number; detect: number; benign: number };
}

/** The benign corpus uses its own seed: another month of the same kind of traffic. */
export function benignSeed(seed: number): number {
  return (seed ^ 0x5eed) >>> 0;
}

export async function runEvaluation(o: EvalOptions): Promise<EvalResult> {
  const detect = o.detect ?? ((events, config) => detectFindings(events, config.detect));
  const say = o.progress ?? (() => {});
  const t0 = performance.now();
  const corpus = buildCorpus({ seed: o.seed, weeks: o.weeks, scale: o.scale, perKind: o.perKind });
  const records = renderCorpus(corpus, o.format);
  const t1 = performance.now();
  say(
    `eval: generated ${corpus.requests.length} requests with ${corpus.labels.length} attacks in ${((t1 - t0) / 1000).toFixed(1)} s.`,
  );
  const parsed = parseCorpus(corpus, records, corpusReader(o.format, o.config), o.format);
  const t2 = performance.now();
  say(
    `eval: parsed ${parsed.events.length} events (${parsed.rejected} rejected) in ${((t2 - t1) / 1000).toFixed(1)} s.`,
  );
  const findings = await detect(parsed.events, o.config);
  const t3 = performance.now();
  say(`eval: ${findings.length} finding updates in ${((t3 - t2) / 1000).toFixed(1)} s.`);
  const report = score(parsed.labels, findings, {
    benignEvents: parsed.benignScoredEvents,
    kinds: ATTACK_KINDS,
    fromMs: corpus.scoredStart,
  });
  let benign: EvalResult['benign'] = null;
  if (o.benign !== false) {
    const seed = benignSeed(o.seed);
    const bc: Corpus = buildCorpus({ seed, weeks: o.weeks, scale: o.scale, perKind: 0 });
    const bp = parseCorpus(bc, renderCorpus(bc, o.format), corpusReader(o.format, o.config), o.format);
    const bf = await detect(bp.events, o.config);
    benign = {
      seed,
      events: bp.events.length,
      rejected: bp.rejected,
      findings: bf,
      gate: benignGate(bf, o.knownFalsePositives ?? [], bc.scoredStart),
    };
    say(`eval: benign corpus ${bp.events.length} events, ${bf.length} finding updates.`);
  }
  const t4 = performance.now();
  return {
    options: {
      seed: o.seed,
      weeks: o.weeks,
      scale: o.scale,
      perKind: o.perKind,
      format: o.format,
      benign: o.benign !== false,
    },
    corpus: {
      start: corpus.start,
      end: corpus.end,
      scoredStart: corpus.scoredStart,
      events: parsed.events.length,
      rejected: parsed.rejected,
    },
    labels: parsed.labels,
    findings,
    report,
    benign,
    seconds: {
      generate: (t1 - t0) / 1000,
      parse: (t2 - t1) / 1000,
      detect: (t3 - t2) / 1000,
      benign: (t4 - t3) / 1000,
    },
  };
}
