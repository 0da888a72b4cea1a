import { randomBytes } from 'node:crypto';
import { gunzipSync, inflateSync } from 'node:zlib';
import {
  type ApiEvent,
  actorKey,
  apiEventValidator,
  type Bus,
  type BusMessage,
  type DlqRecord,
  type Logger,
} from '@apiwatch/core';
import type { FastifyInstance } from 'fastify';
import { createIdentityContext, type IdentityContext } from '../identity/context.ts';
import { redactSecrets } from '../identity/redact.ts';
import type { CollectorCredential } from '../server/auth.ts';
import { CollectorRateLimitedError, type CollectorRateLimiter } from '../server/rate-limit.ts';

/**
 * What the gateway push endpoints (Kong http-log, Firehose, OTLP/HTTP, Envoy ALS) share with
 * `createIngestServer`: they are registered with its options, so each needs one line there.
 */
export interface PushSourceOptions {
  maxBodyBytes: number;
  maxRecordsPerRequest: number;
  collectors: readonly CollectorCredential[];
  bus: Bus;
  log: Logger;
  /** The fingerprint key and identity rules; each source uses `forSource(<format id>)`. */
  identity?: IdentityContext;
  /** Server counters (`/metrics`), incremented in place when given. */
  counters?: { accepted: number; rejected: number; throttled: number; unauthenticated: number };
  /** Per-collector limit (`ingest.rateLimit`); over it, publishParsed throws a 429 error. */
  rateLimiter?: CollectorRateLimiter;
  /** Envoy ALS gRPC listener (`ingest.envoyAls`); off unless enabled. */
  envoyAls?: { enabled: boolean; host: string; port: number };
}

let ephemeral: IdentityContext | null = null;

/**
 * The identity context for one source. Without a configured key (a caller that did not pass
 * `identity`), a random per-process key still keeps secrets out of events, but fingerprints then
 * change at restart, so this is logged once.
 */
export function sourceIdentity(opts: PushSourceOptions, source: string): IdentityContext {
  if (opts.identity) return opts.identity.forSource(source);
  if (!ephemeral) {
    opts.log.warn(
      {},
      'ingest push endpoints have no fingerprint key configured; using a per-process key, so credential fingerprints change at restart.',
    );
    ephemeral = createIdentityContext(randomBytes(32), 'ephemeral');
  }
  return ephemeral.forSource(source);
}

/** One record that did not become an event: reported to the sender and kept, redacted, in the DLQ. */
export interface PushRejection {
  index: number;
  code: string;
  reason: string;
  /** Raw text; redacted here before it goes anywhere. */
  raw: string;
}

/**
 * Stamps, validates and publishes events (keyed by actor) and dead-letters rejections (keyed by
 * collector). Events that fail the canonical schema (e.g. an over-long path) are rejected too.
 */
export async function publishParsed(
  opts: PushSourceOptions,
  source: string,
  collector: string,
  now: number,
  events: ApiEvent[],
  rejections: PushRejection[],
): Promise<{ accepted: number; rejected: PushRejection[] }> {
  const wait = opts.rateLimiter?.take(collector, events.length) ?? 0;
  if (wait > 0) {
    if (opts.counters) opts.counters.throttled++;
    throw new CollectorRateLimitedError(collector, wait);
  }
  const valid: BusMessage<ApiEvent>[] = [];
  const rejected = [...rejections];
  for (const e of events) {
    e.ingestTs = now;
    e.source.collector = collector;
    if (!apiEventValidator.check(e)) {
      rejected.push({
        index: -1,
        code: 'INGEST_EVENT_INVALID',
        reason: apiEventValidator.explain(e),
        raw: JSON.stringify(e),
      });
      continue;
    }
    valid.push({ key: actorKey(e), value: e });
  }
  const dlq: BusMessage<DlqRecord>[] = rejected.map((r) => ({
    key: collector,
    value: {
      ts: now,
      source,
      collector,
      code: r.code,
      reason: redactSecrets(r.reason).slice(0, 2048),
      raw: redactSecrets(r.raw).slice(0, 16_384),
    },
  }));
  if (valid.length > 0) await opts.bus.publish('events', valid);
  if (dlq.length > 0) await opts.bus.publish('dlq', dlq);
  if (opts.counters) {
    opts.counters.accepted += valid.length;
    opts.counters.rejected += rejected.length;
  }
  return { accepted: valid.length, rejected };
}

/**
 * Accepts every request body of an encapsulated plugin as a Buffer (each route checks the media
 * type itself and answers in its protocol's error format), within the body limit.
 */
export function rawBodies(app: FastifyInstance, maxBodyBytes: number): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxBodyBytes }, (_req, body, done) =>
    done(null, body),
  );
}

/** The media type of a request without parameters, lower-cased. */
export function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * Undoes `Content-Encoding: gzip|deflate` (the OTel Collector and Firehose compress by default or
 * on request), refusing to inflate past `max` bytes.
 */
export function decodeBody(
  body: unknown,
  encoding: string | undefined,
  max: number,
): { ok: true; bytes: Buffer } | { ok: false; status: 413 | 415 | 400; message: string } {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.alloc(0);
  const enc = (encoding ?? 'identity').trim().toLowerCase();
  if (enc === 'identity' || enc === '') return { ok: true, bytes };
  if (enc !== 'gzip' && enc !== 'deflate' && enc !== 'x-gzip') {
    return { ok: false, status: 415, message: `Content-Encoding ${enc} is not supported; use gzip or none` };
  }
  try {
    const out =
      enc === 'deflate'
        ? inflateSync(bytes, { maxOutputLength: max })
        : gunzipSync(bytes, { maxOutputLength: max });
    return { ok: true, bytes: out };
  } catch (e) {
    const tooLarge =
      (e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' ||
      /larger than|maxOutputLength/i.test((e as Error).message);
    return tooLarge
      ? {
          ok: false,
          status: 413,
          message: `decompressed body larger than ${max} bytes; send smaller batches`,
        }
      : { ok: false, status: 400, message: `body could not be decompressed: ${(e as Error).message}` };
  }
}
