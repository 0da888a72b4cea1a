import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Finding, findingValidator } from '@apiwatch/core';
import { nginxTraffic, runApiwatch } from '../src/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'apiwatch-replay-'));
const env = { APIWATCH__DATADIR: join(dir, 'data') };
const start = Date.UTC(2026, 2, 2, 10, 0, 0);

test('replay of a brute-force nginx JSON log prints the finding naming the attacker; summary on stderr', async () => {
  const file = join(dir, 'attack.ndjson');
  writeFileSync(
    file,
    `${nginxTraffic({ seed: 3, start, benignEvents: 2000, attackerIp: '203.0.113.77', attackAttempts: 25 }).join('\n')}\n`,
  );
  const r = await runApiwatch(['replay', '--format', 'nginx', file], env);
  assert.equal(r.code, 0, r.stderr);
  const findings = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Finding);
  // The episode is raised, then resolved once the benign traffic moved the watermark past its quiet period.
  const firing = findings.filter((f) => f.status === 'firing');
  assert.equal(firing.length, 1);
  for (const f of findings) assert.ok(findingValidator.check(f), findingValidator.explain(f));
  assert.ok(findings.every((f) => f.id === firing[0]!.id));
  assert.equal(firing[0]!.detector, 'auth.brute_force');
  assert.deepEqual(firing[0]!.entity, { kind: 'ip', id: '203.0.113.77', name: '203.0.113.77', ref: null });
  assert.match(r.stderr, /2,025 records → 2,025 events/);
  assert.match(r.stderr, new RegExp(`findings: ${findings.length} auth\\.brute_force`));
});

test('replay of benign traffic prints nothing on stdout and exits 0', async () => {
  const file = join(dir, 'benign.ndjson');
  writeFileSync(file, `${nginxTraffic({ seed: 4, start, benignEvents: 3000 }).join('\n')}\n`);
  const r = await runApiwatch(['replay', '--format', 'nginx', file], env);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /findings: none/);
});

test('replay and parse read a JSON array and a single pretty-printed object as well as NDJSON', async () => {
  const lines = nginxTraffic({
    seed: 5,
    start,
    benignEvents: 20,
    attackerIp: '203.0.113.78',
    attackAttempts: 12,
  });
  const array = join(dir, 'array.json');
  writeFileSync(
    array,
    JSON.stringify(
      lines.map((l) => JSON.parse(l)),
      null,
      2,
    ),
  );
  const r = await runApiwatch(['replay', '--format', 'nginx', array], env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /203\.0\.113\.78/);
  const one = join(dir, 'one.json');
  writeFileSync(one, JSON.stringify(JSON.parse(lines[0]!), null, 2));
  const p = await runApiwatch(['parse', '--format', 'nginx', one], env);
  assert.equal(p.code, 0, p.stderr);
  assert.equal(p.stdout.trim().split('\n').length, 1);
});

test('CLI errors are clear: unknown format, missing file, unknown flag; --help works', async () => {
  const badFormat = await runApiwatch(['replay', '--format', 'nope', '-'], env);
  assert.equal(badFormat.code, 2);
  assert.match(badFormat.stderr, /unknown --format "nope"; one of: .*nginx/);
  const missing = await runApiwatch(['parse', '--format', 'nginx', join(dir, 'missing.log')], env);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /input file not found/);
  const flag = await runApiwatch(['replay', '--formt', 'nginx'], env);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /Unknown option '--formt'/);
  for (const cmd of ['start', 'collect', 'replay', 'parse']) {
    const help = await runApiwatch([cmd, '--help'], env);
    assert.equal(help.code, 0);
    assert.match(help.stdout, new RegExp(`Usage: apiwatch ${cmd}`));
  }
});

test('config errors found at load: an identity.sources key no parser has, a bad documented variable', async () => {
  const config = join(dir, 'typo.yaml');
  writeFileSync(config, 'identity:\n  sources:\n    ngnix:\n      apiKeyHeaders: [x-key]\n');
  const typo = await runApiwatch(['parse', '--format', 'nginx', '--config', config, '-'], env);
  assert.equal(typo.code, 2, typo.stderr);
  assert.match(typo.stderr, /CONFIG_INVALID/);
  assert.match(typo.stderr, /identity\.sources\.ngnix.*no format "ngnix"; the formats are .*kong, nginx,/);
  const format = await runApiwatch(['parse', '--format', 'nginx', '-'], {
    ...env,
    APIWATCH_LOG_FORMAT: 'pretty',
  });
  assert.equal(format.code, 2, format.stderr);
  assert.match(format.stderr, /logFormat/);
});

test('replaying the same file twice gives byte-identical findings (baselines learned from the replay)', async () => {
  const file = join(dir, 'twice.ndjson');
  writeFileSync(
    file,
    `${nginxTraffic({ seed: 11, start, benignEvents: 3000, attackerIp: '203.0.113.79', attackAttempts: 40 }).join('\n')}\n`,
  );
  const a = await runApiwatch(['replay', '--format', 'nginx', file], env);
  const b = await runApiwatch(['replay', '--format', 'nginx', file], env);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  assert.ok(a.stdout.length > 0);
  assert.equal(a.stdout, b.stdout);
  assert.match(a.stderr, /baselines: \d+ event-time refreshes/);
});
