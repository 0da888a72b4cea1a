import type { Logger, NotificationDeliveryRecord } from '@apiwatch/core';
import type { DeliveryAttempt } from './types.ts';

/** Where delivery records go: the store (notification_deliveries). */
export interface DeliveryRecordSink {
  insertDeliveries(records: readonly NotificationDeliveryRecord[]): Promise<void>;
}

export interface DeliveryLogOptions {
  sink: DeliveryRecordSink;
  log: Logger;
  /** Rows written at once. Default 500. */
  maxBatchRows?: number;
  /** Longest a record waits before it is written, ms. Default 1000. */
  flushIntervalMs?: number;
  /** Records held while the store is slow or down; the oldest beyond it are dropped (counted). Default 10 000. */
  maxBufferedRows?: number;
}

export interface DeliveryLogCounters {
  written: number;
  /** Records dropped: the buffer was full, or the store refused a batch. */
  dropped: number;
}

/** One attempt as the store keeps it. */
export function deliveryRecord(a: DeliveryAttempt): NotificationDeliveryRecord {
  const r = a.result;
  return {
    ts: a.ts,
    notificationId: a.notification.id,
    receiver: a.notification.receiver,
    type: a.notification.type,
    groupKey: a.notification.groupKey,
    status: a.notification.status,
    attempt: a.attempt,
    outcome: a.outcome,
    code: r.ok ? '' : r.code,
    httpStatus: r.status ?? 0,
    sendMs: a.sendMs,
    queuedAt: a.notification.queuedAt,
    findings: a.notification.findings.length,
    error: r.ok ? '' : r.error,
  };
}

/**
 * The record of every delivery attempt, for the "Alert delivery" dashboard panels: the queues
 * report each attempt (sync, on their hot path), this buffers them and writes batches to the
 * store in the background. A record is evidence, not a delivery: the store being slow or down
 * never delays or fails a notification — records beyond the buffer, or in a batch the store
 * refused, are dropped, counted (apiwatch_alert_delivery_records_dropped_total) and logged once
 * per batch.
 */
export class DeliveryLog {
  readonly counters: DeliveryLogCounters = { written: 0, dropped: 0 };
  private buffer: NotificationDeliveryRecord[] = [];
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  private readonly o: Required<Omit<DeliveryLogOptions, 'sink' | 'log'>> & DeliveryLogOptions;

  constructor(o: DeliveryLogOptions) {
    this.o = { maxBatchRows: 500, flushIntervalMs: 1000, maxBufferedRows: 10_000, ...o };
  }

  /** An AttemptObserver: never throws, never waits. */
  readonly observe = (a: DeliveryAttempt): void => {
    this.buffer.push(deliveryRecord(a));
    if (this.buffer.length > this.o.maxBufferedRows) {
      const over = this.buffer.length - this.o.maxBufferedRows;
      this.buffer.splice(0, over);
      this.counters.dropped += over;
    }
    if (this.buffer.length >= this.o.maxBatchRows) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.o.flushIntervalMs);
  };

  /** Writes what is buffered; resolves when it is in the store (or counted as dropped). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.buffer.splice(0);
    this.writing = this.writing.then(async () => {
      for (let i = 0; i < batch.length; i += this.o.maxBatchRows) {
        const rows = batch.slice(i, i + this.o.maxBatchRows);
        try {
          await this.o.sink.insertDeliveries(rows);
          this.counters.written += rows.length;
        } catch (e) {
          this.counters.dropped += rows.length;
          this.o.log.warn(
            { err: e, rows: rows.length },
            'delivery records could not be stored; dropped (the notifications themselves are unaffected).',
          );
        }
      }
    });
    return this.writing;
  }

  async close(): Promise<void> {
    await this.flush();
  }
}
