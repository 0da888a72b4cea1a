import { mkdirSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Session } from 'chdb';
import type { ApiEvent } from '../model/event.ts';
import { JsonTablesStore } from './json-tables.ts';
import { dataDirHolder, StoreLockedError } from './lock.ts';
import { applyRetention, type Migration, migrate, type Retention } from './migrate.ts';
import { eventFileInsertSql, eventTsvLine } from './rows.ts';
import { quoteString } from './sql-text.ts';
import { cleanStagingDir, defaultStagingRoot, removeLegacyStagingFiles, stagingDirFor } from './staging.ts';
import { dedupSettings, encodeRow, type InsertOptions, type Store } from './types.ts';

export interface ChdbStoreOptions {
  /** Data directory. */
  path: string;
  /** Applied on start; omitted leaves the tables' TTL as it is. */
  retention?: Retention;
  /** Migrations to apply (tests); defaults to core/src/store/migrations. */
  migrations?: Migration[];
  /**
   * Parent of the private staging directory where batches are staged for `file()`; defaults to
   * /dev/shm when present (docs/store.md, "Staging files").
   */
  stagingRoot?: string;
}

let staged = 0;

/**
 * The embedded store: the ClickHouse engine in-process (chDB), data kept in `path`.
 *
 * libchdb binds one data directory per process; sessions on the same directory coexist and
 * keep their own settings. The store holds one long-lived session; statements that need
 * settings (and the HTTP endpoint's requests) get a short-lived session of their own, which
 * costs well under a millisecond and never leaks a `SET` into the writer's session.
 */
export class ChdbStore extends JsonTablesStore implements Store {
  readonly kind = 'chdb' as const;
  readonly path: string;
  private session: Session | null = null;
  private readonly options: ChdbStoreOptions;
  private readonly stagingDir: string;

  constructor(pathOrOptions: string | ChdbStoreOptions) {
    super();
    this.options = typeof pathOrOptions === 'string' ? { path: pathOrOptions } : pathOrOptions;
    this.path = this.options.path;
    this.stagingDir = stagingDirFor(this.options.stagingRoot ?? defaultStagingRoot(), this.path);
  }

  /** The private directory (0700) holding this store's staging files while an insert runs. */
  get stagingDirectory(): string {
    return this.stagingDir;
  }

  async start(): Promise<void> {
    mkdirSync(this.path, { recursive: true });
    // libchdb locks <path>/status; a second process gets a bare connection error (and the
    // engine's "Cannot lock file" on stderr). Say who holds it before the engine is asked.
    const holder = dataDirHolder(this.path);
    if (holder) throw new StoreLockedError(this.path, holder);
    try {
      this.session = new Session(this.path);
    } catch (e) {
      const after = dataDirHolder(this.path);
      if (after) throw new StoreLockedError(this.path, after);
      throw e;
    }
    // Only the process holding the data directory reaches this line, so every file left in the
    // staging directory is a leftover of a crashed run of this store: remove it.
    cleanStagingDir(this.stagingDir);
    removeLegacyStagingFiles(this.options.stagingRoot ?? defaultStagingRoot());
    // `SELECT *` includes ALIAS columns, so api_events reads back readable (path, client_ip,
    // trace ids, credential_fingerprint, ingest_ts) next to the compact stored columns.
    await this.session.queryAsync('SET asterisk_include_alias_columns = 1', { format: 'Null' });
    await migrate(this, this.options.migrations ? { migrations: this.options.migrations } : {});
    if (this.options.retention) await applyRetention(this, this.options.retention);
  }

  private get s(): Session {
    if (!this.session) throw new Error('ChdbStore used before start()');
    return this.session;
  }

  /** A fresh session on the same data directory, for settings that must not outlive one request. */
  openSession(): Session {
    if (!this.session) throw new Error('ChdbStore used before start()');
    return new Session(this.path);
  }

  async exec(sql: string, settings: Record<string, string | number> = {}): Promise<void> {
    if (Object.keys(settings).length === 0) {
      await this.s.queryAsync(sql, { format: 'Null' });
      return;
    }
    const session = this.openSession();
    try {
      for (const [k, v] of Object.entries(settings)) {
        await session.queryAsync(`SET ${k} = ${typeof v === 'number' ? v : quoteString(v)}`);
      }
      await session.queryAsync(sql, { format: 'Null' });
    } finally {
      session.close();
    }
  }

  /**
   * Events go as TSV through tmpfs and `INSERT … SELECT … FROM file()`: the fastest path measured
   * (docs/decisions/0002-chdb-insert-path.md). A row that cannot be serialized throws before
   * anything is written; the writer isolates it.
   */
  async insertEvents(events: readonly ApiEvent[], options?: InsertOptions): Promise<void> {
    if (events.length === 0) return;
    const parts: string[] = new Array(events.length);
    for (let i = 0; i < events.length; i++) parts[i] = encodeRow(i, events[i]!, eventTsvLine);
    await this.withStagedFile(parts.join(''), 'tsv', async (file) => {
      await this.s.queryAsync(
        `${eventFileInsertSql('api_events_in', quoteString(file))}${settingsClause(dedupSettings(options))}`,
        { format: 'Null' },
      );
    });
  }

  /**
   * Writes `data` to a new file (mode 0600, created exclusively) in the private staging
   * directory, runs `use(path)`, and removes the file whatever happens.
   */
  async withStagedFile<T>(data: string | Buffer, ext: string, use: (path: string) => Promise<T>): Promise<T> {
    mkdirSync(this.stagingDir, { recursive: true, mode: 0o700 });
    const file = join(this.stagingDir, `${process.pid}-${++staged}.${ext}`);
    writeFileSync(file, data, { mode: 0o600, flag: 'wx' });
    try {
      return await use(file);
    } finally {
      unlinkSync(file);
    }
  }

  protected async insertJson(
    table: string,
    rows: Record<string, unknown>[],
    options?: InsertOptions,
  ): Promise<void> {
    if (rows.length === 0) return;
    let ndjson = '';
    for (const r of rows) ndjson += `${JSON.stringify(r)}\n`;
    await this.s.insert({
      table,
      values: Buffer.from(ndjson),
      format: 'JSONEachRow',
      settings: dedupSettings(options),
    });
  }

  async query<T = Record<string, unknown>>(sql: string, params: Record<string, unknown> = {}): Promise<T[]> {
    const result = await this.s.queryBindAsync(sql, params, { format: 'JSONEachRow' });
    const text = result.text();
    if (!text) return [];
    return text
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as T);
  }

  async close(): Promise<void> {
    const held = this.session !== null;
    this.session?.close();
    this.session = null;
    // An empty staging directory per data directory would pile up in /dev/shm (replay and
    // tests open many short-lived stores); leftovers of a crash are removed at the next start.
    if (held) {
      try {
        rmdirSync(this.stagingDir);
      } catch {
        // Not empty (an insert still running elsewhere) or already gone.
      }
    }
  }
}

function settingsClause(settings: Record<string, string | number>): string {
  const entries = Object.entries(settings);
  if (entries.length === 0) return '';
  return ` SETTINGS ${entries.map(([k, v]) => `${k} = ${typeof v === 'number' ? v : quoteString(v)}`).join(', ')}`;
}
