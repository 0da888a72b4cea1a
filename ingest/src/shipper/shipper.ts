import { type ApiEvent, type DlqRecord, err, ok, type Result } from '@apiwatch/core';
import type { IngestClient, IngestPath, PostFailure } from './client.ts';

/**
 * What `apiwatch collect` sends with: events and the records it could not read are held here,
 * framed as NDJSON bodies of at most `batchSize` events, and posted to ingest with a retry
 * budget. `flush()` resolves with what was shipped, or with the failure that stopped it — the
 * caller saves its read position only after a flush that succeeded (at-least-once), so what was
 * not shipped is read again next time.
 *
 * Retries: 429, 5xx, timeouts and connection errors back off exponentially (the server's
 * Retry-After when longer), `retry.attempts` tries per body; `Infinity` (collect following a
 * file) waits for ingest for as long as it takes, logging each wait. A refused token or a body
 * ingest refuses for its content is not retried.
 */

export interface ShipperRetry {
  /** Tries per body; Infinity retries until ingest answers (follow mode). */
  attempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
}

export interface ShipperOptions {
  client: IngestClient;
  /** Events per request. */
  batchSize: number;
  /** Longest an event is held before `due()` says to flush, ms. */
  flushMs: number;
  retry: ShipperRetry;
  /** Told about each retry (the CLI logs it). */
  onRetry?: (info: { attempt: number; delayMs: number; detail: string }) => void;
  /** Told about each record ingest rejected. */
  onRejected?: (r: { code: string; reason: string }) => void;
  /** Once aborted (SIGINT), a failing send is not tried again. */
  signal?: AbortSignal;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export interface ShipperStats {
  /** Events handed to the shipper. */
  events: number;
  /** Events ingest accepted. */
  shipped: number;
  /** Events ingest rejected one by one (they reached its DLQ). */
  rejected: number;
  /** Unreadable records sent to ingest's DLQ. */
  deadLettered: number;
  retries: number;
}

export interface ShipFailure extends PostFailure {
  attempts: number;
  /** Events held and not shipped when the flush stopped. */
  unshipped: number;
}

export class Shipper {
  readonly stats: ShipperStats = { events: 0, shipped: 0, rejected: 0, deadLettered: 0, retries: 0 };
  private readonly o: ShipperOptions;
  private pending: ApiEvent[] = [];
  private deadLetters: DlqRecord[] = [];
  private oldest = 0;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;

  constructor(o: ShipperOptions) {
    this.o = o;
    this.sleep =
      o.sleep ??
      ((ms) =>
        new Promise<void>((resolve) => {
          const t = setTimeout(resolve, ms);
          o.signal?.addEventListener(
            'abort',
            () => {
              clearTimeout(t);
              resolve();
            },
            { once: true },
          );
        }));
    this.now = o.now ?? Date.now;
  }

  get held(): number {
    return this.pending.length;
  }

  add(events: readonly ApiEvent[]): void {
    if (events.length === 0) return;
    if (this.pending.length === 0) this.oldest = this.now();
    for (const e of events) this.pending.push(e);
    this.stats.events += events.length;
  }

  /** A record that could not be read here, for ingest's DLQ (already redacted by the caller). */
  deadLetter(record: DlqRecord): void {
    this.deadLetters.push(record);
  }

  /** A full batch is waiting, or the oldest held event waited flushMs. */
  due(): boolean {
    return (
      this.pending.length >= this.o.batchSize ||
      (this.pending.length > 0 && this.now() - this.oldest >= this.o.flushMs)
    );
  }

  /** Sends everything held. On failure, what was not shipped stays held. */
  async flush(): Promise<Result<void, ShipFailure>> {
    if (this.deadLetters.length > 0) {
      const n = this.deadLetters.length;
      const sent = await this.send('/v1/dlq', frame(this.deadLetters.slice(0, n)));
      if (!sent.ok) return err({ ...sent.error, unshipped: this.pending.length });
      this.deadLetters = this.deadLetters.slice(n);
      this.stats.deadLettered += n;
    }
    while (this.pending.length > 0) {
      const batch = this.pending.slice(0, this.o.batchSize);
      const sent = await this.send('/v1/events', frame(batch));
      if (!sent.ok) return err({ ...sent.error, unshipped: this.pending.length });
      this.stats.shipped += sent.value.accepted;
      this.stats.rejected += sent.value.rejected.length;
      for (const r of sent.value.rejected) this.o.onRejected?.(r);
      this.pending = this.pending.slice(batch.length);
      if (this.pending.length > 0) this.oldest = this.now();
    }
    return ok(undefined);
  }

  private async send(
    path: IngestPath,
    body: string,
  ): Promise<
    Result<
      { accepted: number; rejected: Array<{ code: string; reason: string }> },
      Omit<ShipFailure, 'unshipped'>
    >
  > {
    const r = this.o.retry;
    for (let attempt = 1; ; attempt++) {
      const res = await this.o.client.post(path, body);
      if (res.ok) return res;
      if (!res.error.retryable || attempt >= r.attempts || this.o.signal?.aborted)
        return err({ ...res.error, attempts: attempt });
      this.stats.retries++;
      const delayMs = Math.max(
        res.error.retryAfterMs ?? 0,
        Math.min(r.maxBackoffMs, r.initialBackoffMs * 2 ** (attempt - 1)),
      );
      this.o.onRetry?.({ attempt, delayMs, detail: res.error.detail });
      await this.sleep(delayMs);
    }
  }
}

/** NDJSON: one JSON document per line. */
function frame(values: readonly unknown[]): string {
  let out = '';
  for (const v of values) out += `${JSON.stringify(v)}\n`;
  return out;
}
