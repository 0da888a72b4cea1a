import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { drainPending } from 'chdb';
import { ChdbStore } from './chdb.ts';
import {
  loadMigrations,
  MIGRATIONS_DIR,
  MigrationError,
  migrate,
  renderRetention,
  renderSql,
} from './migrate.ts';

test('single-node rendering keeps names and engines; cluster rendering is replicated + distributed ON CLUSTER', () => {
  const text = loadMigrations(MIGRATIONS_DIR).find((m) => m.version === 1)!.text;
  const single = renderSql(text);
  // api_events_in (Null input), credentials, credentials_mv, credentials_dict, api_events, api_events_mv
  assert.equal(single.length, 6);
  assert.match(single[0]!, /^CREATE TABLE IF NOT EXISTS api_events_in \([\s\S]*\) ENGINE = Null$/m);
  assert.match(single[3]!, /^CREATE DICTIONARY IF NOT EXISTS credentials_dict \(/m);
  assert.match(single[4]!, /^CREATE TABLE IF NOT EXISTS api_events \(/m);
  assert.match(single[4]!, /ENGINE = ReplacingMergeTree\n/);
  assert.match(single[5]!, /^CREATE MATERIALIZED VIEW IF NOT EXISTS api_events_mv\nTO api_events AS/m);
  for (const s of single) assert.doesNotMatch(s, /ON CLUSTER|\{\{/);

  const cluster = renderSql(text, { cluster: 'prod' });
  assert.equal(cluster.length, 9);
  // Inserts go to the Distributed input table, sharded by actor; the views run on each shard.
  assert.equal(
    cluster[1],
    "CREATE TABLE IF NOT EXISTS api_events_in ON CLUSTER 'prod' AS api_events_in_local ENGINE = Distributed('prod', currentDatabase(), api_events_in_local, cityHash64(actor))",
  );
  assert.match(cluster[6]!, /CREATE TABLE IF NOT EXISTS api_events_local ON CLUSTER 'prod' \(/);
  assert.match(
    cluster[6]!,
    /ENGINE = ReplicatedReplacingMergeTree\('\/clickhouse\/tables\/\{shard\}\/\{database\}\/api_events_local', '\{replica\}'\)/,
  );
  assert.equal(
    cluster[7],
    "CREATE TABLE IF NOT EXISTS api_events ON CLUSTER 'prod' AS api_events_local ENGINE = Distributed('prod', currentDatabase(), api_events_local, cityHash64(id))",
  );
  assert.match(cluster[8]!, /TO api_events_local AS[\s\S]*FROM api_events_in_local AS e$/);
  const mv = renderSql(loadMigrations(MIGRATIONS_DIR).find((m) => m.version === 5)!.text, {
    cluster: 'prod',
  });
  assert.match(
    mv[1]!,
    /CREATE MATERIALIZED VIEW IF NOT EXISTS baseline_route_minute_mv_local ON CLUSTER 'prod'\nTO baseline_route_minute_local AS/,
  );
  assert.match(mv[1]!, /FROM api_events_in_local\n/);
  assert.match(
    renderSql(
      'CREATE TABLE IF NOT EXISTS {{table:x}} (v UInt8) ENGINE = {{engine:ReplacingMergeTree(v)}} ORDER BY v',
      { cluster: 'c' },
    )[0]!,
    /ReplicatedReplacingMergeTree\('\/clickhouse\/tables\/\{shard\}\/\{database\}\/x_local', '\{replica\}', v\)/,
  );
});

test('retention renders MODIFY TTL per table, REMOVE TTL for 0, ON CLUSTER on the local tables', () => {
  const r = renderRetention(
    { eventsDays: 7, findingsDays: 0, baselinesDays: 90, auditDays: 730 },
    { cluster: 'c' },
  );
  assert.equal(
    r.find((x) => x.table === 'api_events')!.sql,
    "ALTER TABLE api_events_local ON CLUSTER 'c' MODIFY TTL toDateTime(ts) + INTERVAL 7 DAY",
  );
  assert.equal(
    r.find((x) => x.table === 'findings')!.sql,
    "ALTER TABLE findings_local ON CLUSTER 'c' REMOVE TTL",
  );
});

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'apiwatch-migrate-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('migrate is idempotent, records checksums, applies retention, and refuses a changed migration naming the file', async () => {
  const migrationsDir = join(dir, 'migrations');
  const data = join(dir, 'db');
  rmSync(migrationsDir, { recursive: true, force: true });
  const { mkdirSync, readdirSync, copyFileSync } = await import('node:fs');
  mkdirSync(migrationsDir);
  for (const f of readdirSync(MIGRATIONS_DIR)) copyFileSync(join(MIGRATIONS_DIR, f), join(migrationsDir, f));
  const retention = { eventsDays: 14, findingsDays: 365, baselinesDays: 90, auditDays: 730 };
  const store = new ChdbStore({ path: data, retention, migrations: loadMigrations(migrationsDir) });
  await store.start();
  try {
    const rows = await store.query<{ version: number; checksum: string }>(
      'SELECT version, checksum FROM schema_migrations ORDER BY version',
    );
    const shipped = loadMigrations(migrationsDir).length;
    assert.deepEqual(
      rows.map((r) => r.version),
      Array.from({ length: shipped }, (_, i) => i + 1),
    );
    assert.equal(rows[0]!.checksum, loadMigrations(migrationsDir)[0]!.checksum);
    const again = await migrate(store, { migrations: loadMigrations(migrationsDir) });
    assert.equal(again.applied.length, 0);
    assert.equal(again.alreadyApplied, shipped);
    const counted = await store.query<{ n: string }>('SELECT count() AS n FROM schema_migrations');
    assert.equal(Number(counted[0]?.n), shipped);
    const [t] = await store.query<{ engine_full: string }>(
      "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'api_events'",
    );
    assert.match(t!.engine_full, /TTL toDateTime\(ts\) \+ toIntervalDay\(14\)/);

    const extraFile = `${String(shipped + 1).padStart(4, '0')}_extra.sql`;
    writeFileSync(
      join(migrationsDir, extraFile),
      'CREATE TABLE IF NOT EXISTS {{table:extra}} {{on_cluster}} (v UInt8) ENGINE = {{engine:MergeTree}} ORDER BY v;\n',
    );
    const more = await migrate(store, { migrations: loadMigrations(migrationsDir) });
    assert.deepEqual(
      more.applied.map((m) => m.file),
      [extraFile],
    );

    writeFileSync(
      join(migrationsDir, '0002_findings.sql'),
      `${loadMigrations(migrationsDir)[1]!.text}\n-- edited\n`,
    );
    await assert.rejects(
      () => migrate(store, { migrations: loadMigrations(migrationsDir) }),
      (e: unknown) =>
        e instanceof MigrationError &&
        e.code === 'STORE_MIGRATION_CHANGED' &&
        e.file === '0002_findings.sql' &&
        /0002_findings\.sql changed/.test(e.message),
    );
  } finally {
    await store.close();
    await drainPending();
  }
});
