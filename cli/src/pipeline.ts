import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
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
  type TracingSetup,
  tracing,
} from '@apiwatch/core';
import { SpecCatalog } from '@apiwatch/ingest';
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
  if (config.bus.kind === 'kafka') return new KafkaBus(config.bus.kafka, log, config.bus.consumerRetry);
  const { capacity, journal } = config.bus.memory;
  return new MemoryBus({
    capacity,
    ...(journal.enabled
      ? {
          journal: {
            dir: join(config.dataDir, 'bus'),
            fsync: journal.fsync,
            segmentBytes: journal.segmentBytes,
          },
        }
      : {}),
    handlerRetry: config.bus.consumerRetry,
    log,
  });
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
export interface PipelineOptions {
  /** Span exporters besides the configured OTLP one (tests: an in-memory exporter). */
  spanExporters?: TracingSetup['exporters'];
}

export async function startPipeline(
  config: Config,
  roles: Role[],
  log: Logger,
  options: PipelineOptions = {},
): Promise<Pipeline> {
  if (config.bus.kind === 'memory' && roles.length < ROLES.length) {
    log.warn(
      { roles },
      'bus.kind is memory: roles in other processes cannot see this one; use bus.kind: kafka to split roles.',
    );
  }
  // What started so far, stopped in reverse order when a later step fails (a port in use, a
  // held data directory): a failed start must leave no half-running process behind.
  const started: Array<() => Promise<unknown> | unknown> = [];
  const step = async <T>(start: () => Promise<T>, stop: (v: T) => Promise<unknown> | unknown): Promise<T> => {
    const v = await start();
    started.push(() => stop(v));
    return v;
  };
  let bus: Bus;
  let store: Store | null;
  let storeRole: Awaited<ReturnType<typeof startStoreRole>> | null;
  let alert: Awaited<ReturnType<typeof startAlertRole>> | null;
  let detect: Awaited<ReturnType<typeof startDetectRole>> | null;
  let ingest: Awaited<ReturnType<typeof startIngestRole>> | null;
  let metricsServer: Server | null;
  const stopTracing = await tracing.configure({
    config: config.telemetry.traces,
    log,
    ...(options.spanExporters ? { exporters: options.spanExporters } : {}),
  });
  started.push(stopTracing);
  try {
    // The store first: it refuses a data directory another apiwatch holds (STORE_DATA_DIR_LOCKED)
    // before the bus opens — and would otherwise cut the "torn tail" of — that one's journal.
    store = roles.includes('store') ? createStore(config) : null;
    if (store)
      await step(
        async () => store!.start(),
        () => store!.close(),
      );
    bus = await step(
      async () => {
        const b = createBus(config, log);
        await b.start();
        return b;
      },
      (b) => b.close(),
    );
    storeRole = store
      ? await step(
          () => startStoreRole(store!, bus, log, config),
          (r) => r.stop(),
        )
      : null;
    // Uploaded OpenAPI specs: one catalog for the management API (alert) and the route stage
    // (ingest), so an upload served here applies to this process's ingest at once.
    const specs = store ? new SpecCatalog(store, log) : null;
    alert = roles.includes('alert')
      ? await step(
          () => startAlertRole(config, bus, log, store, specs),
          (r) => r.stop(),
        )
      : null;
    detect = roles.includes('detect')
      ? await step(
          () => startDetectRole(config, bus, log, { store }),
          (r) => r.stop(),
        )
      : null;
    ingest = roles.includes('ingest')
      ? await step(
          () => startIngestRole(config, bus, log, { specs }),
          (r) => r.stop(),
        )
      : null;
    metricsServer =
      config.telemetry.metrics.port > 0
        ? await step(
            () => serveMetrics(config.telemetry.metrics, log),
            (m) => m.close(),
          )
        : null;
  } catch (e) {
    for (const stop of started.reverse()) {
      try {
        await stop();
      } catch {
        // Best effort: the start failure is what the user needs to see.
      }
    }
    throw e;
  }
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
      // Last: the spans of everything above are exported before the process goes.
      await stopTracing();
    },
  };
}

/** `/metrics` for a process whose roles have no HTTP server of their own (detect, store, alert). */
async function serveMetrics(listen: { host: string; port: number }, log: Logger): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      metrics.render().then(
        (text) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(text),
        (e: unknown) => {
          log.error({ err: e }, 'metrics collection failed.');
          res.writeHead(500).end();
        },
      );
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
