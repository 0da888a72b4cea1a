import {
  type ApiEvent,
  BatchWriter,
  type Bus,
  ChdbStore,
  type Config,
  type DlqRecord,
  type Finding,
  type HttpEndpoint,
  httpEndpointUsers,
  type Logger,
  metrics,
  type PoisonRow,
  type Store,
  startClickhouseHttpEndpoint,
  type WriterStats,
} from '@apiwatch/core';

export interface StoreRole {
  /** The ClickHouse-compatible HTTP endpoint, when store.http.enabled. */
  http: HttpEndpoint | null;
  stats(): { events: WriterStats; findings: WriterStats };
  stop(): Promise<void>;
}

/**
 * The store role: consumes `events` and `findings` and inserts them through batching writers.
 * A bus handler resolves only when the insert holding its rows has succeeded, so offsets are
 * committed after the rows are durable; a crash re-delivers them and the per-batch dedup token
 * plus ReplacingMergeTree on the id keep them stored once. Rows the store refuses go to the DLQ.
 */
export async function startStoreRole(
  store: Store,
  bus: Bus,
  log: Logger,
  config?: Config,
): Promise<StoreRole> {
  const s = config?.store;
  const common = {
    maxBatchRows: s?.maxBatchRows ?? 50_000,
    maxBatchDelayMs: s?.maxBatchDelayMs ?? 1000,
    maxBufferedRows: s?.maxBufferedRows ?? 200_000,
    retry: s?.insertRetry ?? { attempts: 8, initialBackoffMs: 200, maxBackoffMs: 10_000 },
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
    idOf: (f) => String(f?.id),
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
  const eventsSub = await bus.subscribe('events', 'store', (batch) =>
    events.write(batch.map((m) => m.value)),
  );
  // A group of its own per topic: KafkaBus names the group <groupPrefix>.<group>, and one Kafka
  // group whose members subscribe to different topics gets events partitions assigned to the
  // findings consumer, which never reads them.
  const findingsSub = await bus.subscribe('findings', 'store-findings', (batch) =>
    findings.write(batch.map((m) => m.value)),
  );
  const dlqSub = await bus.subscribe('dlq', 'store-dlq', (batch) =>
    deadLetters.write(batch.map((m) => m.value)),
  );

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
  let http: HttpEndpoint | null = null;
  if (s?.http.enabled) {
    if (!(store instanceof ChdbStore)) {
      log.warn(
        'store.http.enabled applies to the embedded store only; a ClickHouse server has its own HTTP interface.',
      );
    } else {
      http = await startClickhouseHttpEndpoint({
        store,
        host: s.http.listen.host,
        port: s.http.listen.port,
        users: httpEndpointUsers(config!),
        maxBodyBytes: s.http.maxBodyBytes,
        maxQueryBytes: s.http.maxQueryBytes,
        limits: {
          maxExecutionSeconds: s.http.maxExecutionSeconds,
          maxMemoryBytes: s.http.maxMemoryBytes,
          maxResultBytes: s.http.maxResultBytes,
          maxThreads: s.http.maxThreads,
        },
        log,
      });
    }
  }
  log.info(
    { store: store.kind, maxBatchRows: common.maxBatchRows, http: http?.url ?? null },
    'store role consuming events and findings.',
  );
  return {
    http,
    stats: () => ({ events: events.stats, findings: findings.stats }),
    async stop() {
      await http?.close();
      await eventsSub.close();
      await findingsSub.close();
      await dlqSub.close();
      await events.close();
      await findings.close();
      await deadLetters.close();
      log.info({ events: events.stats, findings: findings.stats }, 'store role stopped.');
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
