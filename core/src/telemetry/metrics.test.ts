import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MetricsRegistry } from './metrics.ts';

test('renders HELP, TYPE and labelled samples in the Prometheus text format, sorted by name', () => {
  const r = new MetricsRegistry();
  let n = 3;
  r.register('apiwatch_store_rows_total', 'Rows inserted.', 'counter', () => [
    { labels: { table: 'api_events' }, value: n },
    { labels: { table: 'fin"dings' }, value: 1 },
  ]);
  r.register('apiwatch_detect_buffered_events', 'Events waiting.', 'gauge', () => [{ value: 7 }]);
  n = 5;
  assert.equal(
    r.render(),
    [
      '# HELP apiwatch_detect_buffered_events Events waiting.',
      '# TYPE apiwatch_detect_buffered_events gauge',
      'apiwatch_detect_buffered_events 7',
      '# HELP apiwatch_store_rows_total Rows inserted.',
      '# TYPE apiwatch_store_rows_total counter',
      'apiwatch_store_rows_total{table="api_events"} 5',
      'apiwatch_store_rows_total{table="fin\\"dings"} 1',
      '',
    ].join('\n'),
  );
});

test('names must follow apiwatch_<stage>_<noun>_<unit>', () => {
  assert.throws(
    () => new MetricsRegistry().register('requests', 'x', 'counter', () => []),
    /apiwatch_<stage>/,
  );
});
