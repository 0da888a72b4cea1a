import type { ApiEvent } from '../model/event.ts';
import type { Finding } from '../model/finding.ts';

/**
 * Where events and findings are kept: chDB in-process (embedded) or a ClickHouse server. Both
 * take the same SQL. Inserts are idempotent on the event/finding id, so re-consuming a batch
 * after a crash leaves no duplicates.
 */
export interface Store {
  readonly kind: string;
  /** Opens the store and applies migrations. */
  start(): Promise<void>;
  insertEvents(events: readonly ApiEvent[]): Promise<void>;
  insertFindings(findings: readonly Finding[]): Promise<void>;
  /** Runs a read query with `{name:Type}` parameters; rows as objects. */
  query<T = Record<string, unknown>>(sql: string, params?: Record<string, unknown>): Promise<T[]>;
  close(): Promise<void>;
}
