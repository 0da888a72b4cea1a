import type { Config, Finding } from '@apiwatch/core';
import { ATTACK_KINDS } from './attacks.ts';
import { buildCorpus, renderCorpus } from './corpus.ts';
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
  detect?: (
    events: Parameters<typeof detectFindings>[0],
    config: Config,
    progress?: (line: string) => void,
  ) => Promise<Finding[]>;
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

/** One corpus generated, rendered, parsed and detected; only what scoring needs is kept. */
interface CorpusRun {
  start: number;
  end: number;
  scoredStart: number;
  requests: number;
  attacks: number;
  events: number;
  rejected: number;
  labels: Label[];
  benignScoredEvents: number;
  findings: Finding[];
  seconds: { generate: number; parse: number; detect: number };
}

/**
 * Generates, renders, parses and detects one corpus. The requests, the rendered records and the
 * parsed events live only inside this call: at the default scale one corpus is a million of each
 * (several GB of heap), and the benign corpus must not be built while the first one is held.
 */
async function runCorpus(
  o: EvalOptions,
  seed: number,
  perKind: number,
  detect: NonNullable<EvalOptions['detect']>,
  say: (line: string) => void,
  name: string,
): Promise<CorpusRun> {
  const t0 = performance.now();
  const prepared = (() => {
    const corpus = buildCorpus({ seed, weeks: o.weeks, scale: o.scale, perKind });
    const records = renderCorpus(corpus, o.format);
    const t1 = performance.now();
    say(
      `eval: ${name}generated ${corpus.requests.length} requests with ${corpus.labels.length} attacks in ${((t1 - t0) / 1000).toFixed(1)} s.`,
    );
    const parsed = parseCorpus(corpus, records, corpusReader(o.format, o.config), o.format);
    return {
      parsed,
      t1,
      meta: {
        start: corpus.start,
        end: corpus.end,
        scoredStart: corpus.scoredStart,
        requests: corpus.requests.length,
        attacks: corpus.labels.length,
      },
    };
  })();
  const { parsed, meta, t1 } = prepared;
  const t2 = performance.now();
  say(
    `eval: ${name}parsed ${parsed.events.length} events (${parsed.rejected} rejected) in ${((t2 - t1) / 1000).toFixed(1)} s.`,
  );
  const findings = await detect(parsed.events, o.config, (line) => say(`eval: ${name}${line}`));
  const t3 = performance.now();
  say(`eval: ${name}${findings.length} finding updates in ${((t3 - t2) / 1000).toFixed(1)} s.`);
  return {
    ...meta,
    events: parsed.events.length,
    rejected: parsed.rejected,
    labels: parsed.labels,
    benignScoredEvents: parsed.benignScoredEvents,
    findings,
    seconds: { generate: (t1 - t0) / 1000, parse: (t2 - t1) / 1000, detect: (t3 - t2) / 1000 },
  };
}

export async function runEvaluation(o: EvalOptions): Promise<EvalResult> {
  const detect: NonNullable<EvalOptions['detect']> =
    o.detect ?? ((events, config, progress) => detectFindings(events, config.detect, progress));
  const say = o.progress ?? (() => {});
  const main = await runCorpus(o, o.seed, o.perKind, detect, say, '');
  const report = score(main.labels, main.findings, {
    benignEvents: main.benignScoredEvents,
    kinds: ATTACK_KINDS,
    fromMs: main.scoredStart,
  });
  let benign: EvalResult['benign'] = null;
  const t3 = performance.now();
  if (o.benign !== false) {
    const seed = benignSeed(o.seed);
    const b = await runCorpus(o, seed, 0, detect, say, 'benign corpus: ');
    benign = {
      seed,
      events: b.events,
      rejected: b.rejected,
      findings: b.findings,
      gate: benignGate(b.findings, o.knownFalsePositives ?? [], b.scoredStart),
    };
    say(`eval: benign corpus ${b.events} events, ${b.findings.length} finding updates.`);
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
      start: main.start,
      end: main.end,
      scoredStart: main.scoredStart,
      events: main.events,
      rejected: main.rejected,
    },
    labels: main.labels,
    findings: main.findings,
    report,
    benign,
    seconds: { ...main.seconds, benign: (t4 - t3) / 1000 },
  };
}
