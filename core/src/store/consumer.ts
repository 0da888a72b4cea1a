import type { Bus, DlqRecord, Subscription } from '../bus/types.ts';
import type { Logger } from '../log.ts';
import type { ApiEvent } from '../model/event.ts';
import type { Finding } from '../model/finding.ts';
import { metrics } from '../telemetry/metrics.ts';
import type { Store } from './types.ts';
import { BatchWriter, type PoisonRow, type RetryPolicy, type WriterStats } from './writer.ts';

/**
 * The store consumer: `events`, `findings` and `dlq` from the bus into the store through
 * batching writers. A bus handler resolves only when the insert holding its rows has succeeded,
 * so offsets are committed after the rows are durable; a crash re-delivers them and the
 * per-batch dedup token plus ReplacingMergeTree on the id keep them stored once. Rows the store
 * refuses go to the DLQ.
 *
 * Retention: api_events has a TTL (`store.retention.eventsDays`), and ClickHouse drops rows that
 * are already past it when their part is written. Such events are still inserted (the baseline
 * views see them), but counted — `apiwatch_store_dropped_rows_total{table,reason="retention"}` —
 * and logged, so an old log replayed into the store does not vanish without a word.
 */

export interface StoreConsumerOptions {
  store: Store;
  bus: Bus;
  log: Logger;
  /** Rows per insert (`store.maxBatchRows`). */
  maxBatchRows: number;
  /** Longest a row waits before insert, ms (`store.maxBatchDelayMs`). */
  maxBatchDelayMs: number;
  /** Rows held before consumers wait (`store.maxBufferedRows`). */
  maxBufferedRows: number;
  retry: RetryPolicy;
  /** api_events TTL in days (`store.retention.eventsDays`); 0 keeps forever. */
  eventsRetentionDays: number;
  /** Clock for the retention cut-off (tests). */
  now?: () => number;
}

export interface StoreConsumerCounters {
  /** Events older than the api_events TTL when they reached the store: dropped at insert. */
  eventsPastRetention: number;
}

export interface StoreConsumer {
  readonly counters: StoreConsumerCounters;
  stats(): { events: WriterStats; findings: WriterStats; deadLetters: WriterStats };
  stop(): Promise<void>;
}

const DAY_MS = 86_400_000;

/** The oldest event time api_events keeps at `now`, or null when retention is off (0 days). */
export function retentionCutoff(eventsDays: number, now: number): number | null {
  return eventsDays > 0 ? now - eventsDays * DAY_MS : null;
}

/** How many of `events` are older than retention: the store drops them at insert. */
export function countPastRetention(
  events: Iterable<{ ts: number }>,
  eventsDays: number,
  now: number,
): number {
  const cutoff = retentionCutoff(eventsDays, now);
  if (cutoff === null) return 0;
  let n = 0;
  for (const e of events) if (e.ts < cutoff) n++;
  return n;
}

export async function startStoreConsumer(o: StoreConsumerOptions): Promise<StoreConsumer> {
  const { store, bus, log } = o;
  const now = o.now ?? Date.now;
  const counters: StoreConsumerCounters = { eventsPastRetention: 0 };
  let warnedRetention = false;
  const common = {
    maxBatchRows: o.maxBatchRows,
    maxBatchDelayMs: o.maxBatchDelayMs,
    maxBufferedRows: o.maxBufferedRows,
    retry: o.retry,
    log,
  };
  const toDlq = async <T>(kind: string, rows: PoisonRow<T>[]): Promise<void> => {
    await bus.publish(
      'dlq',
      rows.map((p) => ({
        key: kind,
        value: {
          ts: Date.now(),
          source: `store.${kind}`,
          collector: null,
          code: p.code,
          reason: p.reason,
          raw: safeJson(p.row).slice(0, 65_536),
        },
      })),
    );
  };
  const events = new BatchWriter<ApiEvent>({
    ...common,
    name: 'api_events',
    idOf: (e) => String(e?.id),
    insert: (rows, token) => store.insertEvents(rows, { dedupToken: token }),
    onPoison: (rows) => toDlq('events', rows),
  });
  const findings = new BatchWriter<Finding>({
    ...common,
    name: 'findings',
    idOf: (f) => `${f?.id}|${f?.status}|${f?.detectedAt}`,
    insert: (rows, token) => store.insertFindings(rows, { dedupToken: token }),
    onPoison: (rows) => toDlq('findings', rows),
  });
  // The DLQ itself: a row the store refuses here is logged, never sent back to the DLQ (no loop).
  const deadLetters = new BatchWriter<DlqRecord>({
    ...common,
    name: 'dead_letters',
    idOf: (d) => `${d?.ts}|${d?.source}|${d?.reason}|${d?.raw}`,
    insert: (rows, token) => store.insertDeadLetters(rows, { dedupToken: token }),
    onPoison: async (rows) => {
      log.error({ rows: rows.length, code: rows[0]?.code }, 'dead letters the store refused were dropped.');
    },
  });
  const subs: Subscription[] = [];
  subs.push(
    await bus.subscribe('events', 'store', async (batch) => {
      const rows = batch.map((m) => m.value);
      const old = countPastRetention(rows, o.eventsRetentionDays, now());
      await events.write(rows);
      if (old > 0) {
        counters.eventsPastRetention += old;
        if (!warnedRetention) {
          warnedRetention = true;
          log.warn(
            { events: old, retentionDays: o.eventsRetentionDays },
            `events older than store.retention.eventsDays (${o.eventsRetentionDays} days) reached the store; ClickHouse drops them at insert (counted in apiwatch_store_dropped_rows_total; to keep history see docs/store.md#retention).`,
          );
        }
      }
    }),
  );
  // A group of its own per topic: KafkaBus names the group <groupPrefix>.<group>, and one Kafka
  // group whose members subscribe to different topics gets events partitions assigned to the
  // findings consumer, which never reads them.
  subs.push(
    await bus.subscribe('findings', 'store-findings', (batch) => findings.write(batch.map((m) => m.value))),
  );
  subs.push(await bus.subscribe('dlq', 'store-dlq', (batch) => deadLetters.write(batch.map((m) => m.value))));

  const writers = [
    ['api_events', events],
    ['findings', findings],
    ['dead_letters', deadLetters],
  ] as const;
  const perTable = (pick: (s: WriterStats) => number) => () =>
    writers.map(([table, w]) => ({ labels: { table }, value: pick(w.stats) }));
  metrics.register(
    'apiwatch_store_rows_total',
    'Rows inserted, per table.',
    'counter',
    perTable((s) => s.rowsWritten),
  );
  metrics.register(
    'apiwatch_store_inserts_total',
    'Insert statements, per table.',
    'counter',
    perTable((s) => s.inserts),
  );
  metrics.register(
    'apiwatch_store_retries_total',
    'Insert retries after transient errors.',
    'counter',
    perTable((s) => s.retries),
  );
  metrics.register(
    'apiwatch_store_poison_rows_total',
    'Rows refused and sent to the DLQ.',
    'counter',
    perTable((s) => s.poisonRows),
  );
  metrics.register(
    'apiwatch_store_backpressure_waits_total',
    'Times a consumer waited for a full insert buffer.',
    'counter',
    perTable((s) => s.backpressureWaits),
  );
  metrics.register(
    'apiwatch_store_dropped_rows_total',
    'Rows inserted but not kept, by table and reason (retention: older than the TTL, dropped at insert).',
    'counter',
    () => [{ labels: { table: 'api_events', reason: 'retention' }, value: counters.eventsPastRetention }],
  );
  return {
    counters,
    stats: () => ({ events: events.stats, findings: findings.stats, deadLetters: deadLetters.stats }),
    async stop() {
      for (const s of subs) await s.close();
      await events.close();
      await findings.close();
      await deadLetters.close();
      log.info(
        { events: events.stats, findings: findings.stats, eventsPastRetention: counters.eventsPastRetention },
        'store consumer stopped.',
      );
    },
  };
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
