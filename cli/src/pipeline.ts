import { createServer, type Server } from 'node:http';
import {
  type Bus,
  type Config,
  createStoreFromConfig,
  KafkaBus,
  type Logger,
  MemoryBus,
  metrics,
  StartupError,
  type Store,
} from '@apiwatch/core';
import { startAlertRole } from './roles/alert.ts';
import { startDetectRole } from './roles/detect.ts';
import { startIngestRole } from './roles/ingest.ts';
import { startStoreRole } from './roles/store.ts';

export const ROLES = ['ingest', 'detect', 'store', 'alert'] as const;
export type Role = (typeof ROLES)[number];

export function parseRoles(value: string | undefined): Role[] {
  if (!value || value === 'all') return [...ROLES];
  const roles = value
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  for (const r of roles) {
    if (!(ROLES as readonly string[]).includes(r)) {
      throw new StartupError(
        'CONFIG_INVALID',
        `--role ${r}: not a role; use ${ROLES.join(', ')} (comma-separated) or all`,
      );
    }
  }
  return roles as Role[];
}

export function createBus(config: Config, log: Logger): Bus {
  return config.bus.kind === 'kafka'
    ? new KafkaBus(config.bus.kafka, log)
    : new MemoryBus(config.bus.memory.capacity);
}

export function createStore(config: Config): Store | null {
  return createStoreFromConfig(config);
}

export interface Pipeline {
  bus: Bus;
  store: Store | null;
  ingestUrl: string | null;
  detect: Awaited<ReturnType<typeof startDetectRole>> | null;
  alert: Awaited<ReturnType<typeof startAlertRole>> | null;
  close(): Promise<void>;
}

/**
 * Starts the given roles in one process. Consumers start before ingest, so nothing published
 * is missed; shutdown runs the other way: ingest stops taking requests, the bus drains, then
 * detectors flush their buffers, then alerts are delivered, then the store closes.
 */
export async function startPipeline(config: Config, roles: Role[], log: Logger): Promise<Pipeline> {
  if (config.bus.kind === 'memory' && roles.length < ROLES.length) {
    log.warn(
      { roles },
      'bus.kind is memory: roles in other processes cannot see this one; use bus.kind: kafka to split roles.',
    );
  }
  const bus = createBus(config, log);
  await bus.start();
  const store = roles.includes('store') ? createStore(config) : null;
  if (store) await store.start();
  const storeRole = store ? await startStoreRole(store, bus, log, config) : null;
  const alert = roles.includes('alert') ? await startAlertRole(config, bus, log, store) : null;
  const detect = roles.includes('detect') ? await startDetectRole(config, bus, log) : null;
  const ingest = roles.includes('ingest') ? await startIngestRole(config, bus, log) : null;
  const metricsServer =
    config.telemetry.metrics.port > 0 ? await serveMetrics(config.telemetry.metrics, log) : null;
  let closed = false;
  return {
    bus,
    store,
    ingestUrl: ingest?.url ?? null,
    detect,
    alert,
    async close() {
      if (closed) return;
      closed = true;
      metricsServer?.close();
      await ingest?.stop();
      await bus.flush();
      await detect?.stop();
      await bus.flush();
      await alert?.stop();
      await storeRole?.stop();
      await bus.close();
      await store?.close();
    },
  };
}

/** `/metrics` for a process whose roles have no HTTP server of their own (detect, store, alert). */
async function serveMetrics(listen: { host: string; port: number }, log: Logger): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(metrics.render());
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  log.info({ url: `http://${listen.host}:${listen.port}/metrics` }, 'metrics listening.');
  return server;
}
