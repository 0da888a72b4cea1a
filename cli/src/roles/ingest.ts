import { type Bus, type Config, createStoreFromConfig, type Logger, type Store } from '@apiwatch/core';
import {
  createIngestServer,
  createRouteTemplater,
  defaultCollectorToken,
  loadIdentityContext,
  loadSpecFiles,
  SpecCatalog,
} from '@apiwatch/ingest';

/**
 * The ingest role. Its route stage uses the `ingest.specs` files and the specs uploaded through
 * the management API (api_specs in the store, read through `specs` — the pipeline's catalog when
 * this process has the store — or, with a ClickHouse store and no store role here, a store
 * connection of its own): loaded at start, re-read every `ingest.specsReloadSeconds`, and at
 * once when the upload is served by this process.
 */
export async function startIngestRole(
  config: Config,
  bus: Bus,
  log: Logger,
  opts: { specs?: SpecCatalog | null } = {},
): Promise<{ url: string; routes: ReturnType<typeof createRouteTemplater>; stop(): Promise<void> }> {
  let ownStore: Store | null = null;
  let catalog = opts.specs ?? null;
  if (!catalog && config.store.kind === 'clickhouse') {
    ownStore = createStoreFromConfig(config);
    if (ownStore) {
      await ownStore.start();
      catalog = new SpecCatalog(ownStore, log);
    }
  }
  const fileSpecs = loadSpecFiles(config.ingest.specs);
  const uploaded = catalog ? await catalog.watch(config.ingest.specsReloadSeconds * 1000) : [];
  const routes = createRouteTemplater({
    specs: [...fileSpecs, ...uploaded],
    infer: config.ingest.inferRoutes,
  });
  catalog?.onChange((specs) => routes.setSpecs([...fileSpecs, ...specs]));
  const collectors = [...config.ingest.collectors];
  let tokenFile: string | null = null;
  if (collectors.length === 0) {
    const generated = defaultCollectorToken(config.dataDir);
    collectors.push(generated.credential);
    tokenFile = generated.file;
  }
  const server = await createIngestServer({
    host: config.ingest.listen.host,
    port: config.ingest.listen.port,
    maxBodyBytes: config.ingest.maxBodyBytes,
    maxRecordsPerRequest: config.ingest.maxRecordsPerRequest,
    maxInflatedBytes: config.ingest.maxInflatedBytes,
    collectors,
    rateLimit: config.ingest.rateLimit,
    ...(config.ingest.tls ? { tls: config.ingest.tls } : {}),
    identity: loadIdentityContext(config.dataDir, process.env, config.identity),
    envoyAls: config.ingest.envoyAls,
    // The route stage of every push source: the spec files (the CLI readers load the same) and
    // the uploaded specs.
    routes,
    bus,
    log,
  });
  const url = server.url();
  log.info(
    { url: `${url}/v1/events`, collectors: collectors.map((c) => c.id), ...(tokenFile ? { tokenFile } : {}) },
    'ingest listening.',
  );
  return {
    url,
    routes,
    async stop() {
      await server.app.close();
      catalog?.close();
      await ownStore?.close();
    },
  };
}
