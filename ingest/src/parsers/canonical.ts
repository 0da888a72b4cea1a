import { type ApiEvent, apiEventValidator, err, ok, type Result } from '@apiwatch/core';
import type { ParseContext, ParseError, Parser, RawRecord } from './types.ts';

/** Events already in apiwatch's canonical shape (docs/schemas/api-event.schema.json). */
export const canonicalParser: Parser = {
  id: 'canonical',
  title: 'apiwatch canonical events (JSON)',
  framing: 'json',
  parse(record: RawRecord, _ctx: ParseContext): Result<ApiEvent[], ParseError> {
    let value = record.json;
    if (value === undefined) {
      try {
        value = JSON.parse(record.text);
      } catch (e) {
        return err({ code: 'INGEST_PARSE_INVALID_JSON', message: (e as Error).message });
      }
    }
    if (!apiEventValidator.check(value)) {
      return err({ code: 'INGEST_EVENT_INVALID', message: apiEventValidator.explain(value) });
    }
    return ok([value]);
  },
};
