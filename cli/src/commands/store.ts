import {
  columnStats,
  EVENT_BYTES_BUDGET,
  formatEventBytes,
  formatTableStats,
  tableStats,
} from '@apiwatch/core';
import type { Command } from '../command.ts';
import { loadCliConfig } from '../config.ts';
import { openStoreReader } from '../store-reader.ts';

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
    // The server holds the data directory: read through its endpoint (openStoreReader says how when it cannot).
    const { db, held, close } = await openStoreReader(config, 'store stats');
    if (held)
      process.stderr.write(
        `apiwatch store: pid ${held.pid} holds ${held.dataPath}; reading through its endpoint ${held.url} as ${held.user}.\n`,
      );
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
