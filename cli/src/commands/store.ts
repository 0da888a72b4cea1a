import {
  columnStats,
  createStoreFromConfig,
  EVENT_BYTES_BUDGET,
  formatEventBytes,
  formatTableStats,
  runningEndpointExecutor,
  type SqlExecutor,
  StoreLockedError,
  tableStats,
} from '@apiwatch/core';
import type { Command } from '../command.ts';
import { loadCliConfig } from '../config.ts';

export const storeCommand: Command = {
  name: 'store',
  summary:
    'Inspect the store: `apiwatch store stats` prints rows, bytes on disk and bytes per row per table, and bytes per stored event in api_events against its budget.',
  usage: 'apiwatch store stats [--config <file>] [--columns] [--json]',
  allowPositionals: true,
  options: {
    config: {
      type: 'string',
      short: 'c',
      description: 'YAML config; without it the embedded store under .apiwatch/.',
      valueName: 'file',
    },
    json: { type: 'boolean', description: 'One JSON object per table instead of a table.' },
    columns: { type: 'boolean', description: 'Also the bytes per event of each api_events column.' },
  },
  async run(values, positionals) {
    const sub = positionals[0];
    if (sub !== 'stats') {
      process.stderr.write(
        `apiwatch store: unknown subcommand ${sub ?? '(none)'}; use: apiwatch store stats\n`,
      );
      return 2;
    }
    const config = loadCliConfig(values.config as string | undefined);
    const store = createStoreFromConfig(config);
    if (!store) {
      process.stderr.write('apiwatch store: store.kind is none.\n');
      return 2;
    }
    let db: SqlExecutor = store;
    let close: () => Promise<void> = () => store.close();
    try {
      await store.start();
    } catch (e) {
      if (!(e instanceof StoreLockedError)) throw e;
      // The server holds the data directory: read through its store endpoint, or say how.
      const endpoint = runningEndpointExecutor(config);
      if ('reason' in endpoint) {
        process.stderr.write(
          `apiwatch store: ${e.message}.\n  To read the store while it runs, serve it: set store.http.enabled: true and a store.http.users entry with passwordEnv in its config (docs/store.md), restart it, then run this command with that variable set; it reads through the running server (here: ${endpoint.reason}).\n`,
        );
        return 2;
      }
      process.stderr.write(
        `apiwatch store: pid ${e.holder.pid} holds ${e.dataPath}; reading through its endpoint ${endpoint.url} as ${endpoint.user}.\n`,
      );
      db = endpoint;
      close = () => endpoint.close();
    }
    try {
      const stats = await tableStats(db);
      const columns = values.columns ? await columnStats(db, 'api_events') : [];
      if (values.json) {
        for (const s of stats) process.stdout.write(`${JSON.stringify(s)}\n`);
        const events = stats.find((s) => s.table === 'api_events');
        process.stdout.write(
          `${JSON.stringify({ eventBytes: events?.bytesPerRow ?? null, budget: EVENT_BYTES_BUDGET, ...(values.columns ? { columns } : {}) })}\n`,
        );
      } else process.stdout.write(`${formatTableStats(stats)}\n${formatEventBytes(stats, columns)}`);
      return 0;
    } finally {
      await close();
    }
  },
};
