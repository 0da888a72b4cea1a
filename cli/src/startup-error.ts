import { createServer } from 'node:net';
import { type Config, ENV_PREFIX, StartupError } from '@apiwatch/core';

/**
 * One line for a start-up failure the user can act on, or null when it is not one (then the
 * caller shows the error as unexpected). A listener that cannot bind names the port and the
 * config key (and its environment override); a held data directory names its holder.
 */
export function describeStartupFailure(e: unknown, config: Config): { line: string; code: string } | null {
  if (e instanceof StartupError) return { line: e.message, code: e.code };
  const err = e as NodeJS.ErrnoException & { port?: number; address?: string };
  if (err?.code === 'EADDRINUSE' || err?.code === 'EACCES' || err?.code === 'EADDRNOTAVAIL') {
    const port = err.port ?? Number(/:(\d+)\s*$/.exec(err.message ?? '')?.[1]);
    const keys = listenKeys(config).filter((k) => k.port === port);
    const key = keys.length > 0 ? keys.map((k) => k.key).join(' or ') : 'a listen port in the config';
    const env = keys[0] ? ` (or ${envName(keys[0].key)}=<port>)` : '';
    const what =
      err.code === 'EADDRINUSE'
        ? 'is already in use (another apiwatch, or another program, listens there)'
        : err.code === 'EACCES'
          ? 'may not be bound by this user'
          : 'is not an address of this machine';
    return {
      line: `cannot listen on ${err.address ?? ''}:${port}: the port ${what}; set ${key} to a free port${env}, or 0 for any free port`,
      code: 'LISTEN_ADDRESS_IN_USE',
    };
  }
  return null;
}

function listenKeys(config: Config): Array<{ key: string; port: number }> {
  return [
    { key: 'ingest.listen.port', port: config.ingest.listen.port },
    { key: 'store.http.listen.port', port: config.store.http.listen.port },
    { key: 'telemetry.metrics.port', port: config.telemetry.metrics.port },
    { key: 'ingest.envoyAls.port', port: config.ingest.envoyAls.port },
  ];
}

function envName(key: string): string {
  return `${ENV_PREFIX}${key.split('.').join('__').toUpperCase()}`;
}

/**
 * Binds and releases every port this start will listen on, before anything else starts, so a
 * port in use is reported within a second of start instead of after the store has opened and
 * migrated. The real listeners still report a port taken in between.
 */
export async function checkListenPorts(config: Config, roles: readonly string[]): Promise<void> {
  const wanted: Array<{ host: string; port: number }> = [];
  if (roles.includes('ingest')) {
    wanted.push(config.ingest.listen);
    if (config.ingest.envoyAls.enabled) wanted.push(config.ingest.envoyAls);
  }
  if (roles.includes('store') && config.store.kind === 'chdb' && config.store.http.enabled) {
    wanted.push(config.store.http.listen);
  }
  if (config.telemetry.metrics.port > 0) wanted.push(config.telemetry.metrics);
  for (const { host, port } of wanted) {
    if (port === 0) continue;
    await new Promise<void>((resolve, reject) => {
      const probe = createServer();
      probe.once('error', reject);
      probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
    });
  }
}
