import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MetricsRegistry } from './metrics.ts';

test('renders HELP, TYPE and labelled samples in the Prometheus text format, read at scrape time', async () => {
  const r = new MetricsRegistry();
  let n = 3;
  r.register('apiwatch_store_rows_total', 'Rows inserted.', 'counter', () => [
    { labels: { table: 'api_events' }, value: n },
    { labels: { table: 'fin"dings' }, value: 1 },
  ]);
  r.register('apiwatch_detect_buffered_events', 'Events waiting.', 'gauge', () => [{ value: 7 }]);
  n = 5;
  const text = await r.render();
  const lines = text.split('\n').filter((l) => l !== '');
  for (const want of [
    '# HELP apiwatch_store_rows_total Rows inserted.',
    '# TYPE apiwatch_store_rows_total counter',
    'apiwatch_store_rows_total{table="api_events"} 5',
    'apiwatch_store_rows_total{table="fin\\"dings"} 1',
    '# HELP apiwatch_detect_buffered_events Events waiting.',
    '# TYPE apiwatch_detect_buffered_events gauge',
    'apiwatch_detect_buffered_events 7',
  ])
    assert.ok(lines.includes(want), `missing ${want} in:\n${text}`);
  // Exactly those: no scope labels, no target_info, no suffix added to our names.
  assert.equal(lines.length, 7, text);
  assert.ok(text.endsWith('\n'));
});

test('a counter that goes back (a role started again) is reported as it is read, not summed', async () => {
  const r = new MetricsRegistry();
  r.register('apiwatch_ingest_events_total', 'Events.', 'counter', () => [{ value: 10 }]);
  assert.match(await r.render(), /^apiwatch_ingest_events_total 10$/m);
  r.register('apiwatch_ingest_events_total', 'Events.', 'counter', () => [{ value: 2 }]);
  assert.match(await r.render(), /^apiwatch_ingest_events_total 2$/m);
  r.register('apiwatch_ingest_events_total', 'Events.', 'counter', () => [{ value: Number.NaN }]);
  assert.match(await r.render(), /^apiwatch_ingest_events_total 0$/m);
});

test('names must follow apiwatch_<stage>_<noun>_<unit>; one name keeps one type and help', () => {
  const r = new MetricsRegistry();
  assert.throws(() => r.register('requests', 'x', 'counter', () => []), /apiwatch_<stage>/);
  assert.throws(() => r.register('apiwatch_ingest_events', 'x', 'counter', () => []), /_total/);
  r.register('apiwatch_ingest_queue_events', 'Queued.', 'gauge', () => []);
  assert.throws(
    () => r.register('apiwatch_ingest_queue_events', 'Other.', 'gauge', () => []),
    /already registered/,
  );
});
