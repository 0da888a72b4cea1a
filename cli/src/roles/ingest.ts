import type { Bus, Config, Logger } from '@apiwatch/core';
import { createIngestServer, defaultCollectorToken, loadIdentityContext } from '@apiwatch/ingest';

export async function startIngestRole(
  config: Config,
  bus: Bus,
  log: Logger,
): Promise<{ url: string; stop(): Promise<void> }> {
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
    identity: loadIdentityContext(config),
    envoyAls: config.ingest.envoyAls,
    // The route stage of every push source (the CLI readers load the same specs).
    specs: config.ingest.specs,
    inferRoutes: config.ingest.inferRoutes,
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
    async stop() {
      await server.app.close();
    },
  };
}
