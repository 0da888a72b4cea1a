import { createLogger } from '@apiwatch/core';
import type { Command } from '../command.ts';
import { loadCliConfig } from '../config.ts';
import { parseRoles, startPipeline } from '../pipeline.ts';
import { checkListenPorts, describeStartupFailure } from '../startup-error.ts';

export const startCommand: Command = {
  name: 'start',
  summary: 'Run the pipeline: all roles in one process (embedded default), or the roles you name.',
  usage: 'apiwatch start [--config <file>] [--role ingest,detect,store,alert]',
  options: {
    config: {
      type: 'string',
      short: 'c',
      description: 'YAML config; without it the embedded default runs.',
      valueName: 'file',
    },
    role: {
      type: 'string',
      short: 'r',
      description: 'Comma-separated roles: ingest, detect, store, alert.',
      default: 'all',
      valueName: 'roles',
    },
  },
  details: [
    'Embedded default (no config): in-process bus, chDB store under .apiwatch/, ingest on',
    'http://127.0.0.1:8080/v1/events with a collector token generated into .apiwatch/collector-token.',
    'Split roles across processes with bus.kind: kafka in the config (see docs/config.md).',
    'Environment overrides: APIWATCH__SECTION__KEY=value, e.g. APIWATCH__INGEST__LISTEN__PORT=9090.',
  ].join('\n'),
  async run(values) {
    const config = loadCliConfig(values.config as string | undefined);
    const roles = parseRoles(values.role as string | undefined);
    const log = createLogger(config.logLevel, 'apiwatch', config.logFormat);
    let pipeline: Awaited<ReturnType<typeof startPipeline>>;
    try {
      await checkListenPorts(config, roles);
      pipeline = await startPipeline(config, roles, log);
    } catch (e) {
      const failure = describeStartupFailure(e, config);
      if (!failure) throw e;
      process.stderr.write(`apiwatch start: ${failure.line} [${failure.code}]\n`);
      log.flush();
      // startPipeline stopped what it had started; a client library may still hold a handle
      // (a socket, a timer), and a failed start must end now rather than idle without ingest.
      process.exit(2);
    }
    log.info(
      { roles, bus: config.bus.kind, store: pipeline.store?.kind ?? 'none', dataDir: config.dataDir },
      'apiwatch started; stop with Ctrl-C.',
    );
    if (pipeline.ingestUrl && !values.config) {
      process.stderr.write(
        [
          '',
          `  apiwatch is listening on ${pipeline.ingestUrl}/v1/events (embedded: memory bus, chDB in ${config.dataDir}/chdb).`,
          '  Try it:       npm run -s apiwatch -- demo        (traffic with attacks; findings as they arrive)',
          '  Findings:     npm run -s apiwatch -- findings',
          `  Send events:  apiwatch collect --format nginx --file /var/log/nginx/access.json`,
          `  or:           curl -H "authorization: Bearer $(cat ${config.dataDir}/collector-token)" \\`,
          `                  -H 'content-type: application/x-ndjson' --data-binary @events.ndjson ${pipeline.ingestUrl}/v1/events`,
          '',
        ].join('\n'),
      );
    }
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        log.info(
          { signal },
          'stopping: finishing events in flight, checkpointing detector state, flushing alerts and the store.',
        );
        resolve();
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
    await pipeline.close();
    log.info('apiwatch stopped.');
    log.flush();
    return 0;
  },
};
