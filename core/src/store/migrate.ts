import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { quoteIdentifier, quoteString } from './sql-text.ts';

/**
 * Versioned migrations: `migrations/NNNN_name.sql`, applied in order and recorded in
 * `schema_migrations` (version, name, checksum, applied_at). An applied migration's text must
 * never change: its SHA-256 is checked on every run and a mismatch stops the run, naming the file
 * (write a new migration instead). The files are templates so one text serves a single node and a
 * cluster; see `renderSql` and docs/store.md.
 */

export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

export interface Migration {
  version: number;
  name: string;
  file: string;
  /** The file's text as committed (the template, before rendering). */
  text: string;
  /** SHA-256 hex of `text`. */
  checksum: string;
}

/** What runs SQL for the migrator: both store drivers provide it. */
export interface SqlExecutor {
  exec(sql: string, settings?: Record<string, string | number>): Promise<void>;
  query<T = Record<string, unknown>>(sql: string, params?: Record<string, unknown>): Promise<T[]>;
}

export interface RenderOptions {
  /** Cluster name (`clickhouse.cluster`); null or '' renders single-node DDL. */
  cluster?: string | null;
}

export class MigrationError extends Error {
  readonly code: 'STORE_MIGRATION_CHANGED' | 'STORE_MIGRATION_INVALID' | 'STORE_MIGRATION_FAILED';
  readonly file: string;
  constructor(code: MigrationError['code'], file: string, message: string) {
    super(message);
    this.name = 'MigrationError';
    this.code = code;
    this.file = file;
  }
}

export function checksumOf(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Reads `NNNN_name.sql` files from `dir`, sorted by version; versions must be unique. */
export function loadMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  const seen = new Map<number, string>();
  return files.map((file) => {
    const m = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
    if (!m)
      throw new MigrationError(
        'STORE_MIGRATION_INVALID',
        file,
        `${file}: migration files are named NNNN_name.sql.`,
      );
    const version = Number(m[1]);
    const other = seen.get(version);
    if (other)
      throw new MigrationError(
        'STORE_MIGRATION_INVALID',
        file,
        `${file} and ${other} share version ${version}.`,
      );
    seen.set(version, file);
    const text = readFileSync(join(dir, file), 'utf8');
    return { version, name: m[2]!, file, text, checksum: checksumOf(text) };
  });
}

const PLACEHOLDER = /\{\{\s*([a-z_]+)(?::([^}]*))?\s*\}\}/g;

/**
 * Splits a migration file (our own SQL, never a caller's) into statements by its layout rule:
 * full-line `--` comments are dropped and a statement ends with a line ending in `;`.
 */
export function splitMigration(text: string): string[] {
  const out: string[] = [];
  let current: string[] = [];
  for (const line of text.split('\n')) {
    if (/^\s*--/.test(line)) continue;
    current.push(line);
    if (/;\s*$/.test(line)) {
      out.push(current.join('\n').trim().replace(/;\s*$/, '').trim());
      current = [];
    }
  }
  out.push(current.join('\n').trim());
  return out.filter((s) => s.length > 0);
}

/**
 * Renders a migration template into statements.
 *
 * - `{{on_cluster}}` → '' or `ON CLUSTER '<c>'`
 * - `{{table:name}}` → `name`, or `name_local` on a cluster (the shard-local replicated table)
 * - `{{engine:XMergeTree(args)}}` → as written, or `ReplicatedXMergeTree('/clickhouse/tables/{shard}/{database}/<table>', '{replica}', args)`
 * - `{{distributed:name:sharding_key}}` (a statement of its own) → nothing, or
 *   `CREATE TABLE IF NOT EXISTS name ON CLUSTER '<c>' AS name_local ENGINE = Distributed('<c>', currentDatabase(), name_local, sharding_key)`
 */
export function renderSql(text: string, options: RenderOptions = {}): string[] {
  const cluster = options.cluster || null;
  const out: string[] = [];
  for (const statement of splitMigration(text)) {
    const dist = /^\{\{\s*distributed:([A-Za-z_][A-Za-z0-9_]*):(.+?)\s*\}\}$/s.exec(statement);
    if (dist) {
      if (cluster) {
        const [name, key] = [dist[1]!, dist[2]!];
        const c = quoteString(cluster);
        out.push(
          `CREATE TABLE IF NOT EXISTS ${name} ON CLUSTER ${c} AS ${name}_local ENGINE = Distributed(${c}, currentDatabase(), ${name}_local, ${key})`,
        );
      }
      continue;
    }
    const tableMatch =
      /CREATE\s+(?:TABLE|MATERIALIZED\s+VIEW)\s+IF\s+NOT\s+EXISTS\s+\{\{\s*table:([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/i.exec(
        statement,
      );
    const createdTable = tableMatch ? tableMatch[1]! : null;
    const rendered = statement.replace(PLACEHOLDER, (_all, kind: string, arg: string | undefined) => {
      switch (kind) {
        case 'on_cluster':
          return cluster ? `ON CLUSTER ${quoteString(cluster)}` : '';
        case 'table':
          if (!arg) throw new Error('{{table:…}} needs a name');
          return cluster ? `${arg}_local` : arg;
        case 'engine': {
          if (!arg) throw new Error('{{engine:…}} needs an engine');
          if (!cluster) return arg;
          const m = /^([A-Za-z]*MergeTree)(?:\((.*)\))?$/s.exec(arg.trim());
          if (!m) throw new Error(`{{engine:${arg}}} is not a MergeTree engine`);
          if (!createdTable) throw new Error('{{engine:…}} outside a CREATE TABLE {{table:…}} statement');
          const zkPath = quoteString(`/clickhouse/tables/{shard}/{database}/${createdTable}_local`);
          const args = [zkPath, quoteString('{replica}'), ...(m[2]?.trim() ? [m[2].trim()] : [])];
          return `Replicated${m[1]}(${args.join(', ')})`;
        }
        default:
          throw new Error(`unknown migration placeholder {{${kind}}}`);
      }
    });
    out.push(rendered.replace(/[ \t]+\n/g, '\n').replace(/ {2,}\(/g, ' ('));
  }
  return out;
}

const SCHEMA_MIGRATIONS_DDL = `CREATE TABLE IF NOT EXISTS {{table:schema_migrations}} {{on_cluster}} (
    version UInt32,
    name String,
    checksum String,
    applied_at DateTime64(3, 'UTC')
) ENGINE = {{engine:ReplacingMergeTree(applied_at)}}
ORDER BY version;

{{distributed:schema_migrations:version}}`;

export interface MigrateResult {
  applied: Migration[];
  alreadyApplied: number;
}

export interface MigrateOptions extends RenderOptions {
  migrations?: Migration[];
  onApplied?: (m: Migration) => void;
}

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
}

/**
 * Applies pending migrations in version order. Idempotent: applied versions are skipped, and a
 * migration interrupted half-way is safe to re-run because every statement is `IF NOT EXISTS`.
 * Refuses to run at all when an applied migration's file changed or disappeared.
 */
export async function migrate(db: SqlExecutor, options: MigrateOptions = {}): Promise<MigrateResult> {
  const migrations = options.migrations ?? loadMigrations();
  for (const sql of renderSql(SCHEMA_MIGRATIONS_DDL, options)) await db.exec(sql);
  const applied = await db.query<AppliedRow>(
    'SELECT version, argMax(name, applied_at) AS name, argMax(checksum, applied_at) AS checksum FROM schema_migrations GROUP BY version ORDER BY version',
  );
  const byVersion = new Map(migrations.map((m) => [m.version, m]));
  for (const row of applied) {
    const m = byVersion.get(Number(row.version));
    if (!m) {
      throw new MigrationError(
        'STORE_MIGRATION_CHANGED',
        `${String(row.version).padStart(4, '0')}_${row.name}.sql`,
        `migration ${String(row.version).padStart(4, '0')}_${row.name}.sql was applied to this database but is missing from the migrations directory; restore it.`,
      );
    }
    if (m.checksum !== row.checksum) {
      throw new MigrationError(
        'STORE_MIGRATION_CHANGED',
        m.file,
        `migration ${m.file} changed after it was applied (checksum ${row.checksum.slice(0, 12)}… recorded, ${m.checksum.slice(0, 12)}… on disk); restore its applied text and put the change in a new migration.`,
      );
    }
  }
  const done = new Set(applied.map((r) => Number(r.version)));
  const result: MigrateResult = { applied: [], alreadyApplied: done.size };
  for (const m of migrations) {
    if (done.has(m.version)) continue;
    let statements: string[];
    try {
      statements = renderSql(m.text, options);
    } catch (e) {
      throw new MigrationError(
        'STORE_MIGRATION_INVALID',
        m.file,
        `migration ${m.file}: ${(e as Error).message}.`,
      );
    }
    for (const sql of statements) {
      try {
        await db.exec(sql);
      } catch (e) {
        throw new MigrationError(
          'STORE_MIGRATION_FAILED',
          m.file,
          `migration ${m.file} failed: ${(e as Error).message}`,
        );
      }
    }
    await db.exec(
      // INSERT … SELECT, not VALUES: the statement is all SQL (no inline data), so it passes
      // through a ClickHouse-compatible endpoint that runs the engine's canonical text.
      `INSERT INTO schema_migrations (version, name, checksum, applied_at) SELECT ${m.version}, ${quoteString(m.name)}, ${quoteString(m.checksum)}, now64(3)`,
    );
    result.applied.push(m);
    options.onApplied?.(m);
  }
  return result;
}

/** Retention per table, days; 0 keeps rows forever. */
export interface Retention {
  eventsDays: number;
  findingsDays: number;
  baselinesDays: number;
  auditDays: number;
}

/**
 * Which column each table's TTL counts from. endpoint_inventory, api_specs and
 * api_token_revocations are small and never expire.
 */
export const TTL_COLUMNS: ReadonlyArray<{ table: string; key: keyof Retention; expr: string }> = [
  { table: 'api_events', key: 'eventsDays', expr: 'toDateTime(ts)' },
  { table: 'findings', key: 'findingsDays', expr: 'toDateTime(detected_at)' },
  { table: 'baseline_route_minute', key: 'baselinesDays', expr: 'minute' },
  { table: 'baseline_actor_route_hour', key: 'baselinesDays', expr: 'hour' },
  { table: 'response_actions_audit', key: 'auditDays', expr: 'toDateTime(ts)' },
  // What was sent is audit too: kept as long as the response-actions audit.
  { table: 'notification_deliveries', key: 'auditDays', expr: 'toDateTime(ts)' },
];

/** The ALTER statements that make each table's TTL match `retention` (all of them, unconditionally). */
export function renderRetention(
  retention: Retention,
  options: RenderOptions = {},
): Array<{ table: string; days: number; sql: string }> {
  const cluster = options.cluster || null;
  return TTL_COLUMNS.map(({ table, key, expr }) => {
    const days = retention[key];
    const target = cluster ? `${table}_local ON CLUSTER ${quoteString(cluster)}` : quoteIdentifier(table);
    const sql =
      days > 0
        ? `ALTER TABLE ${target} MODIFY TTL ${expr} + INTERVAL ${days} DAY`
        : `ALTER TABLE ${target} REMOVE TTL`;
    return { table, days, sql };
  });
}

/**
 * Applies `retention` where a table's current TTL differs. Existing parts are not rewritten at
 * once (materialize_ttl_after_modify = 0): expired rows go at the next merge, which keeps a
 * retention change from turning into a full-table mutation on start.
 */
export async function applyRetention(
  db: SqlExecutor,
  retention: Retention,
  options: RenderOptions = {},
): Promise<string[]> {
  const cluster = options.cluster || null;
  const changed: string[] = [];
  for (const { table, days, sql } of renderRetention(retention, options)) {
    const local = cluster ? `${table}_local` : table;
    const rows = await db.query<{ engine_full: string }>(
      'SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = {t:String}',
      { t: local },
    );
    const current = rows[0]?.engine_full ?? '';
    const m = /\bTTL\b.*?toIntervalDay\((\d+)\)/.exec(current);
    const currentDays = m ? Number(m[1]) : 0;
    if (currentDays === days) continue;
    if (days === 0 && !/\bTTL\b/.test(current)) continue;
    await db.exec(sql, { materialize_ttl_after_modify: 0 });
    changed.push(table);
  }
  return changed;
}
