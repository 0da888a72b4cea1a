import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzip, inflate, zstdDecompress } from 'node:zlib';
import {
  type ApiEvent,
  actorKey,
  apiwatchError,
  type Bus,
  type BusMessage,
  type DlqRecord,
  type ErrorCode,
  endSpan,
  type Logger,
  redactSecrets,
  tracing,
} from '@apiwatch/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createIdentityContext, type IdentityContext } from '../identity/context.ts';
import { parseJson } from '../parsers/json.ts';
import type { EntryRejection, Parser, RawRecord } from '../parsers/types.ts';
import { createIngestPipeline, type IngestPipeline, type PipelineResult } from '../pipeline.ts';
import type { RouteTemplater } from '../routes/templater.ts';
import { authenticateCollector, type CollectorCredential } from '../server/auth.ts';
import type { CollectorRateLimiter } from '../server/rate-limit.ts';

/**
 * What every push endpoint shares (docs/ingest.md): `POST /v1/events`, `/v1/dlq`, Kong
 * http-log, Firehose, OTLP/HTTP and Envoy ALS each only frame their protocol into records, run
 * them through the ingest pipeline and answer in their protocol's shape. Admission (auth,
 * backpressure, media type, decoding), the JSON framer, the rejection type (EntryRejection), the
 * dead-letter constructor and publishing live here, once.
 */
export interface PushSourceOptions {
  maxBodyBytes: number;
  /**
   * Most bytes one request may decode to, across every decompression it asks for
   * (Content-Encoding and gzip record data inside it, e.g. Firehose). Default: maxBodyBytes.
   */
  maxInflatedBytes?: number;
  maxRecordsPerRequest: number;
  collectors: readonly CollectorCredential[];
  bus: Bus;
  log: Logger;
  /** The fingerprint key and identity rules; each source uses `forSource(<format id>)`. */
  identity?: IdentityContext;
  /** The route stage (`ingest.specs`, `ingest.inferRoutes`); without it events keep the parser's route. */
  routes?: RouteTemplater | null;
  /** Server counters (`/metrics`), incremented in place when given. */
  counters?: { accepted: number; rejected: number; throttled: number; unauthenticated: number };
  /** Per-collector limit (`ingest.rateLimit`). */
  rateLimiter?: CollectorRateLimiter;
  /** Envoy ALS gRPC listener (`ingest.envoyAls`); off unless enabled. */
  envoyAls?: { enabled: boolean; host: string; port: number };
  /** Filled in by listeners the sources open besides HTTP (the ALS gRPC port, when port 0 was asked). */
  listeners?: { envoyAls: number | null };
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

/** The ingest pipeline of one push source: its parser, its identity rules, the shared route stage. */
export function sourcePipeline(opts: PushSourceOptions, parser: Parser): IngestPipeline {
  return createIngestPipeline({
    parser,
    identity: sourceIdentity(opts, parser.id),
    routes: opts.routes ?? null,
    // Push requests are inflated asynchronously, within one budget, before parsing.
    maxSyncInflateBytes: 0,
  });
}

export function inflatedLimit(opts: PushSourceOptions): number {
  return opts.maxInflatedBytes ?? opts.maxBodyBytes;
}

/** Why a request (not one record) is refused; each protocol renders it in its own answer shape. */
export interface Refusal {
  status: 400 | 401 | 413 | 415 | 429 | 503;
  code: ErrorCode;
  message: string;
  /** Seconds, for 429/503. */
  retryAfterSeconds?: number;
}

export function refusal(
  status: Refusal['status'],
  code: ErrorCode,
  message: string,
  retryAfterSeconds?: number,
): Refusal {
  return { status, code, message, ...(retryAfterSeconds ? { retryAfterSeconds } : {}) };
}

export interface AdmitSpec {
  /** The credential: the Authorization header by default; Firehose sends its access key apart. */
  authorization?: (req: FastifyRequest) => string | undefined;
  /** What to tell a sender without a valid token (names its own setting). */
  authHint: string;
  /** Media types accepted (lower case, no parameters); empty type is accepted when allowEmptyType. */
  mediaTypes: readonly string[];
  allowEmptyType?: boolean;
  /** Answer 429 while the bus is saturated (every endpoint but ALS, which pauses instead). */
  backpressure?: boolean;
}

/**
 * The one pre-handler: authentication (401), backpressure (429), media type (415), then the body
 * decoded (Content-Encoding gzip/deflate/zstd, off the event loop, bounded: 413).
 */
export async function admit(
  opts: PushSourceOptions,
  req: FastifyRequest,
  spec: AdmitSpec,
): Promise<{ ok: true; collector: string; body: Buffer } | { ok: false; refusal: Refusal }> {
  const header = spec.authorization ? spec.authorization(req) : req.headers.authorization;
  const collector = authenticateCollector(header, opts.collectors);
  if (!collector) {
    if (opts.counters) opts.counters.unauthenticated++;
    return { ok: false, refusal: refusal(401, 'INGEST_UNAUTHENTICATED', spec.authHint) };
  }
  if (spec.backpressure !== false && opts.bus.saturated()) {
    if (opts.counters) opts.counters.throttled++;
    return {
      ok: false,
      refusal: refusal(429, 'INGEST_BACKPRESSURE', 'the pipeline is saturated; retry after 1 s', 1),
    };
  }
  const type = mediaType(req.headers['content-type']);
  if (!(spec.mediaTypes.includes(type) || (type === '' && spec.allowEmptyType))) {
    return {
      ok: false,
      refusal: refusal(415, 'INGEST_UNSUPPORTED_MEDIA_TYPE', `send one of ${spec.mediaTypes.join(', ')}`),
    };
  }
  const decoded = await decodeBody(
    req.body,
    req.headers['content-encoding'] as string | undefined,
    inflatedLimit(opts),
  );
  if (!decoded.ok) return decoded;
  return { ok: true, collector, body: decoded.bytes };
}

const gunzipAsync = promisify(gunzip);
const inflateAsync = promisify(inflate);
const zstdAsync = promisify(zstdDecompress);

/**
 * Undoes `Content-Encoding: gzip | deflate | zstd` (the OTel Collector, Firehose, Vector and
 * Fluent Bit compress by default or on request) on the zlib thread pool, never past `max` bytes.
 */
export async function decodeBody(
  body: unknown,
  encoding: string | undefined,
  max: number,
): Promise<{ ok: true; bytes: Buffer } | { ok: false; refusal: Refusal }> {
  const bytes = Buffer.isBuffer(body) ? body : typeof body === 'string' ? Buffer.from(body) : Buffer.alloc(0);
  const enc = (encoding ?? 'identity').trim().toLowerCase();
  if (enc === 'identity' || enc === '') return { ok: true, bytes };
  if (!['gzip', 'x-gzip', 'deflate', 'zstd'].includes(enc)) {
    return {
      ok: false,
      refusal: refusal(
        415,
        'INGEST_UNSUPPORTED_MEDIA_TYPE',
        `Content-Encoding ${enc.slice(0, 32)} is not supported; use gzip, deflate, zstd or none`,
      ),
    };
  }
  const inflated = await inflateBounded(
    bytes,
    enc === 'deflate' ? 'deflate' : enc === 'zstd' ? 'zstd' : 'gzip',
    max,
  );
  if (inflated.ok) return inflated;
  return {
    ok: false,
    refusal:
      inflated.reason === 'too-large'
        ? refusal(
            413,
            'INGEST_BODY_TOO_LARGE',
            `decompressed body larger than ${max} bytes; send smaller batches`,
          )
        : refusal(400, 'INGEST_PARSE_INVALID_JSON', `body could not be decompressed (${enc})`),
  };
}

/** Asynchronous, output-bounded decompression. */
export async function inflateBounded(
  bytes: Buffer,
  kind: 'gzip' | 'deflate' | 'zstd',
  max: number,
): Promise<{ ok: true; bytes: Buffer } | { ok: false; reason: 'too-large' | 'corrupt' }> {
  try {
    const options = { maxOutputLength: Math.max(1, max) };
    const out =
      kind === 'deflate'
        ? await inflateAsync(bytes, options)
        : kind === 'zstd'
          ? await zstdAsync(bytes, options)
          : await gunzipAsync(bytes, options);
    return { ok: true, bytes: out };
  } catch (e) {
    const tooLarge =
      (e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' ||
      /larger than|maxOutputLength/i.test((e as Error).message);
    return { ok: false, reason: tooLarge ? 'too-large' : 'corrupt' };
  }
}

/** A framed record, or why that part of the body is not one (secret-safe text). */
export type FramedRecord = RawRecord & { error?: { code: EntryRejection['code']; message: string } };

/**
 * The one JSON framer of push bodies: a JSON array, one object (also pretty-printed over many
 * lines), or NDJSON where a bad line spoils only itself. Errors never quote the input.
 */
export function frameJson(body: string): { records: FramedRecord[] } | { error: Refusal } {
  const trimmed = body.trim();
  if (trimmed.length === 0) return { records: [] };
  const whole = trimmed.startsWith('[') || !trimmed.includes('\n') ? parseJson(trimmed, 'body') : null;
  if (whole?.ok) {
    if (Array.isArray(whole.value))
      return { records: whole.value.map((value) => ({ text: JSON.stringify(value), json: value })) };
    return { records: [{ text: trimmed, json: whole.value }] };
  }
  if (whole && (trimmed.startsWith('[') || whole.error.code === 'INGEST_PARSE_TOO_DEEP')) {
    return { error: refusal(400, whole.error.code, `the body is not JSON: ${whole.error.message}`) };
  }
  const records: FramedRecord[] = [];
  for (const line of trimmed.split('\n')) {
    if (line.trim().length === 0) continue;
    const parsed = parseJson(line, 'line');
    records.push(parsed.ok ? { text: line, json: parsed.value } : { text: line, error: parsed.error });
  }
  // A pretty-printed single object spans lines: accept it whole when the lines alone fail.
  if (records.length > 1 && records.every((r) => r.error) && trimmed.startsWith('{')) {
    const parsed = parseJson(trimmed, 'body');
    if (parsed.ok) return { records: [{ text: trimmed, json: parsed.value }] };
    if (parsed.error.code === 'INGEST_PARSE_TOO_DEEP')
      return { error: refusal(400, parsed.error.code, `the body is not JSON: ${parsed.error.message}`) };
  }
  if (records.length === 1 && records[0]!.error) {
    const e = records[0]!.error;
    return { error: refusal(400, e.code, `the body is not JSON: ${e.message}`) };
  }
  return { records };
}

/**
 * Admission and framing of a JSON push body (/v1/events, /v1/dlq, Kong http-log): `admit`,
 * then frameJson, then the record limit (413 naming the sender's own batch setting).
 */
export async function admitJsonRecords(
  opts: PushSourceOptions,
  req: FastifyRequest,
  spec: AdmitSpec & { batchHint: string },
): Promise<{ ok: true; collector: string; records: FramedRecord[] } | { ok: false; refusal: Refusal }> {
  const admitted = await admit(opts, req, spec);
  if (!admitted.ok) return admitted;
  const framed = frameJson(admitted.body.toString('utf8'));
  if ('error' in framed) return { ok: false, refusal: framed.error };
  if (framed.records.length > opts.maxRecordsPerRequest) {
    return {
      ok: false,
      refusal: refusal(
        413,
        'INGEST_BODY_TOO_LARGE',
        `more than ${opts.maxRecordsPerRequest} records; ${spec.batchHint}`,
      ),
    };
  }
  return { ok: true, collector: admitted.collector, records: framed.records };
}

/** Runs framed records through a pipeline, numbering rejections by record. */
export function runRecords(
  pipeline: IngestPipeline,
  records: readonly FramedRecord[],
  now: number,
): PipelineResult {
  const out: PipelineResult = { events: [], rejected: [], skipped: 0 };
  records.forEach((record, index) => {
    if (record.error) {
      out.rejected.push({
        index,
        code: record.error.code,
        reason: record.error.message,
        raw: redactSecrets(record.text),
      });
      return;
    }
    const r = pipeline.run(record, { now });
    out.events.push(...r.events);
    for (const x of r.rejected) out.rejected.push({ ...x, index: records.length > 1 ? index : x.index });
    out.skipped += r.skipped;
  });
  return out;
}

/** The one dead-letter constructor: what the DLQ keeps of a rejected entry, redacted (again). */
export function deadLetters(
  source: string,
  collector: string | null,
  now: number,
  rejected: readonly Pick<EntryRejection, 'code' | 'reason' | 'raw' | 'where'>[],
): BusMessage<DlqRecord>[] {
  return rejected.map((r) => ({
    key: collector ?? source,
    value: {
      ts: now,
      source: source.slice(0, 64),
      collector,
      code: r.code.slice(0, 64),
      reason: redactSecrets(r.where ? `${r.where}: ${r.reason}` : r.reason).slice(0, 2048),
      raw: redactSecrets(r.raw).slice(0, 16_384),
    },
  }));
}

/** The per-collector limit (`ingest.rateLimit`): a 429 refusal when `n` more records are over it. */
export function rateLimit(opts: PushSourceOptions, collector: string, n: number): Refusal | null {
  const wait = opts.rateLimiter?.take(collector, n) ?? 0;
  if (wait <= 0) return null;
  if (opts.counters) opts.counters.throttled++;
  return refusal(
    429,
    'INGEST_BACKPRESSURE',
    `collector ${collector} is over ingest.rateLimit; retry after ${wait} s`,
    wait,
  );
}

/**
 * Rate-limits (429 refusal), stamps (ingest time, collector) and publishes the events keyed by
 * actor, and dead-letters the rejections keyed by collector.
 */
export async function publishResult(
  opts: PushSourceOptions,
  source: string,
  collector: string,
  now: number,
  result: { events: ApiEvent[]; rejected: EntryRejection[] },
): Promise<{ ok: true; accepted: number; rejected: EntryRejection[] } | { ok: false; refusal: Refusal }> {
  const limited = rateLimit(opts, collector, result.events.length);
  if (limited) return { ok: false, refusal: limited };
  // One span per published batch, from the request's admission (parse included) to the bus's
  // ack; a sampled batch's events all carry its context (one shared headers object).
  const { span, headers } =
    result.events.length > 0
      ? tracing.startBatch(
          `ingest ${source}`,
          {
            'messaging.system': opts.bus.kind === 'kafka' ? 'kafka' : 'apiwatch_memory',
            'messaging.operation.type': 'send',
            'messaging.destination.name': 'events',
            'messaging.batch.message_count': result.events.length,
            'apiwatch.ingest.source': source,
            'apiwatch.ingest.rejected': result.rejected.length,
          },
          { startTime: now },
        )
      : { span: null, headers: null };
  const valid: BusMessage<ApiEvent>[] = result.events.map((e) => {
    e.ingestTs = now;
    e.source.collector = collector;
    return headers ? { key: actorKey(e), value: e, headers } : { key: actorKey(e), value: e };
  });
  const dlq = deadLetters(source, collector, now, result.rejected);
  try {
    if (valid.length > 0) await opts.bus.publish('events', valid);
  } catch (e) {
    endSpan(span, e);
    throw e;
  }
  endSpan(span);
  if (dlq.length > 0) await opts.bus.publish('dlq', dlq);
  if (opts.counters) {
    opts.counters.accepted += valid.length;
    opts.counters.rejected += result.rejected.length;
  }
  return { ok: true, accepted: valid.length, rejected: result.rejected };
}

/** What a sender is told about a rejected entry (no raw text: it may hold what it sent us). */
export function rejectionSummary(r: EntryRejection): { index: number; code: string; reason: string } {
  return { index: r.index, code: r.code, reason: r.where ? `${r.where}: ${r.reason}` : r.reason };
}

/** The apiwatch JSON error answer (`{error: {code, message, retryable}}`) of a refusal. */
export function sendRefusal(reply: FastifyReply, r: Refusal): FastifyReply {
  if (r.retryAfterSeconds) reply.header('retry-after', String(r.retryAfterSeconds));
  if (r.status === 401) reply.header('www-authenticate', 'Bearer realm="apiwatch-ingest"');
  return reply.code(r.status).send({ error: apiwatchError(r.code, r.message) });
}

/**
 * Accepts every request body of an encapsulated plugin as a Buffer within the body limit (each
 * route checks the media type itself), and maps what Fastify refuses before a handler runs (body
 * too large, bad framing) to a Refusal rendered in the plugin's protocol. Anything else is a 500
 * that names no input.
 */
export function pushPlugin(
  app: FastifyInstance,
  opts: PushSourceOptions,
  what: string,
  render: (reply: FastifyReply, req: FastifyRequest, r: Refusal) => unknown,
  internal?: (reply: FastifyReply, req: FastifyRequest) => unknown,
): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: opts.maxBodyBytes }, (_req, body, done) =>
    done(null, body),
  );
  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, req, reply) => {
    if (error.statusCode === 413 || error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return render(
        reply,
        req,
        refusal(
          413,
          'INGEST_BODY_TOO_LARGE',
          `body larger than ${opts.maxBodyBytes} bytes; send smaller batches`,
        ),
      );
    }
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      return render(reply, req, refusal(400, 'INGEST_PARSE_INVALID_JSON', 'the request could not be read'));
    }
    opts.log.error({ err: error }, `${what} failed inside apiwatch.`);
    if (internal) return internal(reply, req);
    return reply
      .code(500)
      .send({ error: { code: 'INTERNAL', message: 'internal error; see apiwatch logs' } });
  });
}

/** The media type of a request without parameters, lower-cased. */
export function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}

export const JSON_MEDIA_TYPES = [
  'application/json',
  'application/x-ndjson',
  'application/ndjson',
  'application/jsonl',
] as const;
