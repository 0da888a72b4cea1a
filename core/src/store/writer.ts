import { createHash } from 'node:crypto';
import type { Logger } from '../log.ts';
import { classifyStoreError, type StoreFailure } from './errors.ts';

/**
 * The store's batching writer: callers hand it rows and get back a promise that settles when
 * *their* rows are durable (the insert that contains them succeeded), so a bus consumer that
 * awaits it commits offsets only after the insert.
 *
 * - Batches are bounded by size (`maxBatchRows`) and time (`maxBatchDelayMs`). When every
 *   expected caller is already waiting, no more rows can arrive before one of them is released,
 *   so the batch is sealed at once (group commit) instead of idling out the delay.
 * - Backpressure: at most `maxBufferedRows` rows are held (pending + being inserted); beyond
 *   that `write()` waits before taking the rows, so memory stays bounded.
 * - Idempotent: each insert carries a dedup token derived from its rows' ids, so a retried or
 *   re-delivered identical batch is a no-op, in the table and in its materialized views.
 * - Transient failures are retried with exponential backoff and jitter. Rows the store rejects
 *   for their content are isolated by bisection and handed to `onPoison` (the DLQ), and the rest
 *   of the batch is inserted.
 */

/** Thrown by a store when it cannot even encode one row of a batch (e.g. a malformed event). */
export class RowRejectedError extends Error {
  readonly index: number;
  constructor(index: number, message: string) {
    super(message);
    this.name = 'RowRejectedError';
    this.index = index;
  }
}

/**
 * An insert that failed for a reason other than its rows (the store is down or overloaded) after
 * every retry. `retryable`: the bus consumer delivers the batch again instead of dead-lettering it.
 */
export class StoreUnavailableError extends Error {
  readonly code = 'STORE_INSERT_FAILED';
  readonly retryable = true;
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.name = 'StoreUnavailableError';
  }
}

export interface RetryPolicy {
  /** Attempts per insert before the batch fails (its callers' promises reject). */
  attempts: number;
  /** First retry delay, ms; doubles each attempt. */
  initialBackoffMs: number;
  /** Longest retry delay, ms. */
  maxBackoffMs: number;
}

export interface PoisonRow<T> {
  row: T;
  code: string;
  reason: string;
}

export interface BatchWriterOptions<T> {
  /** Table or stream name, for logs and metrics labels. */
  name: string;
  /** Rows per insert. */
  maxBatchRows: number;
  /** Longest a row waits for its batch to fill, ms. */
  maxBatchDelayMs: number;
  /** Rows held (pending plus being inserted) before `write()` waits. */
  maxBufferedRows: number;
  /** How many callers may be writing concurrently (e.g. Kafka partitions consumed concurrently). */
  expectedWriters?: number;
  retry: RetryPolicy;
  idOf(row: T): string;
  insert(rows: T[], dedupToken: string): Promise<void>;
  onPoison(rows: PoisonRow<T>[]): Promise<void>;
  log: Logger;
  sleep?: (ms: number) => Promise<void>;
}

export interface WriterStats {
  rowsWritten: number;
  inserts: number;
  retries: number;
  poisonRows: number;
  /** Times a caller waited because the buffer was full. */
  backpressureWaits: number;
}

interface Batch<T> {
  rows: T[];
  sealed: boolean;
  timer: NodeJS.Timeout | null;
  done: Promise<void>;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class BatchWriter<T> {
  readonly stats: WriterStats = {
    rowsWritten: 0,
    inserts: 0,
    retries: 0,
    poisonRows: 0,
    backpressureWaits: 0,
  };
  private readonly o: BatchWriterOptions<T>;
  private pending: Batch<T> | null = null;
  private readonly queue: Batch<T>[] = [];
  private draining = false;
  private buffered = 0;
  private waitingCallers = 0;
  private readonly roomWaiters: Array<() => void> = [];
  private closed = false;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(options: BatchWriterOptions<T>) {
    this.o = options;
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /** Rows held right now (pending plus being inserted). */
  get bufferedRows(): number {
    return this.buffered;
  }

  /** Resolves when every row of `rows` is durable; rejects when their insert finally failed. */
  async write(rows: readonly T[]): Promise<void> {
    if (this.closed) throw new Error(`store writer ${this.o.name} is closed`);
    if (rows.length === 0) return;
    if (this.buffered > 0 && this.buffered + rows.length > this.o.maxBufferedRows) {
      this.stats.backpressureWaits++;
      // Seal what is pending so the rows ahead of us get inserted and make room.
      this.sealPending();
      while (this.buffered > 0 && this.buffered + rows.length > this.o.maxBufferedRows) {
        await new Promise<void>((r) => this.roomWaiters.push(r));
      }
    }
    this.buffered += rows.length;
    const waits = new Set<Promise<void>>();
    let i = 0;
    while (i < rows.length) {
      const batch = this.pending ?? this.openBatch();
      const take = Math.min(rows.length - i, this.o.maxBatchRows - batch.rows.length);
      for (let k = 0; k < take; k++) batch.rows.push(rows[i + k]!);
      i += take;
      waits.add(batch.done);
      if (batch.rows.length >= this.o.maxBatchRows) this.seal(batch);
    }
    this.waitingCallers++;
    if (this.waitingCallers >= (this.o.expectedWriters ?? 1)) this.sealPending();
    try {
      await Promise.all(waits);
    } finally {
      this.waitingCallers--;
    }
  }

  /** Seals the pending batch and resolves when everything written so far is durable. */
  async flush(): Promise<void> {
    this.sealPending();
    const all = this.queue.map((b) => b.done);
    await Promise.allSettled(all);
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }

  private openBatch(): Batch<T> {
    let resolve!: () => void;
    let reject!: (e: unknown) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Callers await `done`; nobody else may see an unhandled rejection from it.
    done.catch(() => {});
    const batch: Batch<T> = { rows: [], sealed: false, timer: null, done, resolve, reject };
    batch.timer = setTimeout(() => this.seal(batch), this.o.maxBatchDelayMs);
    this.pending = batch;
    return batch;
  }

  private sealPending(): void {
    if (this.pending) this.seal(this.pending);
  }

  private seal(batch: Batch<T>): void {
    if (batch.sealed) return;
    batch.sealed = true;
    if (batch.timer) clearTimeout(batch.timer);
    if (this.pending === batch) this.pending = null;
    this.queue.push(batch);
    if (!this.draining) void this.drain();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    while (this.queue.length > 0) {
      const batch = this.queue[0]!;
      try {
        await this.insertWithRecovery(batch.rows);
        batch.resolve();
      } catch (e) {
        batch.reject(e);
      } finally {
        this.queue.shift();
        this.buffered -= batch.rows.length;
        for (const wake of this.roomWaiters.splice(0)) wake();
      }
    }
    this.draining = false;
  }

  /** Inserts `rows`, retrying transient failures and routing rows the store rejects to onPoison. */
  private async insertWithRecovery(rows: T[]): Promise<void> {
    if (rows.length === 0) return;
    const failure = await this.insertWithRetry(rows);
    if (!failure) return;
    if (failure.error instanceof RowRejectedError) {
      const bad = rows[failure.error.index]!;
      await this.poison([{ row: bad, code: 'STORE_ROW_INVALID', reason: failure.error.message }]);
      const rest = rows.filter((_, k) => k !== (failure.error as RowRejectedError).index);
      await this.insertWithRecovery(rest);
      return;
    }
    if (rows.length === 1) {
      await this.poison([
        { row: rows[0]!, code: 'STORE_ROW_REJECTED', reason: failure.info.message.slice(0, 2000) },
      ]);
      return;
    }
    // The engine refused the data without saying which row: bisect.
    const mid = rows.length >> 1;
    await this.insertWithRecovery(rows.slice(0, mid));
    await this.insertWithRecovery(rows.slice(mid));
  }

  /**
   * Returns null on success, or the failure when it is about the rows themselves. Throws when
   * retries are exhausted on anything else (the callers' promises reject; nothing is committed).
   */
  private async insertWithRetry(rows: T[]): Promise<{ error: unknown; info: StoreFailure } | null> {
    const token = dedupToken(this.o.name, rows, this.o.idOf);
    let delay = this.o.retry.initialBackoffMs;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.o.insert(rows, token);
        this.stats.inserts++;
        this.stats.rowsWritten += rows.length;
        this.o.log.debug(
          { writer: this.o.name, rows: rows.length, totalRows: this.stats.rowsWritten },
          'store insert done.',
        );
        return null;
      } catch (e) {
        if (e instanceof RowRejectedError) return { error: e, info: classifyStoreError(e) };
        const info = classifyStoreError(e);
        if (info.dataError) return { error: e, info };
        if (attempt >= this.o.retry.attempts) {
          this.o.log.error(
            { writer: this.o.name, attempts: attempt, code: info.code, error: info.name },
            `store insert failed after ${attempt} attempts; the batch stays unacknowledged: ${info.message.slice(0, 300)}.`,
          );
          throw new StoreUnavailableError(
            `${this.o.name} insert failed after ${attempt} attempts: ${info.message.slice(0, 300)}`,
            e,
          );
        }
        this.stats.retries++;
        this.o.log.warn(
          { writer: this.o.name, attempt, code: info.code, error: info.name, retryInMs: delay },
          `store insert failed; retrying: ${info.message.slice(0, 300)}.`,
        );
        await this.sleep(Math.round(delay * (0.5 + Math.random() / 2)));
        delay = Math.min(delay * 2, this.o.retry.maxBackoffMs);
      }
    }
  }

  private async poison(rows: PoisonRow<T>[]): Promise<void> {
    this.stats.poisonRows += rows.length;
    this.o.log.warn(
      { writer: this.o.name, rows: rows.length, code: rows[0]?.code },
      'store rejected rows; sent to the DLQ.',
    );
    await this.o.onPoison(rows);
  }
}

/**
 * The insert_deduplication_token for a batch: table name, row count and a SHA-256 over the ids
 * in order. The same rows in the same order (a retry, or a re-delivered bus batch) get the same
 * token; anything else gets another.
 */
export function dedupToken<T>(name: string, rows: readonly T[], idOf: (row: T) => string): string {
  const h = createHash('sha256');
  for (const r of rows) h.update(idOf(r)).update('\n');
  return `${name}:${rows.length}:${h.digest('hex').slice(0, 40)}`;
}
