/**
 * Renders docs/dashboards/<dashboard>.png: every dashboard's panels queried (expanded as Grafana
 * would) through the read-only ClickHouse endpoint over the seeded store, drawn as a static HTML
 * page (render.ts — not Grafana) and photographed with headless Chromium.
 *
 *   sh scripts/node.sh dashboards/src/screenshots.ts        (needs `chromium` on PATH)
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger, startClickhouseHttpEndpoint } from '@apiwatch/core';
import { DASHBOARDS } from './dashboards/index.ts';
import type { VariableValue } from './macros.ts';
import { renderDashboardHtml } from './render.ts';
import { seedStore } from './seed.ts';
import { expandPanel, type QueryResult, runSql } from './verify.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUT = join(ROOT, 'docs', 'dashboards');
mkdirSync(OUT, { recursive: true });

const seeded = await seedStore();
const password = 'screenshots';
const endpoint = await startClickhouseHttpEndpoint({
  store: seeded.store,
  host: '127.0.0.1',
  port: 0,
  users: [
    { name: 'grafana', passwordSha256: createHash('sha256').update(password).digest('hex'), readonly: true },
  ],
  maxBodyBytes: 1024 * 1024,
  log: createLogger('silent'),
});
try {
  // The investigated entity: the origin of the first brute-force (or any auth) finding.
  const f =
    seeded.findings.find((x) => x.detector === 'auth.brute_force') ??
    seeded.findings.find((x) => x.family === 'auth')!;
  const actor = `${f.entity.kind}:${f.entity.id}`;
  for (const d of DASHBOARDS) {
    const vars: Record<string, VariableValue> = {};
    for (const v of d.variables) vars[v.name] = v.kind === 'query' ? { value: [], all: true } : { value: '' };
    let caption = 'Static render of the panels’ query results (not Grafana)';
    if (d.uid === 'apiwatch-investigate') {
      vars.actor = { value: actor };
      caption += ` — actor = ${actor}`;
    }
    const ctx = { fromMs: seeded.scoredStart, toMs: seeded.end - 1, intervalMs: 3_600_000, vars };
    caption += `; seeded store, last week of the corpus (${new Date(ctx.fromMs).toISOString().slice(0, 10)} → ${new Date(ctx.toMs).toISOString().slice(0, 10)}), 1 h interval, ${d.uid === 'apiwatch-investigate' ? 'tenant All' : 'variables All'}.`;
    const results = new Map<number, QueryResult>();
    for (const p of d.panels)
      results.set(p.id, await runSql(endpoint.url, 'grafana', password, expandPanel(p.sql, ctx)));
    const html = renderDashboardHtml(d, results, caption);
    const htmlFile = join(seeded.dir, `${d.file}.html`);
    writeFileSync(htmlFile, html);
    const height = Math.max(...d.panels.map((p) => (p.grid.y + p.grid.h) * 34)) + 110;
    const png = join(OUT, `${d.file}.png`);
    const r = spawnSync(
      'chromium',
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--hide-scrollbars',
        `--window-size=1616,${height}`,
        `--screenshot=${png}`,
        `file://${htmlFile}`,
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    if (r.status !== 0) throw new Error(`chromium failed for ${d.file}: ${r.stderr}`);
    process.stderr.write(`screenshots: docs/dashboards/${d.file}.png\n`);
  }
} finally {
  await endpoint.close();
  await seeded.close();
}
