import { readFileSync } from 'node:fs';
import type { Finding } from '@apiwatch/core';
import { type Static, Type as T } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { parse as parseYaml } from 'yaml';
import { type Episode, entityKey, episodes, type ScoreReport } from './score.ts';

/**
 * The two CI gates of the evaluation (docs/eval.md): the benign corpus (every finding must be
 * listed, with a reason, in test/eval/known-false-positives.yaml — SigmaHQ's known-FPs idea) and
 * the floors (test/eval/floors.yaml: per-kind recall floors and time-to-detect ceilings, the
 * false-finding ceiling; they ratchet towards the issue's targets, never back).
 */

export const KnownFalsePositivesFile = T.Object(
  {
    entries: T.Array(
      T.Object(
        {
          detector: T.String({ pattern: '^[a-z]+\\.[a-z_]+$' }),
          entity: T.String({
            minLength: 1,
            description: 'Regular expression over `kind:id` of the finding entity.',
          }),
          reason: T.String({
            minLength: 10,
            description: 'Why this benign traffic raises the finding, and why it stays.',
          }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type KnownFalsePositive = Static<typeof KnownFalsePositivesFile>['entries'][number];

export const FloorsFile = T.Object(
  {
    corpus: T.Object(
      {
        seed: T.Integer(),
        weeks: T.Integer({ minimum: 1 }),
        scale: T.Number({ exclusiveMinimum: 0 }),
        perKind: T.Integer({ minimum: 1 }),
        format: T.Union([T.Literal('kong'), T.Literal('nginx'), T.Literal('nginx-combined')]),
        config: T.Optional(
          T.String({ minLength: 1, description: 'apiwatch config file for the run, relative to this file.' }),
        ),
      },
      { additionalProperties: false },
    ),
    falsePer100k: T.Number({
      minimum: 0,
      description: 'Ceiling: false findings per 100k benign events, attack corpus.',
    }),
    kinds: T.Record(
      T.String({ pattern: '^[a-z]+\\.[a-z_]+$' }),
      T.Object(
        {
          recall: T.Number({ minimum: 0, maximum: 1, description: 'Floor.' }),
          medianTtdMinutes: T.Union([T.Number({ minimum: 0 }), T.Null()], {
            description: 'Ceiling; null while nothing is detected.',
          }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type Floors = Static<typeof FloorsFile>;

function loadYaml<S extends typeof KnownFalsePositivesFile | typeof FloorsFile>(
  path: string,
  schema: S,
): Static<S> {
  const value = parseYaml(readFileSync(path, 'utf8')) as unknown;
  const first = TypeCompiler.Compile(schema).Errors(value).First();
  if (first) throw new Error(`${path}: ${first.path || '/'}: ${first.message}`);
  return value as Static<S>;
}

export function loadKnownFalsePositives(path: string): KnownFalsePositive[] {
  const file = loadYaml(path, KnownFalsePositivesFile);
  for (const e of file.entries) new RegExp(e.entity);
  return file.entries;
}

export function loadFloors(path: string): Floors {
  return loadYaml(path, FloorsFile);
}

export interface BenignGateResult {
  /** Episodes judged (first raised in the scored period). */
  episodes: number;
  /** Episodes first raised in the learning period (before the scored week): reported only. */
  learning: number;
  /** Episodes no entry lists: each fails CI. */
  unexpected: Episode[];
  listed: Array<{ episode: Episode; entry: KnownFalsePositive }>;
  /** Entries that matched nothing (stale: remove them). */
  unused: KnownFalsePositive[];
}

/** `fromMs`: judge episodes first raised from then on (the scored period); earlier ones are learning. */
export function benignGate(
  findings: readonly Finding[],
  known: readonly KnownFalsePositive[],
  fromMs = Number.NEGATIVE_INFINITY,
): BenignGateResult {
  const compiled = known.map((entry) => ({ entry, re: new RegExp(entry.entity) }));
  const used = new Set<KnownFalsePositive>();
  const unexpected: Episode[] = [];
  const listed: BenignGateResult['listed'] = [];
  const all = episodes(findings);
  const eps = all.filter((e) => e.firstDetectedAt >= fromMs);
  for (const ep of eps) {
    const hit = compiled.find((c) => c.entry.detector === ep.detector && c.re.test(ep.entity));
    if (hit) {
      used.add(hit.entry);
      listed.push({ episode: ep, entry: hit.entry });
    } else unexpected.push(ep);
  }
  return {
    episodes: eps.length,
    learning: all.length - eps.length,
    unexpected,
    listed,
    unused: known.filter((k) => !used.has(k)),
  };
}

/** Floor violations of a report, as sentences; empty when every floor holds. */
export function checkFloors(report: ScoreReport, floors: Floors): string[] {
  const out: string[] = [];
  for (const [kind, floor] of Object.entries(floors.kinds)) {
    const k = report.kinds.find((x) => x.kind === kind);
    if (!k) {
      out.push(`${kind}: in the floors file but not scored.`);
      continue;
    }
    if ((k.recall ?? 0) + 1e-9 < floor.recall)
      out.push(`${kind}: recall ${fmtRatio(k.recall)} is below the floor ${floor.recall}.`);
    if (floor.medianTtdMinutes !== null) {
      const ttd = k.medianTtdMs === null ? null : k.medianTtdMs / 60_000;
      if (ttd === null || ttd > floor.medianTtdMinutes + 1e-9)
        out.push(
          `${kind}: median time to detect ${ttd === null ? 'none' : `${ttd.toFixed(1)} min`} is above the ceiling ${floor.medianTtdMinutes} min.`,
        );
    }
  }
  if (report.falsePer100k > floors.falsePer100k + 1e-9)
    out.push(
      `false findings ${report.falsePer100k.toFixed(2)} per 100k benign events exceed the ceiling ${floors.falsePer100k}.`,
    );
  return out;
}

function fmtRatio(v: number | null): string {
  return v === null ? 'n/a' : v.toFixed(2);
}

export { entityKey };
