import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { readRecords } from '../sources/records.ts';
import { goldenContext } from './golden/harness.ts';
import { jsonErrorReason, MAX_JSON_DEPTH, parseJson } from './json.ts';
import { otlpParser } from './otlp.ts';
import { PARSERS } from './registry.ts';

const deep = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;

test('parseJson bounds the depth and never quotes the input in its errors', () => {
  assert.ok(parseJson(deep(MAX_JSON_DEPTH - 1)).ok);
  const r = parseJson(deep(100_000));
  assert.ok(!r.ok && r.error.code === 'INGEST_PARSE_TOO_DEEP');
  const bad = parseJson('{"password":"hunter2-secret" oops}');
  assert.ok(!bad.ok && bad.error.code === 'INGEST_PARSE_INVALID_JSON');
  assert.ok(!bad.error.message.includes('hunter2'), bad.error.message);
  assert.ok(
    !jsonErrorReason(new SyntaxError('Unexpected token \'h\', "hunter2" is not valid JSON')).includes(
      'hunter2',
    ),
  );
});

test('every JSON parser refuses a 100k-deep record with INGEST_PARSE_TOO_DEEP, read from a file', async () => {
  const text = deep(100_000);
  for (const parser of PARSERS) {
    if (parser.framing === 'text') continue;
    const records = [];
    for await (const r of readRecords(Readable.from([`${text}\n`]), parser.framing)) records.push(r);
    assert.equal(records.length, 1, parser.id);
    const result = parser.parse(records[0]!, goldenContext());
    assert.ok(!result.ok, parser.id);
    assert.equal(result.error.code, 'INGEST_PARSE_TOO_DEEP', `${parser.id}: ${result.error.message}`);
  }
  const otlp = `{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[${deep(6000)}]}]}]}]}`;
  const r = otlpParser.parse({ text: otlp }, goldenContext());
  assert.ok(!r.ok && r.error.code === 'INGEST_PARSE_TOO_DEEP');
});

test('the pipeline refuses a deep record a caller parsed itself (no depth bound) with INGEST_PARSE_TOO_DEEP', async () => {
  const { createIngestPipeline } = await import('../pipeline.ts');
  const { findParser } = await import('./registry.ts');
  const text = `{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":2,"startTimeUnixNano":"1","attributes":[{"key":"a","value":${'{"kvlistValue":{"values":[{"key":"k","value":'.repeat(20_000)}{"stringValue":"x"}${'}]}}'.repeat(20_000)}}]}]}]}]}`;
  const pipeline = createIngestPipeline({
    parser: findParser('otlp')!,
    identity: goldenContext().identity,
    routes: null,
  });
  const r = pipeline.run({ text, json: JSON.parse(text) });
  assert.equal(r.events.length, 0);
  assert.equal(r.rejected[0]?.code, 'INGEST_PARSE_TOO_DEEP');
});
