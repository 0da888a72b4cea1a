/**
 * Golden-file harness for the parser tests: each fixture is framed the way `apiwatch parse`
 * frames it, parsed with a fixed fingerprint key and clock, and compared with a committed NDJSON
 * file beside this one (one line per record: the events, or the typed error). Regenerate with
 * `UPDATE_GOLDEN=1`; review the diff before committing it.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { type ApiEvent, apiEventValidator } from '@apiwatch/core';
import { createIdentityContext } from '../../identity/context.ts';
import { readRecords } from '../../sources/records.ts';
import type { ParseContext, Parser, RawRecord } from '../types.ts';

const here = dirname(fileURLToPath(import.meta.url));

/** Public third-party fixtures vendored in the repository (provenance: test/fixtures/public/SOURCES.md). */
export const FIXTURES = join(here, '..', '..', '..', '..', 'test', 'fixtures', 'public');

/** Fixtures captured from real gateways by apiwatch's own end-to-end runs (see testdata/README.md). */
export const TESTDATA = join(here, '..', 'testdata');

/** The fixed ingest time stamped on golden events. */
export const GOLDEN_NOW = 1_700_000_000_000;

/** A fixed fingerprint key, so golden fingerprints are stable. */
export const goldenIdentity = createIdentityContext(
  Buffer.from('apiwatch golden-test fingerprint key'),
  'golden',
);

export function goldenContext(): ParseContext {
  return { identity: goldenIdentity, gateway: null, now: GOLDEN_NOW };
}

/** Parses one record and returns its events, failing the test (with the error) when it is not read. */
export function parseOne(parser: Parser, record: RawRecord | string): ApiEvent[] {
  const result = parser.parse(typeof record === 'string' ? { text: record } : record, goldenContext());
  if (!result.ok)
    assert.fail(`${parser.id} did not read the record: ${result.error.code}: ${result.error.message}`);
  for (const e of result.value)
    assert.ok(apiEventValidator.check(e), `${parser.id}: invalid event: ${apiEventValidator.explain(e)}`);
  return result.value;
}

/** Parses one record and returns the single event it yields. */
export function parseEvent(parser: Parser, record: RawRecord | string): ApiEvent {
  const events = parseOne(parser, record);
  assert.equal(events.length, 1, `${parser.id}: expected one event`);
  return events[0]!;
}

/** Frames and parses a whole fixture file: one output line per record. */
export async function goldenLines(
  parser: Parser,
  fixturePath: string,
  ctx: ParseContext = goldenContext(),
): Promise<string[]> {
  const lines: string[] = [];
  for await (const record of readRecords(Readable.from(readFileSync(fixturePath)), parser.framing)) {
    const result = parser.parse(record, ctx);
    if (!result.ok) {
      lines.push(JSON.stringify({ error: result.error }));
      continue;
    }
    for (const e of result.value) {
      assert.ok(
        apiEventValidator.check(e),
        `${basename(fixturePath)}: invalid event: ${apiEventValidator.explain(e)}`,
      );
      lines.push(JSON.stringify(e));
    }
  }
  return lines;
}

export function goldenPath(fixturePath: string): string {
  return join(here, `${basename(fixturePath).replace(/\.(log|json|ndjson|txt)$/, '')}.ndjson`);
}

/**
 * Compares a fixture's output with its golden file (or writes it with UPDATE_GOLDEN=1). `ctx`
 * and `file` let a format keep its own fingerprint key and golden file name.
 */
export async function assertGolden(
  parser: Parser,
  fixturePath: string,
  ctx: ParseContext = goldenContext(),
  file: string = goldenPath(fixturePath),
): Promise<string[]> {
  assert.ok(existsSync(fixturePath), `fixture missing: ${fixturePath}`);
  const actual = await goldenLines(parser, fixturePath, ctx);
  // Test tooling, not apiwatch configuration: a developer regenerates the goldens with
  // UPDATE_GOLDEN=1 npm test (the config loader's one-place rule is about the product).
  if (process.env.UPDATE_GOLDEN === '1') {
    writeFileSync(file, `${actual.join('\n')}\n`);
    return actual;
  }
  assert.ok(existsSync(file), `golden file missing: ${file} (run with UPDATE_GOLDEN=1 and review it)`);
  const expected = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0);
  assert.equal(actual.length, expected.length, `${basename(file)}: number of records`);
  for (let i = 0; i < expected.length; i++) {
    assert.deepEqual(JSON.parse(actual[i]!), JSON.parse(expected[i]!), `${basename(file)} line ${i + 1}`);
  }
  return actual;
}

/** The golden comparison, returning the events (and the errors of unread records) for more checks. */
export async function goldenEvents(
  parser: Parser,
  fixturePath: string,
  ctx: ParseContext = goldenContext(),
  file: string = goldenPath(fixturePath),
): Promise<{ events: ApiEvent[]; errors: string[] }> {
  const lines = await assertGolden(parser, fixturePath, ctx, file);
  const events: ApiEvent[] = [];
  const errors: string[] = [];
  for (const line of lines) {
    const value = JSON.parse(line) as ApiEvent | { error: { code: string; message: string } };
    if ('error' in value) errors.push(value.error.message);
    else events.push(value);
  }
  return { events, errors };
}
