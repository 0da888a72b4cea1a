import {
  type Bus,
  ChdbStore,
  type Config,
  type HttpEndpoint,
  httpEndpointUsers,
  type LocalReader,
  type Logger,
  type Store,
  type StoreConsumer,
  startClickhouseHttpEndpoint,
  startLocalReader,
  startStoreConsumer,
  type WriterStats,
} from '@apiwatch/core';

export interface StoreRole {
  /** The ClickHouse-compatible HTTP endpoint, when store.http.enabled. */
  http: HttpEndpoint | null;
  consumer: StoreConsumer;
  stats(): { events: WriterStats; findings: WriterStats };
  stop(): Promise<void>;
}

/**
 * The store role: wires the store consumer (core/src/store/consumer.ts) to the config, and
 * serves the ClickHouse-compatible HTTP endpoint over the embedded store when enabled.
 */
export async function startStoreRole(
  store: Store,
  bus: Bus,
  log: Logger,
  config?: Config,
): Promise<StoreRole> {
  const s = config?.store;
  const consumer = await startStoreConsumer({
    store,
    bus,
    log,
    maxBatchRows: s?.maxBatchRows ?? 50_000,
    maxBatchDelayMs: s?.maxBatchDelayMs ?? 1000,
    maxBufferedRows: s?.maxBufferedRows ?? 200_000,
    retry: s?.insertRetry ?? { attempts: 8, initialBackoffMs: 200, maxBackoffMs: 10_000 },
    eventsRetentionDays: s?.retention.eventsDays ?? 0,
  });
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
  // The CLI's read commands reach the embedded store through this while the server holds it.
  let localReader: LocalReader | null = null;
  if (store instanceof ChdbStore && config && s?.localReader.enabled) {
    localReader = await startLocalReader(store, config.dataDir, log);
  }
  log.info(
    { store: store.kind, maxBatchRows: s?.maxBatchRows ?? 50_000, http: http?.url ?? null },
    'store role consuming events and findings.',
  );
  return {
    http,
    consumer,
    stats: () => consumer.stats(),
    async stop() {
      await localReader?.close();
      await http?.close();
      await consumer.stop();
    },
  };
}
