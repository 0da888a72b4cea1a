import type { DlqRecord } from '../bus/types.ts';
import type { ApiEvent } from '../model/event.ts';
import type { Finding } from '../model/finding.ts';
import type { SqlExecutor } from './migrate.ts';
import type {
  ApiSpecRecord,
  NotificationDeliveryRecord,
  ResponseActionAudit,
  TokenRevocation,
} from './rows.ts';
import { RowRejectedError } from './writer.ts';

export interface InsertOptions {
  /**
   * insert_deduplication_token for this insert. The same token with the same rows makes a
   * repeated insert a no-op, in api_events and in every materialized view behind it.
   */
  dedupToken?: string;
}

/**
 * Where events and findings are kept: chDB in-process (embedded) or a ClickHouse server. Both
 * take the same SQL, the same migrations and the same insert settings. Inserts are idempotent:
 * a dedup token per batch, and ReplacingMergeTree on the id under it (docs/store.md).
 */
export interface Store extends SqlExecutor {
  readonly kind: 'chdb' | 'clickhouse';
  /** Opens the store, applies migrations and the configured retention. */
  start(): Promise<void>;
  insertEvents(events: readonly ApiEvent[], options?: InsertOptions): Promise<void>;
  insertFindings(findings: readonly Finding[], options?: InsertOptions): Promise<void>;
  insertAudit(actions: readonly ResponseActionAudit[], options?: InsertOptions): Promise<void>;
  /** The DLQ, kept: records that never became events or could not be stored. */
  insertDeadLetters(records: readonly DlqRecord[], options?: InsertOptions): Promise<void>;
  /** Delivery attempts of notifications (the alert role's delivery queues). */
  insertDeliveries(records: readonly NotificationDeliveryRecord[], options?: InsertOptions): Promise<void>;
  /** OpenAPI documents uploaded through the management API. */
  insertSpecs(specs: readonly ApiSpecRecord[], options?: InsertOptions): Promise<void>;
  /** API tokens revoked (their SHA-256 only). */
  insertTokenRevocations(rows: readonly TokenRevocation[], options?: InsertOptions): Promise<void>;
  /** Runs a read query with `{name:Type}` parameters; rows as objects (64-bit integers as strings). */
  query<T = Record<string, unknown>>(sql: string, params?: Record<string, unknown>): Promise<T[]>;
  /** Runs a statement that returns no rows, with per-statement settings. */
  exec(sql: string, settings?: Record<string, string | number>): Promise<void>;
  close(): Promise<void>;
}

/** Settings every idempotent insert carries. */
export function dedupSettings(options: InsertOptions | undefined): Record<string, string | number> {
  if (!options?.dedupToken) return {};
  return {
    insert_deduplication_token: options.dedupToken,
    deduplicate_blocks_in_dependent_materialized_views: 1,
  };
}

/** Encodes row `i`, turning an encoding failure (a malformed record) into RowRejectedError. */
export function encodeRow<T, R>(i: number, row: T, encode: (row: T) => R): R {
  try {
    return encode(row);
  } catch (e) {
    throw new RowRejectedError(i, `row ${i} cannot be stored: ${(e as Error).message}`);
  }
}
