import { mkdirSync } from 'node:fs';
import { Session } from 'chdb';
import type { ApiEvent } from '../model/event.ts';
import type { Finding } from '../model/finding.ts';
import { eventRow, findingRow } from './rows.ts';
import { SCHEMA_STATEMENTS } from './schema.ts';
import type { Store } from './types.ts';

/** The embedded store: the ClickHouse engine in-process (chDB), data kept in `path`. */
export class ChdbStore implements Store {
  readonly kind = 'chdb';
  private session: Session | null = null;
  private readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  async start(): Promise<void> {
    mkdirSync(this.path, { recursive: true });
    this.session = new Session(this.path);
    for (const sql of SCHEMA_STATEMENTS) await this.exec(sql);
  }

  private get s(): Session {
    if (!this.session) throw new Error('ChdbStore used before start()');
    return this.session;
  }

  async exec(sql: string): Promise<void> {
    await this.s.queryAsync(sql, { format: 'Null' });
  }

  async insertEvents(events: readonly ApiEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.insertRows('api_events', events.map(eventRow));
  }

  async insertFindings(findings: readonly Finding[]): Promise<void> {
    if (findings.length === 0) return;
    await this.insertRows('findings', findings.map(findingRow));
  }

  private async insertRows(table: string, rows: Record<string, unknown>[]): Promise<void> {
    let ndjson = '';
    for (const r of rows) ndjson += `${JSON.stringify(r)}\n`;
    await this.s.insert({ table, values: Buffer.from(ndjson), format: 'JSONEachRow' });
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
    this.session?.close();
    this.session = null;
  }
}
