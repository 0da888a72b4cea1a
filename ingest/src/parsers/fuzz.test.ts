/**
 * Fuzzing every parser in the registry (including ones added later): random and mutated inputs
 * derived from the real fixtures — byte flips, truncation, token and key deletions, type swaps,
 * huge values, deeply nested JSON. Every input must give `ok` with schema-valid events or a typed
 * error with a known code; no throw, no slow input. Deterministic per seed: FUZZ_SEED=<n> replays
 * a run, FUZZ_RUNS=<n> changes the count per parser (default 2000).
 */
import assert from 'node:assert/strict';
import { globSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { apiEventValidator } from '@apiwatch/core';
import { FIXTURES, goldenContext, TESTDATA } from './golden/harness.ts';
import { PARSERS } from './registry.ts';
import { PARSE_ERROR_CODES, type Parser, type RawRecord } from './types.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20_240_601);
const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);
/** One input taking longer than this is a hang (catastrophic regex backtracking, a loop). */
// A hang guard, not a performance check: generous enough for a loaded CI machine.
const SLOW_MS = 10_000;

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every line (or whole JSON document) of every fixture: the seeds. */
function seeds(): string[] {
  const files = [
    ...globSync('**/*', { cwd: FIXTURES }).map((f) => join(FIXTURES, f)),
    ...globSync('*.{log,ndjson,json}', { cwd: TESTDATA }).map((f) => join(TESTDATA, f)),
  ].filter((f) => /\.(log|json|ndjson|txt)$/.test(f) && !f.includes('/openapi/'));
  const out: string[] = [];
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    const trimmed = text.trim();
    if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
      try {
        JSON.parse(trimmed);
        if (trimmed.length < 200_000) out.push(trimmed);
      } catch {
        // NDJSON: each line below
      }
    }
    for (const line of text.split('\n')) if (line.trim()) out.push(line);
  }
  return out;
}

const SEEDS = seeds();

const HUGE = [
  'x'.repeat(100_000),
  '9'.repeat(400),
  -1,
  -1e308,
  1e308,
  2 ** 64,
  0.1 + 0.2,
  'NaN',
  '-',
  '',
  null,
  true,
  [],
  {},
];
const WEIRD = [
  '-',
  '""',
  '"',
  '\\',
  '\\x22',
  '\u0000',
  '\ud800',
  '%',
  '[',
  ']',
  '{',
  '}',
  ' ',
  '\t',
  '::',
  '-1',
  '+',
  '|',
  '#7C',
  '\n',
];

type Rng = () => number;
const pickOf = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

function mutateText(r: Rng, s: string): string {
  const ops = Math.floor(r() * 4) + 1;
  let out = s;
  for (let i = 0; i < ops; i++) {
    const pos = Math.floor(r() * (out.length + 1));
    switch (Math.floor(r() * 8)) {
      case 0: // byte flip
        out = out.slice(0, pos) + String.fromCharCode(Math.floor(r() * 256)) + out.slice(pos + 1);
        break;
      case 1: // truncate
        out = out.slice(0, pos);
        break;
      case 2: // insert a troublesome token
        out = out.slice(0, pos) + pickOf(r, WEIRD) + out.slice(pos);
        break;
      case 3: {
        // delete a space-separated field
        const parts = out.split(' ');
        parts.splice(Math.floor(r() * parts.length), 1);
        out = parts.join(' ');
        break;
      }
      case 4: {
        // replace a field with a huge or odd value
        const parts = out.split(' ');
        parts[Math.floor(r() * parts.length)] = String(pickOf(r, HUGE));
        out = parts.join(' ');
        break;
      }
      case 5: // duplicate a slice
        out = out.slice(0, pos) + out.slice(Math.max(0, pos - 40), pos) + out.slice(pos);
        break;
      case 6: // digits to other digits (times, statuses, sizes)
        out = out.replace(/\d/g, (d) => (r() < 0.1 ? String(Math.floor(r() * 10)) : d));
        break;
      default: {
        // swap two fields
        const parts = out.split(' ');
        const a = Math.floor(r() * parts.length);
        const b = Math.floor(r() * parts.length);
        [parts[a], parts[b]] = [parts[b]!, parts[a]!];
        out = parts.join(' ');
      }
    }
  }
  return out;
}

function deep(depth: number, leaf: unknown): unknown {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
}

function randomValue(r: Rng): unknown {
  switch (Math.floor(r() * 7)) {
    case 0:
      return pickOf(r, HUGE);
    case 1:
      return pickOf(r, WEIRD);
    case 2:
      return Math.floor(r() * 2 ** 31) * (r() < 0.5 ? -1 : 1);
    case 3:
      return deep(Math.floor(r() * 2000), 'x');
    case 4:
      return r() < 0.5 ? null : undefined;
    case 5:
      return { nested: pickOf(r, HUGE) };
    default:
      return String(Math.floor(r() * 1000));
  }
}

/** Mutates a parsed JSON value in place, somewhere in its tree. */
function mutateJson(r: Rng, value: unknown, budget = 3): unknown {
  if (value === null || typeof value !== 'object') return r() < 0.5 ? randomValue(r) : value;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  for (let i = 0; i < budget; i++) {
    if (keys.length === 0) break;
    const k = pickOf(r, keys);
    switch (Math.floor(r() * 6)) {
      case 0:
        delete obj[k];
        break;
      case 1: // type swap
        obj[k] =
          typeof obj[k] === 'number'
            ? String(obj[k])
            : typeof obj[k] === 'string'
              ? Number(obj[k]) || obj[k] === ''
              : randomValue(r);
        break;
      case 2:
        obj[k] = randomValue(r);
        break;
      case 3:
        obj[k] = mutateJson(r, obj[k], 2);
        break;
      case 4:
        obj[`${k}_${Math.floor(r() * 10)}`] = randomValue(r);
        break;
      default:
        obj[k] = typeof obj[k] === 'string' ? mutateText(r, obj[k] as string) : obj[k];
    }
  }
  return value;
}

function makeInput(r: Rng): RawRecord {
  const seed = pickOf(r, SEEDS);
  const mode = r();
  if (mode < 0.05) {
    // pure noise
    const len = Math.floor(r() * 300);
    let s = '';
    for (let i = 0; i < len; i++) s += String.fromCharCode(Math.floor(r() * 0x2ff));
    return { text: s };
  }
  if (mode < 0.12) {
    const v = deep(1000 + Math.floor(r() * 4000), pickOf(r, HUGE));
    return { text: '{}', json: v };
  }
  let json: unknown;
  try {
    json = JSON.parse(seed);
  } catch {
    json = undefined;
  }
  if (json !== undefined && mode < 0.6) {
    const mutated = mutateJson(r, structuredClone(json), 1 + Math.floor(r() * 4));
    let text: string;
    try {
      text = JSON.stringify(mutated) ?? 'null';
    } catch {
      text = '{}';
    }
    // Sometimes the parser gets only the text (as `parse` on a text line), sometimes the value too.
    return r() < 0.5 ? { text, json: mutated } : { text };
  }
  return { text: mutateText(r, seed) };
}

const KNOWN_CODES = new Set<string>(PARSE_ERROR_CODES);

function check(parser: Parser, record: RawRecord, seed: number, i: number): void {
  const where = `${parser.id} input #${i} (FUZZ_SEED=${seed}): ${record.text.slice(0, 300)}`;
  const t0 = performance.now();
  let result: ReturnType<Parser['parse']>;
  try {
    result = parser.parse(record, goldenContext());
  } catch (e) {
    assert.fail(`${where}\nthrew: ${(e as Error).stack}`);
  }
  const ms = performance.now() - t0;
  assert.ok(ms < SLOW_MS, `${where}\ntook ${ms.toFixed(0)} ms`);
  if (result.ok) {
    assert.ok(Array.isArray(result.value), where);
    for (const e of result.value)
      assert.ok(apiEventValidator.check(e), `${where}\ninvalid event: ${apiEventValidator.explain(e)}`);
  } else {
    assert.ok(KNOWN_CODES.has(result.error.code), `${where}\nunknown error code ${result.error.code}`);
    assert.equal(typeof result.error.message, 'string', where);
  }
}

describe('fuzz: every registered parser', () => {
  it('has seeds from the fixtures', () => {
    assert.ok(SEEDS.length > 50, `only ${SEEDS.length} seeds`);
  });
  for (const parser of PARSERS) {
    it(`${parser.id}: ${RUNS} mutated inputs`, { timeout: 120_000 }, () => {
      const seed = SEED ^ [...parser.id].reduce((h, c) => Math.imul(h, 31) + c.charCodeAt(0), 7);
      const r = prng(seed);
      let ok = 0;
      for (let i = 0; i < RUNS; i++) {
        const record = makeInput(r);
        check(parser, record, seed, i);
        if (parser.parse(record, goldenContext()).ok) ok++;
      }
      // The mutations keep enough structure that a parser reads some of them: a parser that
      // rejects everything would pass the checks above without being exercised.
      if (parser.id !== 'canonical') assert.ok(ok > 0, `${parser.id} read none of ${RUNS} inputs`);
    });
  }
});
