import { dirname, join } from 'node:path';
import { StartupError } from '@apiwatch/core';
import {
  CORPUS_FORMATS,
  type CorpusFormat,
  checkFloors,
  FLOORS_FILE,
  formatReport,
  KNOWN_FALSE_POSITIVES_FILE,
  loadFloors,
  loadKnownFalsePositives,
  runEvaluation,
  writeCorpus,
} from '@apiwatch/test/eval';
import type { Command } from '../command.ts';
import { loadCliConfig } from '../config.ts';

function intOption(
  values: Record<string, unknown>,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new StartupError(
      'CONFIG_INVALID',
      `--${name} must be an integer from ${min} to ${max}, got "${String(raw)}"`,
    );
  return n;
}

export const evalCommand: Command = {
  name: 'eval',
  summary: 'Labelled scenario suite: precision, recall, time to detect per attack class.',
  usage:
    'apiwatch eval [--seed N] [--weeks N] [--scale X] [--per-kind N] [--format kong|nginx|nginx-combined] [--json] [--floors] [--skip-benign] [--write-corpus dir]',
  options: {
    seed: {
      type: 'string',
      description: 'Corpus seed (same seed, same corpus).',
      default: '1',
      valueName: 'N',
    },
    weeks: {
      type: 'string',
      description: 'Weeks of traffic; attacks go into the last one.',
      default: '4',
      valueName: 'N',
    },
    scale: {
      type: 'string',
      description: 'Population and volume factor (1 ≈ 40k requests per working day).',
      default: '1',
      valueName: 'X',
    },
    'per-kind': { type: 'string', description: 'Attacks per attack kind.', default: '6', valueName: 'N' },
    format: {
      type: 'string',
      short: 'f',
      description: `Gateway format the corpus is rendered in and parsed back from: ${CORPUS_FORMATS.join(', ')}.`,
      default: 'kong',
      valueName: 'format',
    },
    config: {
      type: 'string',
      short: 'c',
      description: 'YAML config: detector settings under detect (default: the defaults).',
      valueName: 'file',
    },
    json: { type: 'boolean', description: 'Print the full report as JSON on stdout.', default: false },
    'skip-benign': {
      type: 'boolean',
      description: 'Do not run the benign corpus (another month, no attacks) through the detectors.',
      default: false,
    },
    floors: {
      type: 'boolean',
      description: `Check the committed floors (${'test/eval/floors.yaml'}) with their corpus settings; exit 1 below a floor.`,
      default: false,
    },
    'write-corpus': {
      type: 'string',
      description:
        'Write the corpus (gateway log, benign log, labels, README with the replay command) to a directory and exit.',
      valueName: 'dir',
    },
    quiet: { type: 'boolean', short: 'q', description: 'No progress lines on stderr.', default: false },
  },
  details: [
    'Generates weeks of realistic traffic over five APIs (crAPI, VAmPI, petstore, juice-shop B2B and',
    'the demo API in test/fixtures/demo-api) with every attack kind of the detector catalogue',
    'injected into the last week, renders it as gateway logs, parses it back through the real',
    'parsers and runs the detectors as `apiwatch replay` does. Prints per attack kind: recall,',
    'precision, median time to detect (event time, attack start to the first finding naming the',
    'attacker) and false findings per 100k benign events; then the benign corpus, where every',
    'finding must be listed in test/eval/known-false-positives.yaml. docs/eval.md explains the rules.',
    'Exit status 1 when a finding of the benign corpus is not listed, or (with --floors) a floor fails.',
    '',
    'Examples:',
    '  apiwatch eval --seed 7 --weeks 4',
    '  apiwatch eval --write-corpus /tmp/corpus --format nginx',
  ].join('\n'),
  async run(values) {
    const format = String(values.format ?? 'kong');
    if (!(CORPUS_FORMATS as readonly string[]).includes(format))
      throw new StartupError(
        'CONFIG_INVALID',
        `--format must be one of ${CORPUS_FORMATS.join(', ')}, got "${format}"`,
      );
    const scale = Number(values.scale ?? 1);
    if (!Number.isFinite(scale) || scale <= 0 || scale > 10)
      throw new StartupError(
        'CONFIG_INVALID',
        `--scale must be a number above 0 and at most 10, got "${String(values.scale)}"`,
      );
    const floors = values.floors ? loadFloors(FLOORS_FILE) : null;
    const configFile =
      (values.config as string | undefined) ??
      (floors?.corpus.config ? join(dirname(FLOORS_FILE), floors.corpus.config) : undefined);
    const config = loadCliConfig(configFile);
    const options = floors
      ? {
          seed: floors.corpus.seed,
          weeks: floors.corpus.weeks,
          scale: floors.corpus.scale,
          perKind: floors.corpus.perKind,
          format: floors.corpus.format,
        }
      : {
          seed: intOption(values, 'seed', 1, 0, 2 ** 32 - 1),
          weeks: intOption(values, 'weeks', 4, 1, 12),
          scale,
          perKind: intOption(values, 'per-kind', 6, 1, 50),
          format: format as CorpusFormat,
        };
    const say = values.quiet ? () => {} : (line: string) => process.stderr.write(`${line}\n`);
    if (typeof values['write-corpus'] === 'string') {
      const w = writeCorpus(values['write-corpus'], options, options.format, config);
      say(
        `eval: wrote ${w.records} records with ${w.attacks} attacks to ${w.traffic}, labels to ${w.labels}.`,
      );
      say(`eval: replay it with:\n  ${w.replayCommand}`);
      return 0;
    }
    const result = await runEvaluation({
      ...options,
      config,
      benign: values['skip-benign'] !== true,
      knownFalsePositives: loadKnownFalsePositives(KNOWN_FALSE_POSITIVES_FILE),
      progress: say,
    });
    const violations = floors ? checkFloors(result.report, floors) : [];
    if (values.json) {
      const { findings: _f, ...rest } = result;
      process.stdout.write(
        `${JSON.stringify({ ...rest, benign: rest.benign && { ...rest.benign, findings: rest.benign.findings.length }, floorViolations: violations })}\n`,
      );
    } else process.stdout.write(formatReport(result));
    for (const v of violations) process.stderr.write(`eval: floor: ${v}\n`);
    const unexpected = result.benign?.gate.unexpected.length ?? 0;
    if (unexpected > 0)
      process.stderr.write(
        `eval: ${unexpected} findings on the benign corpus are not in test/eval/known-false-positives.yaml.\n`,
      );
    return violations.length > 0 || unexpected > 0 ? 1 : 0;
  },
};
