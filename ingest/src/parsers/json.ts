import { err, ok, type Result } from '@apiwatch/core';
import type { ParseError, RawRecord } from './types.ts';

/**
 * The one JSON preamble every JSON reader uses (parsers, `readRecords`, the push framer): parse,
 * bound the nesting depth, and say what went wrong without quoting the input.
 *
 * Depth: V8's JSON.parse is iterative, but JSON.stringify, structuredClone, the OTLP attribute
 * flattening and the redactors recurse, so a 100k-deep document overflowed the stack (HTTP 500).
 * No access-log format nests past ~12 levels (OTLP kvlist attributes are the deepest); 64 leaves
 * room and stops a hostile document before anything recurses over it.
 */
export const MAX_JSON_DEPTH = 64;

/** Whether `value` nests arrays/objects deeper than `max` levels (the walk stops at `max`). */
export function jsonTooDeep(value: unknown, max: number = MAX_JSON_DEPTH): boolean {
  return typeof value === 'object' && value !== null && deeper(value as object, max);
}

function deeper(value: object, left: number): boolean {
  if (left <= 0) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      if (typeof v === 'object' && v !== null && deeper(v, left - 1)) return true;
    }
    return false;
  }
  for (const k in value) {
    const v: unknown = (value as Record<string, unknown>)[k];
    if (typeof v === 'object' && v !== null && deeper(v, left - 1)) return true;
  }
  return false;
}

export function tooDeepError(what: string): ParseError {
  return {
    code: 'INGEST_PARSE_TOO_DEEP',
    message: `${what} nests deeper than ${MAX_JSON_DEPTH} levels; no access-log format does`,
  };
}

/**
 * V8's JSON.parse messages quote the input around the error, which may be part of a secret:
 * keep only the kind of error and its position.
 */
export function jsonErrorReason(e: unknown): string {
  const message = (e as Error)?.message ?? '';
  const position = /position (\d+)/.exec(message)?.[1];
  const kind = /Unexpected end|Unterminated/.test(message) ? 'unexpected end of input' : 'invalid JSON';
  return position ? `${kind} at position ${position}` : kind;
}

/** JSON text → value, refused when invalid or nested past MAX_JSON_DEPTH. `what` names it in errors. */
export function parseJson(text: string, what = 'record'): Result<unknown, ParseError> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return err({ code: 'INGEST_PARSE_INVALID_JSON', message: `${what}: ${jsonErrorReason(e)}` });
  }
  if (typeof value === 'object' && value !== null && deeper(value, MAX_JSON_DEPTH))
    return err(tooDeepError(what));
  return ok(value);
}

/**
 * A JSON format's record as a value: what the framer already parsed (and bounded), or the text
 * parsed here. `format` names the format in errors (`kong record: invalid JSON at position 3`).
 */
export function recordJson(record: RawRecord, format: string): Result<unknown, ParseError> {
  if (record.json !== undefined) return ok(record.json);
  return parseJson(record.text, `${format} record`);
}

/** A decoder that recursed past the stack (protobufjs on a hostile nesting), not bad input otherwise. */
export function isStackOverflow(e: unknown): boolean {
  return e instanceof RangeError && /call stack/i.test(e.message);
}
