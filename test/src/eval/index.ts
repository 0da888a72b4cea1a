export { ATTACK_KINDS, ATTACKS } from './attacks.ts';
export { buildCorpus, type Corpus, type CorpusOptions, renderCorpus } from './corpus.ts';
export { detectFindings } from './detect.ts';
export { benignSeed, type EvalOptions, type EvalResult, runEvaluation } from './evaluate.ts';
export {
  benignGate,
  checkFloors,
  type Floors,
  type KnownFalsePositive,
  loadFloors,
  loadKnownFalsePositives,
} from './gates.ts';
export { corpusReader, corpusSpecs, EVAL_FINGERPRINT_KEY, type Label, parseCorpus } from './pipeline.ts';
export { CORPUS_FORMATS, type CorpusFormat } from './render.ts';
export { formatKindTable, formatReport } from './report.ts';
export { episodes, type KindScore, type ScoreReport, score } from './score.ts';
export { writeCorpus } from './write.ts';

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const EVAL_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'eval');
/** The committed gates: per-kind floors and the benign corpus's known false positives. */
export const FLOORS_FILE = join(EVAL_DIR, 'floors.yaml');
export const KNOWN_FALSE_POSITIVES_FILE = join(EVAL_DIR, 'known-false-positives.yaml');
