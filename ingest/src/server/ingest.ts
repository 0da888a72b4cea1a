import { readFileSync } from 'node:fs';
import { apiwatchError, type Bus, type Logger, metrics } from '@apiwatch/core';
import Fastify, { type FastifyInstance } from 'fastify';
import type { IdentityContext } from '../identity/context.ts';
import { loadRouteTemplater, type RouteTemplater } from '../routes/templater.ts';
import { envoyAlsGrpcSource } from '../sources/envoy-als-grpc.ts';
import { eventsHttpSource } from '../sources/events-http.ts';
import { firehoseSource } from '../sources/firehose.ts';
import { kongHttpLogSource } from '../sources/kong-http-log.ts';
import { otlpHttpSource } from '../sources/otlp-http.ts';
import type { CollectorCredential } from './auth.ts';
import { CollectorRateLimitedError, CollectorRateLimiter } from './rate-limit.ts';

export interface IngestServerOptions {
  host: string;
  port: number;
  maxBodyBytes: number;
  maxRecordsPerRequest: number;
  collectors: readonly CollectorCredential[];
  /** Per-collector limit; eventsPerSecond 0 disables it. */
  rateLimit?: { eventsPerSecond: number; burstEvents: number };
  /** HTTPS, and mutual TLS when requireClientCert. */
  tls?: { certFile: string; keyFile: string; clientCaFile?: string; requireClientCert: boolean };
  bus: Bus;
  log: Logger;
  /** Fingerprint key and identity rules for the gateway push endpoints (sources/push.ts). */
  identity?: IdentityContext;
  /** Envoy ALS gRPC listener (`ingest.envoyAls`). */
  envoyAls?: { enabled: boolean; host: string; port: number };
  /** `ingest.specs`: OpenAPI files for route templates, object ids and spec annotations. */
  specs?: readonly string[];
  /** `ingest.inferRoutes` (default true). */
  inferRoutes?: boolean;
  /** A route stage built by the caller (instead of specs/inferRoutes); null: no route stage. */
  routes?: RouteTemplater | null;
  /** `ingest.maxInflatedBytes`: most bytes one request may decompress to (default maxBodyBytes). */
  maxInflatedBytes?: number;
}

export interface IngestCounters {
  accepted: number;
  rejected: number;
  throttled: number;
  unauthenticated: number;
}

/**
 * `POST /v1/events`: canonical events as NDJSON or a JSON array. Valid records are published and
 * invalid ones are reported one by one (and sent to the DLQ, redacted) in the same response.
 * Bad input never yields a 500; a saturated bus yields 429 with Retry-After.
 */
export async function createIngestServer(opts: IngestServerOptions): Promise<{
  app: FastifyInstance;
  counters: IngestCounters;
  url: () => string;
  /** The Envoy ALS gRPC port when `envoyAls.enabled` (the bound one when port 0 was asked). */
  envoyAlsPort: () => number | null;
}> {
  const counters: IngestCounters = { accepted: 0, rejected: 0, throttled: 0, unauthenticated: 0 };
  const listeners: { envoyAls: number | null } = { envoyAls: null };
  const limiter = new CollectorRateLimiter(
    opts.rateLimit?.eventsPerSecond ?? 0,
    opts.rateLimit?.burstEvents ?? 1,
  );
  const https = opts.tls
    ? {
        cert: readFileSync(opts.tls.certFile),
        key: readFileSync(opts.tls.keyFile),
        ...(opts.tls.clientCaFile ? { ca: readFileSync(opts.tls.clientCaFile) } : {}),
        requestCert: opts.tls.requireClientCert || Boolean(opts.tls.clientCaFile),
        rejectUnauthorized: opts.tls.requireClientCert,
      }
    : null;
  const app = (
    https
      ? Fastify({ https, bodyLimit: opts.maxBodyBytes, logger: false, return503OnClosing: true })
      : Fastify({ bodyLimit: opts.maxBodyBytes, logger: false, return503OnClosing: true })
  ) as FastifyInstance;
  // The route stage every push source shares: one templater, so inference learns from all traffic.
  const routes =
    opts.routes === undefined
      ? loadRouteTemplater({ specs: opts.specs ?? [], inferRoutes: opts.inferRoutes ?? true })
      : opts.routes;

  app.setErrorHandler(
    (error: Error & { statusCode?: number; code?: string; apiwatch?: unknown }, _req, reply) => {
      const status =
        error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
      if (status === 413 || error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        return reply.code(413).send({
          error: apiwatchError(
            'INGEST_BODY_TOO_LARGE',
            `body larger than ${opts.maxBodyBytes} bytes; send smaller batches`,
          ),
        });
      }
      if (error instanceof CollectorRateLimitedError) {
        reply.header('retry-after', String(error.retryAfterSeconds));
      }
      if (status < 500) {
        return (
          reply
            .code(status)
            // Fastify's own codes (FST_ERR_*) are not ours to document: every other 4xx is BAD_REQUEST.
            .send({ error: error.apiwatch ?? { code: 'BAD_REQUEST', message: error.message } })
        );
      }
      opts.log.error({ err: error }, 'ingest request failed inside apiwatch.');
      return reply
        .code(500)
        .send({ error: { code: 'INTERNAL', message: 'internal error; see apiwatch logs' } });
    },
  );

  app.get('/healthz', async () => ({ status: 'ok' }));
  metrics.register('apiwatch_ingest_events_total', 'Events accepted by ingest.', 'counter', () => [
    { value: counters.accepted },
  ]);
  metrics.register(
    'apiwatch_ingest_rejected_total',
    'Records rejected by ingest (sent to the DLQ).',
    'counter',
    () => [{ value: counters.rejected }],
  );
  metrics.register(
    'apiwatch_ingest_throttled_total',
    'Requests answered 429 (backpressure or rate limit).',
    'counter',
    () => [{ value: counters.throttled }],
  );
  metrics.register(
    'apiwatch_ingest_unauthenticated_total',
    'Requests refused for a missing or unknown token.',
    'counter',
    () => [{ value: counters.unauthenticated }],
  );
  metrics.register(
    'apiwatch_bus_saturated_bool',
    'Whether the bus is saturated (1) or not (0).',
    'gauge',
    () => [{ value: opts.bus.saturated() ? 1 : 0 }],
  );
  app.get('/metrics', async (_req, reply) => {
    reply.type('text/plain; version=0.0.4');
    return metrics.render();
  });

  await app.register(eventsHttpSource, { ...opts, routes, counters, rateLimiter: limiter });
  await app.register(kongHttpLogSource, { ...opts, routes, counters, rateLimiter: limiter });
  await app.register(firehoseSource, { ...opts, routes, counters, rateLimiter: limiter });
  await app.register(otlpHttpSource, { ...opts, routes, counters, rateLimiter: limiter });
  // Envoy drops access logs it cannot deliver, so ALS is paused by backpressure, never refused.
  await app.register(envoyAlsGrpcSource, { ...opts, routes, counters, listeners });
  await app.listen({ host: opts.host, port: opts.port });
  return {
    app,
    counters,
    envoyAlsPort: () => listeners.envoyAls,
    url: () => {
      const address = app.server.address();
      if (!address || typeof address === 'string') return String(address);
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      return `${https ? 'https' : 'http'}://${host}:${address.port}`;
    },
  };
}
