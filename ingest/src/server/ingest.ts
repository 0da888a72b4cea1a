import { readFileSync } from 'node:fs';
import {
  type ApiEvent,
  actorKey,
  apiEventValidator,
  apiwatchError,
  type Bus,
  type BusMessage,
  type DlqRecord,
  type ErrorCode,
  type Logger,
  metrics,
} from '@apiwatch/core';
import Fastify, { type FastifyInstance } from 'fastify';
import type { IdentityContext } from '../identity/context.ts';
import { redactSecrets } from '../identity/redact.ts';
import { envoyAlsGrpcSource } from '../sources/envoy-als-grpc.ts';
import { firehoseSource } from '../sources/firehose.ts';
import { kongHttpLogSource } from '../sources/kong-http-log.ts';
import { otlpHttpSource } from '../sources/otlp-http.ts';
import { authenticateCollector, type CollectorCredential } from './auth.ts';
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
}

export interface RejectedRecord {
  index: number;
  code: ErrorCode;
  reason: string;
}

export interface IngestCounters {
  accepted: number;
  rejected: number;
  throttled: number;
  unauthenticated: number;
}

const MEDIA_TYPES = ['application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/json'];

/**
 * `POST /v1/events`: canonical events as NDJSON or a JSON array. Valid records are published and
 * invalid ones are reported one by one (and sent to the DLQ, redacted) in the same response.
 * Bad input never yields a 500; a saturated bus yields 429 with Retry-After.
 */
export async function createIngestServer(opts: IngestServerOptions): Promise<{
  app: FastifyInstance;
  counters: IngestCounters;
  url: () => string;
}> {
  const counters: IngestCounters = { accepted: 0, rejected: 0, throttled: 0, unauthenticated: 0 };
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
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    MEDIA_TYPES,
    { parseAs: 'string', bodyLimit: opts.maxBodyBytes },
    (_req, body, done) => done(null, body),
  );
  app.addContentTypeParser('*', (_req, _payload, done) => {
    const e = apiwatchError('INGEST_UNSUPPORTED_MEDIA_TYPE', `use one of ${MEDIA_TYPES.join(', ')}`);
    done(Object.assign(new Error(e.message), { statusCode: 415, apiwatch: e }), undefined);
  });

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
        return reply
          .code(status)
          .send({ error: error.apiwatch ?? { code: error.code ?? 'BAD_REQUEST', message: error.message } });
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

  // Records a collector could not parse, kept (redacted again here) on the DLQ with their reason.
  app.post('/v1/dlq', async (req, reply) => {
    const collector = authenticateCollector(req.headers.authorization, opts.collectors);
    if (!collector) {
      counters.unauthenticated++;
      return reply.code(401).send({
        error: apiwatchError('INGEST_UNAUTHENTICATED', 'send Authorization: Bearer <collector token>'),
      });
    }
    const { records, framingError } = frame(typeof req.body === 'string' ? req.body : '');
    if (framingError)
      return reply.code(400).send({ error: apiwatchError('INGEST_PARSE_INVALID_JSON', framingError) });
    const now = Date.now();
    const messages: BusMessage<DlqRecord>[] = [];
    for (const rec of records) {
      const r = (rec.value ?? {}) as Partial<DlqRecord>;
      messages.push({
        key: collector,
        value: {
          ts: typeof r.ts === 'number' ? r.ts : now,
          source: typeof r.source === 'string' ? r.source.slice(0, 64) : 'unknown',
          collector,
          code: typeof r.code === 'string' ? r.code.slice(0, 64) : 'INGEST_PARSE_UNRECOGNISED',
          reason: typeof r.reason === 'string' ? r.reason.slice(0, 1024) : 'reported by the collector',
          raw: redactSecrets(typeof r.raw === 'string' ? r.raw : rec.text).slice(0, 16_384),
        },
      });
    }
    await opts.bus.publish('dlq', messages);
    counters.rejected += messages.length;
    return reply.code(200).send({ accepted: messages.length });
  });

  app.post('/v1/events', async (req, reply) => {
    const collector = authenticateCollector(req.headers.authorization, opts.collectors);
    if (!collector) {
      counters.unauthenticated++;
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="apiwatch-ingest"')
        .send({
          error: apiwatchError('INGEST_UNAUTHENTICATED', 'send Authorization: Bearer <collector token>'),
        });
    }
    if (opts.bus.saturated()) {
      counters.throttled++;
      return reply
        .code(429)
        .header('retry-after', '1')
        .send({ error: apiwatchError('INGEST_BACKPRESSURE', 'the pipeline is saturated; retry after 1 s') });
    }
    const body = typeof req.body === 'string' ? req.body : '';
    const { records, framingError } = frame(body);
    if (framingError) {
      return reply.code(400).send({ error: apiwatchError('INGEST_PARSE_INVALID_JSON', framingError) });
    }
    if (records.length > opts.maxRecordsPerRequest) {
      return reply.code(413).send({
        error: apiwatchError(
          'INGEST_BODY_TOO_LARGE',
          `more than ${opts.maxRecordsPerRequest} records; send smaller batches`,
        ),
      });
    }
    const wait = limiter.take(collector, records.length);
    if (wait > 0) {
      counters.throttled++;
      return reply
        .code(429)
        .header('retry-after', String(wait))
        .send({
          error: apiwatchError(
            'INGEST_BACKPRESSURE',
            `collector ${collector} is over ingest.rateLimit; retry after ${wait} s`,
          ),
        });
    }
    const now = Date.now();
    const valid: BusMessage<ApiEvent>[] = [];
    const rejected: RejectedRecord[] = [];
    const dlq: BusMessage<DlqRecord>[] = [];
    for (const [index, rec] of records.entries()) {
      const failure = (code: ErrorCode, reason: string) => {
        rejected.push({ index, code, reason });
        dlq.push({
          key: collector,
          value: {
            ts: now,
            source: 'canonical',
            collector,
            code,
            reason,
            raw: redactSecrets(rec.text).slice(0, 16_384),
          },
        });
      };
      if (rec.error) {
        failure('INGEST_PARSE_INVALID_JSON', rec.error);
        continue;
      }
      const value = rec.value as ApiEvent;
      if (!apiEventValidator.check(value)) {
        failure('INGEST_EVENT_INVALID', apiEventValidator.explain(value));
        continue;
      }
      value.ingestTs = now;
      value.source.collector = collector;
      valid.push({ key: actorKey(value), value });
    }
    await opts.bus.publish('events', valid);
    if (dlq.length > 0) await opts.bus.publish('dlq', dlq);
    counters.accepted += valid.length;
    counters.rejected += rejected.length;
    const status = valid.length === 0 && rejected.length > 0 ? 400 : 200;
    return reply.code(status).send({ accepted: valid.length, rejected });
  });

  await app.register(kongHttpLogSource, { ...opts, counters, rateLimiter: limiter });
  await app.register(firehoseSource, { ...opts, counters, rateLimiter: limiter });
  await app.register(otlpHttpSource, { ...opts, counters, rateLimiter: limiter });
  // Envoy drops access logs it cannot deliver, so ALS is paused by backpressure, never refused.
  await app.register(envoyAlsGrpcSource, { ...opts, counters });
  await app.listen({ host: opts.host, port: opts.port });
  return {
    app,
    counters,
    url: () => {
      const address = app.server.address();
      if (!address || typeof address === 'string') return String(address);
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      return `${https ? 'https' : 'http'}://${host}:${address.port}`;
    },
  };
}

interface FramedRecord {
  text: string;
  value?: unknown;
  error?: string;
}

/** A JSON array, one JSON object, or NDJSON (one invalid line does not spoil the others). */
function frame(body: string): { records: FramedRecord[]; framingError?: string } {
  const trimmed = body.trim();
  if (trimmed.length === 0) return { records: [] };
  if (trimmed.startsWith('[')) {
    try {
      const arr: unknown = JSON.parse(trimmed);
      if (!Array.isArray(arr)) return { records: [], framingError: 'expected a JSON array' };
      return { records: arr.map((value) => ({ text: JSON.stringify(value), value })) };
    } catch (e) {
      return { records: [], framingError: `the body is not a valid JSON array: ${jsonErrorReason(e)}` };
    }
  }
  const records: FramedRecord[] = [];
  for (const line of trimmed.split('\n')) {
    if (line.trim().length === 0) continue;
    try {
      records.push({ text: line, value: JSON.parse(line) });
    } catch (e) {
      records.push({ text: line, error: jsonErrorReason(e) });
    }
  }
  // A pretty-printed single object spans lines: accept it whole when the lines alone fail.
  if (records.length > 1 && records.every((r) => r.error) && trimmed.startsWith('{')) {
    try {
      return { records: [{ text: trimmed, value: JSON.parse(trimmed) }] };
    } catch {
      // fall through: report line by line
    }
  }
  return { records };
}

/**
 * V8's JSON.parse messages quote the input around the error, which may be part of a secret:
 * keep only the kind of error and its position.
 */
function jsonErrorReason(e: unknown): string {
  const message = (e as Error).message ?? '';
  const position = /position (\d+)/.exec(message)?.[1];
  const kind = message.startsWith('Unexpected end') ? 'unexpected end of input' : 'invalid JSON';
  return position ? `${kind} at position ${position}` : kind;
}
