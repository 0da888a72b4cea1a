import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ChdbStore,
  checkStatement,
  createLogger,
  DEFAULT_LIMITS,
  inspectStatement,
  startClickhouseHttpEndpoint,
} from '@apiwatch/core';
import { syntheticEvents } from '../src/synthetic.ts';
import type { BenchResult } from './types.ts';

/**
 * What deciding a statement with the engine's parser costs the ClickHouse-compatible endpoint
 * (docs/decisions/0006-endpoint-statement-policy.md): per query, a fresh session, formatQuery,
 * EXPLAIN AST, the catalog read and the tree walk — against the floor of running the same
 * query on a fresh session without any check, and the whole HTTP round trip with the check.
 */
const ROUNDS = 200;
const QUERIES: Array<[string, string]> = [
  ['SELECT 1', 'SELECT 1'],
  [
    'dashboard panel',
    'SELECT toStartOfMinute(ts) AS t, route, count() AS c FROM api_events WHERE ts >= now() - INTERVAL 1 HOUR GROUP BY t, route ORDER BY t',
  ],
  [
    'Grafana columns',
    "SELECT name, type, table FROM system.columns WHERE database IN ('default') AND table = 'api_events'",
  ],
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-bench-policy-'));
  const store = new ChdbStore({ path: join(dir, 'db'), stagingRoot: dir });
  await store.start();
  await store.insertEvents(syntheticEvents(20_000, { seed: 5, startMs: Date.now() - 1_800_000 }));
  const endpoint = await startClickhouseHttpEndpoint({
    store,
    host: '127.0.0.1',
    port: 0,
    users: [{ name: 'ro', passwordSha256: createHash('sha256').update('x').digest('hex'), readonly: true }],
    maxBodyBytes: 1 << 20,
    log: createLogger('silent'),
  });
  const results: BenchResult[] = [];
  try {
    for (const [name, sql] of QUERIES) {
      const check: number[] = [];
      const floor: number[] = [];
      const http: number[] = [];
      for (let i = 0; i < ROUNDS + 10; i++) {
        const s1 = store.openSession();
        const t0 = performance.now();
        const st = await inspectStatement(s1, sql, {});
        const catalog = {
          database: 'default',
          dictionaries: new Set<string>(),
          userFunctions: new Set<string>(),
        };
        checkStatement(st, { name: 'ro', readonly: true }, catalog, DEFAULT_LIMITS);
        const t1 = performance.now();
        s1.close();
        const s2 = store.openSession();
        const t2 = performance.now();
        await s2.queryAsync(sql, { format: 'JSONEachRow' });
        const t3 = performance.now();
        s2.close();
        const t4 = performance.now();
        const res = await fetch(`${endpoint.url}/?user=ro&password=x&default_format=JSONEachRow`, {
          method: 'POST',
          body: sql,
        });
        await res.arrayBuffer();
        const t5 = performance.now();
        if (i >= 10) {
          check.push(t1 - t0);
          floor.push(t3 - t2);
          http.push(t5 - t4);
        }
      }
      const c = median(check);
      const f = median(floor);
      results.push({
        name: `parser check, ${name}`,
        value: c,
        unit: 'ms',
        floor: f,
        ratio: c / f,
        lowerIsBetter: true,
        note: `formatQuery + EXPLAIN AST + walk; floor = the query itself on a fresh session; HTTP round trip with the check ${median(http).toFixed(2)} ms (median of ${ROUNDS})`,
      });
    }
  } finally {
    await endpoint.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}
