import { type ApiEvent, err, ok, type Result } from '@apiwatch/core';
import { recordJson } from './json.ts';
import type { EntryRejection, ParseBatch, ParseContext, ParseError, Parser, RawRecord } from './types.ts';

/** A batch whose one record was refused as a whole (not JSON, too deep, not this format). */
export function refusedBatch(error: ParseError, raw: string): ParseBatch {
  return { events: [], rejected: [{ index: 0, code: error.code, reason: error.message, raw }], skipped: 0 };
}

/**
 * A batch as one record's Result (what `Parser.parse` returns): its events when any entry was
 * read or it held none, else the first rejection, counting the others.
 */
export function batchResult(batch: {
  events: ApiEvent[];
  rejected: readonly EntryRejection[];
}): Result<ApiEvent[], ParseError> {
  if (batch.events.length > 0 || batch.rejected.length === 0) return ok(batch.events);
  const first = batch.rejected[0]!;
  const more =
    batch.rejected.length > 1 ? ` (and ${batch.rejected.length - 1} more entries in this record)` : '';
  return err({ code: first.code, message: `${first.where ? `${first.where}: ` : ''}${first.reason}${more}` });
}

/**
 * A parser for a format whose records hold many entries: `parseBatch` is the parser, `parse` is
 * derived from it (batchResult), so the two can never disagree.
 */
export function batchParser(p: {
  id: string;
  title: string;
  framing: Parser['framing'];
  parseBatch(record: RawRecord, ctx: ParseContext): ParseBatch;
}): Parser {
  return {
    id: p.id,
    title: p.title,
    framing: p.framing,
    parseBatch: p.parseBatch,
    parse: (record, ctx) => batchResult(p.parseBatch(record, ctx)),
  };
}

/**
 * A JSON format whose records hold many entries: the JSON preamble (recordJson: the framer's
 * value or the text parsed and depth-bounded; a refusal names the format) runs here, once.
 */
export function jsonBatchParser(p: {
  id: string;
  title: string;
  parseValue(value: unknown, record: RawRecord, ctx: ParseContext): ParseBatch;
}): Parser {
  return batchParser({
    id: p.id,
    title: p.title,
    framing: 'json',
    parseBatch(record, ctx) {
      const value = recordJson(record, p.id);
      return value.ok ? p.parseValue(value.value, record, ctx) : refusedBatch(value.error, record.text);
    },
  });
}

/** A JSON format with one call per record: the same JSON preamble, then `parseValue`. */
export function jsonParser(p: {
  id: string;
  title: string;
  /** How errors name a record (`caddy access log record: invalid JSON …`). */
  what?: string;
  parseValue(value: unknown, record: RawRecord, ctx: ParseContext): Result<ApiEvent[], ParseError>;
}): Parser {
  return {
    id: p.id,
    title: p.title,
    framing: 'json',
    parse(record, ctx) {
      const value = recordJson(record, p.what ?? p.id);
      return value.ok ? p.parseValue(value.value, record, ctx) : value;
    },
  };
}
