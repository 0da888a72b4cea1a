import { type ApiEvent, apiEventValidator, err, ok, type Result } from '@apiwatch/core';
import { recordJson } from './json.ts';
import type { ParseContext, ParseError, Parser, RawRecord } from './types.ts';

/** Events already in apiwatch's canonical shape (docs/schemas/api-event.schema.json). */
export const canonicalParser: Parser = {
  id: 'canonical',
  title: 'apiwatch canonical events (JSON)',
  framing: 'json',
  parse(record: RawRecord, _ctx: ParseContext): Result<ApiEvent[], ParseError> {
    const parsed = recordJson(record, 'canonical event');
    if (!parsed.ok) return parsed;
    const value = parsed.value;
    if (!apiEventValidator.check(value)) {
      return err({ code: 'INGEST_EVENT_INVALID', message: apiEventValidator.explain(value) });
    }
    return ok([value]);
  },
};
