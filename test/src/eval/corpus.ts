import { Rng } from '../random.ts';
import { ATTACK_KINDS, injectAttacks } from './attacks.ts';
import { generateBenign } from './benign.ts';
import { DAY, Emitter, HOUR } from './emitter.ts';
import { buildPopulation } from './population.ts';
import { type CorpusFormat, renderRecord } from './render.ts';
import type { GenRequest, LabelDraft } from './request.ts';

/**
 * A labelled corpus: weeks of benign traffic over five APIs with attacks injected into the last
 * week (the scored week: baselines learn from the weeks before, as live), rendered in one gateway
 * format. Deterministic per options: the same options give the same records byte for byte.
 */
export interface CorpusOptions {
  seed: number;
  /** Weeks of traffic; attacks go into the last one. Default 4 (three weeks of history). */
  weeks?: number;
  /** Population and service-volume factor (1 ≈ 40k requests per working day). Default 1. */
  scale?: number;
  /** Attacks per kind. Default 6. 0 gives a benign corpus. */
  perKind?: number;
  /** Restrict the injected kinds (default: every kind in the catalogue). */
  kinds?: readonly string[];
  /** First day (a Monday, 00:00 UTC). Default 2026-01-05. */
  startMs?: number;
}

export interface Corpus {
  options: Required<Omit<CorpusOptions, 'kinds'>> & { kinds: readonly string[] };
  start: number;
  end: number;
  /** Start of the scored period (the last week). */
  scoredStart: number;
  /** Requests in event-time order. */
  requests: GenRequest[];
  labels: Array<LabelDraft & { needsIdentity: boolean }>;
}

export const DEFAULT_START = Date.UTC(2026, 0, 5);

export function buildCorpus(options: CorpusOptions): Corpus {
  const weeks = options.weeks ?? 4;
  const scale = options.scale ?? 1;
  const perKind = options.perKind ?? 6;
  const kinds = options.kinds ?? ATTACK_KINDS;
  const start = options.startMs ?? DEFAULT_START;
  if (new Date(start).getUTCDay() !== 1 || start % DAY !== 0)
    throw new Error('startMs must be a Monday 00:00 UTC');
  if (weeks < 1) throw new Error('weeks must be at least 1');
  const days = weeks * 7;
  const end = start + days * DAY;
  const scoredStart = end - 7 * DAY;
  const rng = new Rng(options.seed);
  const pop = buildPopulation(rng, scale);
  const benign = generateBenign(rng, pop, {
    start,
    days,
    releaseAt: scoredStart + 2 * DAY + 10 * HOUR,
    scale,
  });
  const labels: Corpus['labels'] = [];
  const attacks = new Emitter(rng.fork('attack-requests'));
  if (perKind > 0)
    injectAttacks(
      { rng: rng.fork('attacks'), pop, em: attacks, scoredStart, scoredEnd: end },
      perKind,
      labels,
      kinds,
    );
  let requests = benign.out;
  // Effects on benign traffic: a route drop removes it, an error spike turns some of it into 5xx.
  const effects = labels.map((l, i) => ({ l, i })).filter((x) => x.l.effect);
  if (effects.length > 0) {
    const er = rng.fork('effects');
    requests = requests.filter((req) => {
      for (const { l, i } of effects) {
        const e = l.effect!;
        if (
          req.ts < l.start ||
          req.ts > l.end ||
          req.host !== e.host ||
          req.method !== e.method ||
          req.template !== e.template
        )
          continue;
        if (e.mode === 'drop') return er.chance(e.share);
        if (er.chance(e.share)) {
          req.status = req.host === 'api.demo.example' ? 503 : 500;
          req.label = i;
        }
      }
      return true;
    });
  }
  const all = requests.concat(attacks.out).filter((r) => r.ts >= start && r.ts < end);
  all.sort((a, b) => a.ts - b.ts || (a.requestId < b.requestId ? -1 : a.requestId > b.requestId ? 1 : 0));
  return {
    options: { seed: options.seed, weeks, scale, perKind, kinds, startMs: start },
    start,
    end,
    scoredStart,
    requests: all,
    labels,
  };
}

/** The corpus as gateway log records, one string per request (NDJSON lines or text lines). */
export function renderCorpus(corpus: Corpus, format: CorpusFormat): string[] {
  return corpus.requests.map((r) => renderRecord(r, format));
}
