import {
  type Config,
  createStoreFromConfig,
  runningEndpointExecutor,
  type SqlExecutor,
  StartupError,
  StoreLockedError,
} from '@apiwatch/core';

/** A read connection to the store and how it was reached (said once on stderr). */
export interface StoreReader {
  db: SqlExecutor;
  via: string;
  /** Set when a running server holds the store and the read goes through its endpoint. */
  held: { pid: number; dataPath: string; url: string; user: string } | null;
  close(): Promise<void>;
}

/**
 * Opens the configured store for reading: the store itself when no server holds it, else the
 * running server's local reader (store.localReader, the embedded default) or its store.http
 * endpoint. Throws a coded StartupError saying what to do when none works.
 */
export async function openStoreReader(config: Config, command: string): Promise<StoreReader> {
  const store = createStoreFromConfig(config);
  if (!store) throw new StartupError('CONFIG_INVALID', 'store.kind is none: there is no store to read');
  try {
    await store.start();
    return { db: store, via: `the ${store.kind} store`, held: null, close: () => store.close() };
  } catch (e) {
    if (!(e instanceof StoreLockedError)) throw e;
    const endpoint = runningEndpointExecutor(config);
    if ('reason' in endpoint) {
      throw new StartupError(
        'STORE_DATA_DIR_LOCKED',
        `a running apiwatch (pid ${e.holder.pid}) holds ${e.dataPath}, and apiwatch ${command} cannot read through it: ${endpoint.reason}. Keep store.localReader.enabled: true (the default) in the server's config, or serve store.http (docs/store.md)`,
      );
    }
    return {
      db: endpoint,
      via: `the running server (pid ${e.holder.pid}) at ${endpoint.url}`,
      held: { pid: e.holder.pid, dataPath: e.dataPath, url: endpoint.url, user: endpoint.user },
      close: () => endpoint.close(),
    };
  }
}
