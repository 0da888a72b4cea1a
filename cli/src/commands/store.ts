import { createStoreFromConfig, formatTableStats, loadConfig, tableStats } from '@apiwatch/core';
import { columnStats, EVENT_BYTES_BUDGET, formatEventBytes } from '@apiwatch/core/store/stats.ts';
import type { Command } from '../command.ts';

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
    const config = loadConfig(values.config as string | undefined);
    const store = createStoreFromConfig(config);
    if (!store) {
      process.stderr.write('apiwatch store: store.kind is none.\n');
      return 2;
    }
    await store.start();
    try {
      const stats = await tableStats(store);
      const columns = values.columns ? await columnStats(store, 'api_events') : [];
      if (values.json) {
        for (const s of stats) process.stdout.write(`${JSON.stringify(s)}\n`);
        const events = stats.find((s) => s.table === 'api_events');
        process.stdout.write(
          `${JSON.stringify({ eventBytes: events?.bytesPerRow ?? null, budget: EVENT_BYTES_BUDGET, ...(values.columns ? { columns } : {}) })}\n`,
        );
      } else process.stdout.write(`${formatTableStats(stats)}\n${formatEventBytes(stats, columns)}`);
      return 0;
    } finally {
      await store.close();
    }
  },
};
