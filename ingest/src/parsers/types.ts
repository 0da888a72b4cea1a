import type { ApiEvent, Result } from '@apiwatch/core';
import type { IdentityContext } from '../identity/context.ts';

/** One input record as framed by a source: a text line, or a parsed JSON value with its text. */
export interface RawRecord {
  text: string;
  json?: unknown;
}

export interface ParseContext {
  /** Turns raw credentials into fingerprints and claims; the only way a parser sees a secret. */
  identity: IdentityContext;
  /** Gateway name to stamp on events, when the source knows it. */
  gateway: string | null;
  /** Wall-clock now (ms), used as ingest time. */
  now: number;
  /**
   * State a parser keeps across the records of one stream (an Envoy ALS gRPC stream names its
   * proxy only in its first message). Absent: every record stands alone.
   */
  stream?: Record<string, unknown>;
  /**
   * Largest gzip payload a parser may inflate synchronously inside a record (CloudWatch
   * `awslogs.data`). Files: 32 MiB. Push endpoints pass 0: they inflate asynchronously, within a
   * per-request budget, before parsing, and never block the event loop on a bomb.
   */
  maxSyncInflateBytes?: number;
}

export const PARSE_ERROR_CODES = [
  'INGEST_PARSE_INVALID_JSON',
  'INGEST_PARSE_UNRECOGNISED',
  'INGEST_PARSE_TOO_DEEP',
  'INGEST_NOT_ACCESS_LOG',
  'INGEST_EVENT_INVALID',
] as const;

export type ParseErrorCode = (typeof PARSE_ERROR_CODES)[number];

export interface ParseError {
  code: ParseErrorCode;
  message: string;
}

/** One entry of a record that did not become an event (e.g. one span of an OTLP export). */
export interface EntryRejection {
  /** Position of the entry in its request or record (0 for a record that is one entry). */
  index: number;
  /** Where in the record it sat (`resourceSpans[0].scopeSpans[0].spans[3]`), when a record holds many. */
  where?: string;
  code: ParseErrorCode;
  reason: string;
  /** The entry's raw text, NOT yet redacted: the pipeline's redact stage does that. */
  raw: string;
}

/**
 * What one record holds when it holds many entries (an http-log batch, a Firehose delivery, an
 * OTLP export, an ALS message): the events, each entry that could not be read, and how many
 * entries were not API calls at all (internal spans, application logs, TCP entries).
 */
export interface ParseBatch {
  events: ApiEvent[];
  /** The raw text of each event's entry (same order as `events`); the route stage reads query ids from it. */
  texts?: ReadonlyArray<string | undefined>;
  rejected: EntryRejection[];
  skipped: number;
}

/** A gateway format: a pure function from one record to zero or more canonical events. */
export interface Parser {
  /** Format id: the `--format` value, the file name, the metric label. */
  readonly id: string;
  readonly title: string;
  /** Whether records are JSON documents (framed as NDJSON/array/object) or text lines. */
  readonly framing: 'json' | 'text' | 'auto';
  /** One record → its events, or the one reason none could be read. */
  parse(record: RawRecord, ctx: ParseContext): Result<ApiEvent[], ParseError>;
  /**
   * One record that holds many entries → every event and every rejected entry. Formats whose
   * records are one call each leave it out; the pipeline then wraps `parse`.
   */
  parseBatch?(record: RawRecord, ctx: ParseContext): ParseBatch;
}
