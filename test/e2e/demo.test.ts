import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { findingValidator } from '@apiwatch/core';
import { runApiwatch, startEmbedded } from '../src/index.ts';

/**
 * The new user's first minutes: `apiwatch start` (embedded default), then `apiwatch demo` from
 * another terminal shows findings as they arrive, and `apiwatch findings` lists them — both read
 * through the running server, which holds the embedded store.
 */
test('apiwatch demo against a running embedded start catches every planted attack; apiwatch findings lists them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-demo-'));
  const { app, env } = await startEmbedded(t, join(dir, 'data'));

  const demo = await runApiwatch(['demo', '--wait', '90'], env);
  assert.equal(demo.code, 0, `${demo.stderr}\n${demo.stdout}`);
  for (const attacker of ['203.0.113.66', '198.51.100.23', 'user-1007', '192.0.2.200']) {
    assert.match(demo.stderr, new RegExp(`caught .* by ${attacker.replaceAll('.', '\\.')} → `), demo.stderr);
  }
  assert.doesNotMatch(demo.stderr, /MISSED/);

  const listed = await runApiwatch(['findings', '--since', '30m'], env);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stderr, /reading the running server/);
  const findings = listed.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as unknown);
  assert.ok(findings.length >= 4, listed.stdout);
  for (const f of findings) assert.ok(findingValidator.check(f), findingValidator.explain(f));
  const families = new Set(findings.map((f) => (f as { family: string }).family));
  for (const family of ['auth', 'bola', 'recon'])
    assert.ok(families.has(family), `a ${family} finding is listed`);
  // The benign population (offices, carrier NAT, a catalog sync job, health checks) raises nothing.
  const named = findings.map((f) => (f as { entity: { id: string } }).entity.id);
  for (const id of named)
    assert.ok(
      ['203.0.113.66', '198.51.100.23', 'user-1007', '192.0.2.200', 'POST /api/login'].includes(id),
      id,
    );

  const only = await runApiwatch(['findings', '--since', '30m', '--detector', 'bola'], env);
  assert.equal(only.code, 0, only.stderr);
  assert.ok(
    only.stdout
      .trim()
      .split('\n')
      .every((l) => (JSON.parse(l) as { family: string }).family === 'bola'),
    only.stdout,
  );
  assert.equal(await app.stop('SIGTERM'), 0, app.output());
});
