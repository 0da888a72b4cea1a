import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger, loadConfig, metrics } from '@apiwatch/core';
import { startPipeline } from '../../cli/src/pipeline.ts';
import { ROOT } from '../src/processes.ts';

/**
 * docs/telemetry.md lists the metrics: every metric an embedded pipeline with all roles registers
 * is in its table with the same type and its HELP text, and every row of the table is registered
 * (a metric is served once it has a sample; the gateway-decision counter only with response
 * actions).
 */
test('docs/telemetry.md lists every registered metric with its type and HELP text', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-telemetry-docs-'));
  const pipeline = await startPipeline(
    loadConfig(undefined, {
      APIWATCH__DATADIR: dir,
      APIWATCH__LOGLEVEL: 'error',
      APIWATCH__INGEST__LISTEN__PORT: '0',
      APIWATCH__ALERT__RECEIVERS: JSON.stringify([
        { id: 'soc', kind: 'webhook', url: 'http://127.0.0.1:9/' },
      ]),
    }),
    ['ingest', 'detect', 'store', 'alert'],
    createLogger('error'),
  );
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let text: string;
  const registered = metrics.registered();
  try {
    text = await metrics.render();
  } finally {
    await pipeline.close();
  }
  assert.match(text, /^# TYPE apiwatch_ingest_events_total counter$/m);
  assert.match(text, /^apiwatch_detect_buffered_events 0$/m);
  const documented = new Map<string, { type: string; meaning: string }>();
  for (const line of readFileSync(join(ROOT, 'docs/telemetry.md'), 'utf8').split('\n')) {
    const row = /^\| `(apiwatch_[a-z_]+)` \| (counter|gauge) \|[^|]*\| (.*) \|$/.exec(line);
    if (row) documented.set(row[1]!, { type: row[2]!, meaning: row[3]! });
  }
  assert.ok(registered.length >= 25, 'a full pipeline registers its metrics');
  for (const m of registered) {
    // Names other tests of this process registered are not the pipeline's.
    if (m.name.startsWith('apiwatch_mgmt_probe')) continue;
    const d = documented.get(m.name);
    assert.ok(d, `${m.name} is registered but not listed in docs/telemetry.md`);
    assert.equal(d.type, m.type, `${m.name}: documented type`);
    assert.ok(d.meaning.startsWith(m.help), `${m.name}: the doc says "${d.meaning}", HELP is "${m.help}"`);
  }
  const names = new Set(registered.map((m) => m.name));
  for (const name of documented.keys()) {
    if (name === 'apiwatch_alert_decisions_total') continue;
    assert.ok(names.has(name), `${name} is in docs/telemetry.md but no role registers it`);
  }
});
