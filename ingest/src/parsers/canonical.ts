import { apiEventValidator, err, ok } from '@apiwatch/core';
import { jsonParser } from './batch.ts';
import type { Parser } from './types.ts';

/** Events already in apiwatch's canonical shape (docs/schemas/api-event.schema.json). */
export const canonicalParser: Parser = jsonParser({
  id: 'canonical',
  title: 'apiwatch canonical events (JSON)',
  what: 'canonical event',
  parseValue(value) {
    if (!apiEventValidator.check(value)) {
      return err({ code: 'INGEST_EVENT_INVALID', message: apiEventValidator.explain(value) });
    }
    return ok([value]);
  },
});
