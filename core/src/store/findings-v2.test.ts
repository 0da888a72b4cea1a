import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { exampleFinding } from '../model/examples.ts';
import { ChdbStore } from './chdb.ts';
import { loadMigrations, MIGRATIONS_DIR, renderSql } from './migrate.ts';

const dir = mkdtempSync(join(tmpdir(), 'apiwatch-findings-v2-'));
const store = new ChdbStore(dir);

before(() => store.start());
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const firing = exampleFinding({ id: 'ep1', status: 'firing', endedAt: null, detectedAt: 1_772_445_600_000 });
const resolved = exampleFinding({
  id: 'ep1',
  status: 'resolved',
  endedAt: 1_772_445_900_000,
  detectedAt: 1_772_446_200_000,
  entity: { kind: 'credential', id: 'fp1', name: 'billing-svc', ref: 'kong-cred-42' },
  labels: { route: '/login', team: 'edge' },
});

test('findings v2: a resolved update replaces the firing one, whatever the insert order', async () => {
  await store.insertFindings([firing]);
  await store.insertFindings([resolved]);
  const other = exampleFinding({ id: 'ep2', status: 'resolved', endedAt: 1, detectedAt: 1_772_446_200_000 });
  await store.insertFindings([other]);
  await store.insertFindings([{ ...other, status: 'firing', endedAt: null, detectedAt: 1_772_445_600_000 }]);
  const rows = await store.query<{
    id: string;
    status: string;
    family: string;
    entity_name: string;
    entity_ref: string;
    ended_at: string | null;
    route_label: string;
  }>(
    "SELECT id, status, family, entity_name, entity_ref, ended_at, labels['team'] AS route_label FROM findings FINAL ORDER BY id",
  );
  assert.deepEqual(
    rows.map((r) => [r.id, r.status]),
    [
      ['ep1', 'resolved'],
      ['ep2', 'resolved'],
    ],
  );
  assert.equal(rows[0]!.family, 'auth');
  assert.equal(rows[0]!.entity_name, 'billing-svc');
  assert.equal(rows[0]!.entity_ref, 'kong-cred-42');
  assert.equal(rows[0]!.route_label, 'edge');
  assert.ok(rows[0]!.ended_at);
});

test('findings v2 renders for a cluster: replicated ReplacingMergeTree(version), exchange ON CLUSTER', () => {
  const m = loadMigrations(MIGRATIONS_DIR).find((x) => x.name.includes('findings_v2'))!;
  const sql = renderSql(m.text, { cluster: 'c' });
  assert.match(
    sql[0]!,
    /ReplicatedReplacingMergeTree\('\/clickhouse\/tables\/\{shard\}\/\{database\}\/findings_v2_local', '\{replica\}', version\)/,
  );
  assert.ok(sql.some((s) => /^EXCHANGE TABLES findings_local AND findings_v2_local ON CLUSTER 'c'$/.test(s)));
});
