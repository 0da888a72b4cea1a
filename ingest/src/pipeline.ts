import { type ApiEvent, apiEventValidator, type Result, redactSecrets } from '@apiwatch/core';
import type { IdentityContext } from './identity/context.ts';
import { batchResult, refusedBatch } from './parsers/batch.ts';
import { hostWithoutUserinfo } from './parsers/fields.ts';
import { isStackOverflow, tooDeepError } from './parsers/json.ts';
import type { EntryRejection, ParseBatch, ParseError, Parser, RawRecord } from './parsers/types.ts';
import { joinedRecord, serverLogKind, unwrapRecord } from './parsers/wrappers.ts';
import type { RouteTemplater } from './routes/templater.ts';

/**
 * The one ingest pipeline (docs/ingest.md): every entry point — `apiwatch parse | replay |
 * collect`, `POST /v1/events`, Kong http-log, Firehose, OTLP/HTTP and Envoy ALS — turns a record
 * into events through these stages and nothing else:
 *
 *   parse     the format's parser (`parseBatch` for records that hold many entries)
 *   identity  inside the parser, through `ParseContext.identity` (the fingerprint key and the
 *             identity rules of this source); no secret leaves this stage
 *   routes    the route stage (`ingest.specs`, then inference): route template, object ids, and
 *             the spec annotation (`event.spec`)
 *   redact    every rejected entry's raw text and reason, before it is returned to anyone
 *   validate  the canonical schema; an event that fails it becomes a rejection
 *
 * So the same record gives the same events whichever way it arrives (test: pipeline.test.ts).
 * Sources only frame bytes into records and publish what comes out.
 */
export interface PipelineOptions {
  parser: Parser;
  /** The identity context of this source (`IdentityContext.forSource(parser.id)`). */
  identity: IdentityContext;
  /** The route stage; null leaves routes as the parser gave them (tests, `--no-routes`). */
  routes: RouteTemplater | null;
  /** Gateway name stamped on events when the source knows it. */
  gateway?: string | null;
  /** `ParseContext.maxSyncInflateBytes`: push sources pass 0 (they inflate asynchronously first). */
  maxSyncInflateBytes?: number;
}

export interface RunOptions {
  /** Ingest time (ms); default Date.now(). */
  now?: number;
  gateway?: string | null;
  /** Per-stream parser state (`ParseContext.stream`). */
  stream?: Record<string, unknown>;
}

/** What one record gave: events that passed every stage, and each entry that did not (redacted). */
export interface PipelineResult {
  events: ApiEvent[];
  rejected: EntryRejection[];
  /** Entries that are not API calls (internal spans, application logs, TCP entries). */
  skipped: number;
}

export interface IngestPipeline {
  readonly parser: Parser;
  readonly routes: RouteTemplater | null;
  run(record: RawRecord, options?: RunOptions): PipelineResult;
}

/** Longest line joined from partial container lines (CRI `P`, Docker 16 KiB pieces). */
const MAX_JOINED_CHARS = 1 << 20;

/** Longest raw text kept for a rejected entry (the DLQ row). */
export const MAX_REJECTED_RAW_CHARS = 16_384;
const MAX_REASON_CHARS = 2048;

export function createIngestPipeline(opts: PipelineOptions): IngestPipeline {
  const { parser, identity, routes } = opts;
  const defaultGateway = opts.gateway ?? null;
  /** Partial container lines waiting for their end, by wrapper and stream. */
  const pending = new Map<string, string>();
  return {
    parser,
    routes,
    run(given, options = {}) {
      // unwrap: syslog, CRI and Docker json-file wrappers, per line; partial lines joined per stream.
      const unwrapped = unwrapRecord(given);
      let record = unwrapped.record;
      if (unwrapped.wrapper === 'cri' || unwrapped.wrapper === 'docker') {
        const key = `${unwrapped.wrapper}:${unwrapped.stream ?? ''}`;
        const before = pending.get(key);
        if (unwrapped.partial) {
          const joined = (before ?? '') + unwrapped.line;
          // A line that never ends is cut at the longest line a reader keeps.
          pending.set(key, joined.length > MAX_JOINED_CHARS ? joined.slice(0, MAX_JOINED_CHARS) : joined);
          return { events: [], rejected: [], skipped: 0 };
        }
        if (before !== undefined) {
          pending.delete(key);
          record = joinedRecord(`${before}${unwrapped.line}`);
        }
      }
      const ctx = {
        identity,
        gateway: options.gateway ?? defaultGateway ?? unwrapped.host ?? null,
        now: options.now ?? Date.now(),
        ...(options.stream ? { stream: options.stream } : {}),
        ...(opts.maxSyncInflateBytes !== undefined ? { maxSyncInflateBytes: opts.maxSyncInflateBytes } : {}),
      };
      // parse (+ identity)
      let batch: ParseBatch;
      try {
        batch = parser.parseBatch ? parser.parseBatch(record, ctx) : single(parser, record, ctx);
      } catch (e) {
        // A caller that parsed JSON itself (no depth bound) handed over a hostile nesting.
        if (!isStackOverflow(e)) throw e;
        batch = refusedBatch(
          tooDeepError(`${parser.id} record`),
          record.text.slice(0, MAX_REJECTED_RAW_CHARS),
        );
      }
      // A refused line that is a server's own log (an error log mixed into the access log) says so.
      if (batch.events.length === 0 && batch.rejected.length === 1 && batch.rejected[0]!.index === 0) {
        const kind = serverLogKind(record);
        if (kind)
          batch.rejected[0] = {
            ...batch.rejected[0]!,
            code: 'INGEST_NOT_ACCESS_LOG',
            reason: `not an access log: ${kind}`,
          };
      }
      const rejected = batch.rejected.map(redactRejection);
      const events: ApiEvent[] = [];
      batch.events.forEach((event, i) => {
        // No userinfo anywhere: a host a client sent as `user:pw@host` keeps only the host.
        if (event.request.host?.includes('@')) event.request.host = hostWithoutUserinfo(event.request.host);
        // routes
        if (routes) {
          const text = parser.parseBatch ? batch.texts?.[i] : record.text;
          routes.applyRoutes(event, text === undefined ? {} : { recordText: text });
        }
        // validate
        if (!apiEventValidator.check(event)) {
          rejected.push(
            redactRejection({
              index: i,
              code: 'INGEST_EVENT_INVALID',
              reason: apiEventValidator.explain(event),
              raw: JSON.stringify(event),
            }),
          );
          return;
        }
        events.push(event);
      });
      return { events, rejected, skipped: batch.skipped };
    },
  };
}

function single(parser: Parser, record: RawRecord, ctx: Parameters<Parser['parse']>[1]): ParseBatch {
  const result = parser.parse(record, ctx);
  return result.ok
    ? { events: result.value, rejected: [], skipped: 0 }
    : refusedBatch(result.error, record.text);
}

/** The redact stage: what a rejected entry keeps (raw text and reason) holds no secret. */
export function redactRejection(r: EntryRejection): EntryRejection {
  return {
    ...r,
    reason: redactSecrets(r.reason).slice(0, MAX_REASON_CHARS),
    raw: redactSecrets(r.raw).slice(0, MAX_REJECTED_RAW_CHARS),
  };
}

/** A pipeline result as one record's Result, for readers that report per record (the CLI). */
export function asRecordResult(result: PipelineResult): Result<ApiEvent[], ParseError> {
  return batchResult(result);
}
