import { type ClickHouseClient, createClient } from '@clickhouse/client';
import type { ApiEvent } from '../model/event.ts';
import { JsonTablesStore } from './json-tables.ts';
import { applyRetention, type Migration, migrate, type Retention } from './migrate.ts';
import { eventRow } from './rows.ts';
import { dedupSettings, encodeRow, type InsertOptions, type Store } from './types.ts';

export interface ClickHouseStoreOptions {
  url: string;
  username: string;
  password: string;
  database: string;
  /** Cluster name; '' for a single server. DDL is rendered ON CLUSTER (docs/store.md). */
  cluster: string;
  compression: boolean;
  requestTimeoutMs: number;
  retention?: Retention;
  migrations?: Migration[];
}

/**
 * A ClickHouse server or cluster over HTTP, through the official `@clickhouse/client`. Same
 * migrations, same SQL, same dedup settings as the embedded store; inserts go as JSONEachRow
 * (the client streams them), on a cluster into the Distributed tables.
 */
export class ClickHouseStore extends JsonTablesStore implements Store {
  readonly kind = 'clickhouse' as const;
  private client: ClickHouseClient | null = null;
  private readonly options: ClickHouseStoreOptions;

  constructor(options: ClickHouseStoreOptions) {
    super();
    this.options = options;
  }

  async start(): Promise<void> {
    this.client = createClient({
      url: this.options.url,
      username: this.options.username,
      password: this.options.password,
      database: this.options.database,
      request_timeout: this.options.requestTimeoutMs,
      compression: { request: this.options.compression, response: this.options.compression },
      application: 'apiwatch',
    });
    const ping = await this.client.ping();
    if (!ping.success) throw ping.error;
    const cluster = this.options.cluster || null;
    await migrate(this, {
      cluster,
      ...(this.options.migrations ? { migrations: this.options.migrations } : {}),
    });
    if (this.options.retention) await applyRetention(this, this.options.retention, { cluster });
  }

  private get c(): ClickHouseClient {
    if (!this.client) throw new Error('ClickHouseStore used before start()');
    return this.client;
  }

  async exec(sql: string, settings: Record<string, string | number> = {}): Promise<void> {
    await this.c.command({ query: sql, clickhouse_settings: settings });
  }

  async insertEvents(events: readonly ApiEvent[], options?: InsertOptions): Promise<void> {
    // The canonical row goes to the Null table api_events_in; materialized views write the
    // compact api_events row, the credentials dimension, the inventory and the baselines.
    await this.insertJson(
      'api_events_in',
      events.map((e, i) => encodeRow(i, e, eventRow)),
      options,
    );
  }

  protected async insertJson(
    table: string,
    rows: Record<string, unknown>[],
    options?: InsertOptions,
  ): Promise<void> {
    if (rows.length === 0) return;
    await this.c.insert({
      table,
      values: rows,
      format: 'JSONEachRow',
      clickhouse_settings: dedupSettings(options),
    });
  }

  async query<T = Record<string, unknown>>(sql: string, params: Record<string, unknown> = {}): Promise<T[]> {
    const rs = await this.c.query({
      query: sql,
      query_params: params,
      format: 'JSONEachRow',
      // as ChdbStore: `SELECT *` includes the readable ALIAS columns of api_events
      clickhouse_settings: { asterisk_include_alias_columns: 1 },
    });
    return rs.json<T>();
  }

  async close(): Promise<void> {
    await this.client?.close();
    this.client = null;
  }
}
