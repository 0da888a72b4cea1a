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
}

export const PARSE_ERROR_CODES = [
  'INGEST_PARSE_INVALID_JSON',
  'INGEST_PARSE_UNRECOGNISED',
  'INGEST_EVENT_INVALID',
] as const;

export interface ParseError {
  code: (typeof PARSE_ERROR_CODES)[number];
  message: string;
}

/** A gateway format: a pure function from one record to zero or more canonical events. */
export interface Parser {
  /** Format id: the `--format` value, the file name, the metric label. */
  readonly id: string;
  readonly title: string;
  /** Whether records are JSON documents (framed as NDJSON/array/object) or text lines. */
  readonly framing: 'json' | 'text' | 'auto';
  parse(record: RawRecord, ctx: ParseContext): Result<ApiEvent[], ParseError>;
}
