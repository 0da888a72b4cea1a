import {
  createLogger,
  createStoreFromConfig,
  MigrationError,
  runningEndpointExecutor,
  StoreLockedError,
} from '@apiwatch/core';
import type { Command } from '../command.ts';
import { loadCliConfig } from '../config.ts';

export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'Apply ClickHouse migrations (idempotent) and the configured retention.',
  usage: 'apiwatch migrate [--config <file>]',
  options: {
    config: {
      type: 'string',
      short: 'c',
      description: 'YAML config; without it the embedded store under .apiwatch/.',
      valueName: 'file',
    },
  },
  details: [
    'Applies core/src/store/migrations/NNNN_*.sql in order, records each in schema_migrations',
    '(version, checksum, applied_at), and refuses to run when an applied migration changed.',
    'With clickhouse.cluster set, DDL runs ON CLUSTER (Replicated*MergeTree + Distributed).',
    'The embedded store migrates itself on start; this command is for servers and CI.',
  ].join('\n'),
  async run(values) {
    const config = loadCliConfig(values.config as string | undefined);
    const log = createLogger(config.logLevel, 'apiwatch', config.logFormat);
    const store = createStoreFromConfig(config);
    if (!store) {
      process.stderr.write('apiwatch migrate: store.kind is none; nothing to migrate.\n');
      return 0;
    }
    const listSql =
      'SELECT version, argMax(name, applied_at) AS name, toString(max(applied_at)) AS last_applied FROM schema_migrations GROUP BY version ORDER BY version';
    try {
      try {
        await store.start();
      } catch (e) {
        if (!(e instanceof StoreLockedError)) throw e;
        // The running server migrated the embedded store when it started: nothing to apply.
        const endpoint = runningEndpointExecutor(config);
        process.stderr.write(
          `apiwatch migrate: pid ${e.holder.pid} holds ${e.dataPath}; the embedded store applies its migrations when it starts, so the running server has applied them (restart it to apply a newer version's).\n`,
        );
        if ('reason' in endpoint) {
          process.stderr.write(
            `  To list them while it runs, serve the store (store.http, docs/store.md) with a user whose passwordEnv is set here (${endpoint.reason}).\n`,
          );
          return 0;
        }
        try {
          const applied = await endpoint.query<{ version: number; name: string; last_applied: string }>(
            listSql,
          );
          for (const m of applied)
            process.stdout.write(
              `${String(m.version).padStart(4, '0')}_${m.name}  applied ${m.last_applied}\n`,
            );
          process.stderr.write(
            `apiwatch migrate: ${applied.length} migrations applied (read through ${endpoint.url}).\n`,
          );
        } finally {
          await endpoint.close();
        }
        return 0;
      }
      const applied = await store.query<{ version: number; name: string; last_applied: string }>(listSql);
      for (const m of applied)
        process.stdout.write(`${String(m.version).padStart(4, '0')}_${m.name}  applied ${m.last_applied}\n`);
      process.stderr.write(`apiwatch migrate: ${applied.length} migrations applied on ${store.kind}.\n`);
      return 0;
    } catch (e) {
      if (e instanceof MigrationError) {
        process.stderr.write(`apiwatch migrate: ${e.message} [${e.code}]\n`);
        return 1;
      }
      throw e;
    } finally {
      await store.close();
      log.flush();
    }
  },
};
