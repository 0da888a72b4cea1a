import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import type { Finding } from '@apiwatch/core';
import {
  ATTACK_KINDS,
  FLOORS_FILE,
  formatKindTable,
  type Label,
  loadFloors,
  type ScoreReport,
  score,
} from '../src/eval/index.ts';
import { runApiwatch } from '../src/index.ts';

/**
 * The labelled evaluation in CI (docs/eval.md): the committed floors hold on the CI-sized corpus,
 * the benign corpus raises nothing that test/eval/known-false-positives.yaml does not list, and a
 * written corpus replayed with `apiwatch replay` gives what eval scored (eval runs detection
 * exactly as replay does).
 */

const dir = mkdtempSync(join(tmpdir(), 'apiwatch-eval-'));
const env = { APIWATCH__DATADIR: join(dir, 'data') };

test('apiwatch eval --floors: every floor holds and the benign corpus raises only known false positives', async (t) => {
  const r = await runApiwatch(['eval', '--floors', '--json', '--quiet'], env);
  const out = JSON.parse(r.stdout) as {
    report: ScoreReport;
    floorViolations: string[];
    benign: { events: number; gate: { unexpected: Array<{ detector: string; entity: string }> } };
  };
  t.diagnostic(
    `\n${formatKindTable(out.report.kinds)}\nfalse findings per 100k benign events: ${out.report.falsePer100k.toFixed(2)}`,
  );
  assert.deepEqual(out.floorViolations, []);
  assert.deepEqual(
    out.benign.gate.unexpected.map((e) => `${e.detector} ${e.entity}`),
    [],
    'findings on the benign corpus must be listed in test/eval/known-false-positives.yaml',
  );
  assert.ok(out.benign.events > 100_000);
  // Every attack kind of the catalogue was injected and scored, and has a floor.
  const floors = loadFloors(FLOORS_FILE);
  assert.deepEqual(
    out.report.kinds.map((k) => k.kind),
    [...ATTACK_KINDS],
  );
  for (const k of out.report.kinds) assert.ok(k.attacks >= floors.corpus.perKind, `${k.kind} has attacks`);
  assert.deepEqual(Object.keys(floors.kinds).sort(), [...ATTACK_KINDS].sort());
  assert.equal(r.code, 0, r.stderr);
});

test('a written corpus replayed with apiwatch replay --spec: findings name the labelled attackers, almost nothing else', async () => {
  const corpusDir = join(dir, 'corpus');
  const w = await runApiwatch(
    [
      'eval',
      '--write-corpus',
      corpusDir,
      '--format',
      'nginx',
      '--seed',
      '5',
      '--weeks',
      '4',
      '--scale',
      '0.05',
      '--per-kind',
      '1',
    ],
    env,
  );
  assert.equal(w.code, 0, w.stderr);
  const labelsFile = JSON.parse(readFileSync(join(corpusDir, 'labels.json'), 'utf8')) as {
    labels: Label[];
    scoredFromMs: number;
    benignScoredEvents: number;
  };
  assert.equal(labelsFile.labels.length, ATTACK_KINDS.length);
  const command = /APIWATCH_FINGERPRINT_KEY=(\S+) apiwatch replay (.*) > findings\.ndjson/.exec(w.stderr);
  assert.ok(command, w.stderr);
  // The CI config refreshes baselines daily (test/eval/ci-config.yaml says why).
  const ciConfig = join(dirname(FLOORS_FILE), 'ci-config.yaml');
  const r = await runApiwatch(['replay', '--config', ciConfig, ...command[2]!.split(' ')], {
    ...env,
    APIWATCH_FINGERPRINT_KEY: command[1]!,
  });
  assert.equal(r.code, 0, r.stderr);
  const findings = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Finding);
  const report = score(labelsFile.labels, findings, {
    benignEvents: labelsFile.benignScoredEvents,
    kinds: ATTACK_KINDS,
    fromMs: labelsFile.scoredFromMs,
  });
  // Families whose kinds have a floor above zero must show up, naming their attackers.
  const floors = loadFloors(FLOORS_FILE);
  const families = new Set(
    Object.entries(floors.kinds)
      .filter(([, f]) => f.recall > 0)
      .map(([k]) => k.split('.')[0]),
  );
  for (const family of families)
    assert.ok(
      report.kinds.some((k) => k.kind.startsWith(`${family}.`) && k.truePositives > 0),
      `a ${family} finding names its attacker`,
    );
  assert.ok(
    report.falsePer100k <= floors.falsePer100k,
    `${report.falsePositives} false findings (${report.falsePer100k.toFixed(2)} per 100k)`,
  );
});
