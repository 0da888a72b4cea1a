import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  applyBackendMacros,
  applyConditionalAll,
  type ExpandContext,
  expandQuery,
  leftoverTokens,
  referencedVariables,
  replaceVariables,
} from './macros.ts';

const ctx = (vars: ExpandContext['vars'] = {}, intervalMs = 60_000): ExpandContext => ({
  fromMs: 1_700_000_000_123,
  toMs: 1_700_003_600_999,
  intervalMs,
  vars,
});

describe('the plugin-order macro expander', () => {
  const sql =
    'SELECT 1 FROM t WHERE $__conditionalAll(loc IN (${loc:singlequote}), $loc) AND $__timeFilter(ts)';

  test('$__conditionalAll: All and empty give 1=1, a selection keeps the condition', () => {
    assert.equal(
      applyConditionalAll(sql, { loc: { value: [], all: true } }),
      'SELECT 1 FROM t WHERE 1=1 AND $__timeFilter(ts)',
    );
    assert.equal(
      applyConditionalAll(sql, { loc: { value: '' } }),
      'SELECT 1 FROM t WHERE 1=1 AND $__timeFilter(ts)',
    );
    assert.equal(
      applyConditionalAll(sql, { loc: { value: [] } }),
      'SELECT 1 FROM t WHERE 1=1 AND $__timeFilter(ts)',
    );
    assert.equal(
      applyConditionalAll(sql, { loc: { value: ['a'] } }),
      'SELECT 1 FROM t WHERE loc IN (${loc:singlequote}) AND $__timeFilter(ts)',
    );
    // an undefined variable counts as empty
    assert.equal(applyConditionalAll('$__conditionalAll(x = 1, $nope)', {}), '1=1');
  });

  test('several occurrences, nested parentheses in the condition', () => {
    const two = '$__conditionalAll(f(a, b) IN (${a:csv}), $a) AND $__conditionalAll(c = ${b:sqlstring}, $b)';
    assert.equal(
      applyConditionalAll(two, { a: { value: ['1', '2'] }, b: { value: '' } }),
      'f(a, b) IN (${a:csv}) AND 1=1',
    );
  });

  test('variables: formats and the default formatter', () => {
    const vars = { v: { value: ["o'k", 'b'] }, s: { value: "it's" } };
    assert.equal(replaceVariables('${v:singlequote}', ctx(vars)), "'o\\'k','b'");
    assert.equal(replaceVariables('${v:sqlstring}', ctx(vars)), "'o''k','b'");
    assert.equal(replaceVariables('${v:csv}', ctx(vars)), "o'k,b");
    assert.equal(replaceVariables('$v', ctx(vars)), "'o'k','b'");
    assert.equal(replaceVariables('[[s]] ${s}', ctx(vars)), "it's it's");
    assert.equal(replaceVariables('${s:singlequote}', ctx(vars)), "'it\\'s'");
    // All outside conditionalAll stands for every option
    assert.equal(
      replaceVariables('${v:singlequote}', ctx({ v: { value: [], all: true, options: ['x', 'y'] } })),
      "'x','y'",
    );
    assert.equal(replaceVariables('${__from} ${__to:seconds}', ctx()), '1700000000123 1700003600');
    // macros are not variables: left for the backend
    assert.equal(replaceVariables('$__timeFilter(ts) $unknown', ctx()), '$__timeFilter(ts) $unknown');
  });

  test('backend macros expand exactly as pkg/macros does', () => {
    const c = ctx({}, 90_500);
    assert.equal(
      applyBackendMacros('$__timeFilter(ts)', c),
      'ts >= toDateTime(1700000000) AND ts <= toDateTime(1700003600)',
    );
    assert.equal(
      applyBackendMacros('$__timeFilter_ms(ts)', c),
      'ts >= fromUnixTimestamp64Milli(1700000000123) AND ts <= fromUnixTimestamp64Milli(1700003600999)',
    );
    assert.equal(
      applyBackendMacros('$__fromTime $__toTime', c),
      'toDateTime(1700000000) toDateTime(1700003600)',
    );
    assert.equal(
      applyBackendMacros('$__timeInterval(ts)', c),
      'toStartOfInterval(toDateTime(ts), INTERVAL 90 second)',
    );
    assert.equal(applyBackendMacros('$__interval_s', ctx({}, 200)), '1');
    assert.equal(
      applyBackendMacros('$__dateFilter(d)', c),
      "d >= toDate('2023-11-14') AND d <= toDate('2023-11-14')",
    );
    assert.equal(
      applyBackendMacros('$__dt(d, t)', c),
      "(d >= toDate('2023-11-14') AND d <= toDate('2023-11-14')) AND (t >= toDateTime(1700000000) AND t <= toDateTime(1700003600))",
    );
    assert.throws(() => applyBackendMacros('$__timeFilter(a, b)', c), /expects 1 argument/);
  });

  test('literals, quoted identifiers and comments are left alone; unknown macros unchanged', () => {
    const c = ctx();
    const text =
      'SELECT \'$__fromTime\', `$__toTime`, "$__fromTime" -- $__toTime\n/* $__fromTime */ $__nope(x), $__toTime';
    assert.equal(
      applyBackendMacros(text, c),
      'SELECT \'$__fromTime\', `$__toTime`, "$__fromTime" -- $__toTime\n/* $__fromTime */ $__nope(x), toDateTime(1700003600)',
    );
  });

  test('the whole pipeline: conditionalAll before variables before backend macros', () => {
    const all = expandQuery(sql, ctx({ loc: { value: [], all: true, options: ['a', 'b'] } }));
    assert.equal(
      all,
      'SELECT 1 FROM t WHERE 1=1 AND ts >= toDateTime(1700000000) AND ts <= toDateTime(1700003600)',
    );
    const one = expandQuery(sql, ctx({ loc: { value: ['a'] } }));
    assert.equal(
      one,
      "SELECT 1 FROM t WHERE loc IN ('a') AND ts >= toDateTime(1700000000) AND ts <= toDateTime(1700003600)",
    );
    assert.deepEqual(leftoverTokens(one), []);
    assert.deepEqual(leftoverTokens("x = '$kept' AND $left AND ${also}"), ['$left', '${also}']);
    assert.deepEqual(referencedVariables('$a ${b:csv} [[c]] $__timeFilter(ts) ${__from}').sort(), [
      'a',
      'b',
      'c',
    ]);
  });
});
