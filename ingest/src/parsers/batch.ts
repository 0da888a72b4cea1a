import { type ApiEvent, err, ok, type Result } from '@apiwatch/core';
import type { EntryRejection, ParseBatch, ParseError } from './types.ts';

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
