import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { rawJson } from '../parsers/fields.ts';
import { parseJson } from '../parsers/json.ts';
import type { RawRecord } from '../parsers/types.ts';
import { isWrappedLine } from '../parsers/wrappers.ts';

/** Text handed to a JSON format is read whole up to this size; past it, line by line. */
const MAX_TEXT_DOCUMENT_CHARS = 16 * 1024 * 1024;

/**
 * Frames an input stream into records: NDJSON, one JSON object (pretty-printed or not), a JSON
 * array, or text lines. Line-oriented input is streamed; a multi-line JSON document is read whole.
 */
export async function* readRecords(
  input: Readable,
  framing: 'json' | 'text' | 'auto',
): AsyncGenerator<RawRecord> {
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })[Symbol.asyncIterator]();
  let first: string | undefined;
  for (;;) {
    const next = await lines.next();
    if (next.done) return;
    if (next.value.trim().length > 0) {
      first = next.value;
      break;
    }
  }
  const head = first.trimStart();
  const jsonish = framing !== 'text' && (head.startsWith('[') || head.startsWith('{'));
  if (jsonish) {
    const single = tryParse(first);
    if (single.ok && !Array.isArray(single.value)) {
      // NDJSON (or a single one-line object): stream line by line.
      yield { text: first, json: single.value };
      for (;;) {
        const next = await lines.next();
        if (next.done) return;
        const line = next.value;
        if (line.trim().length === 0) continue;
        const parsed = tryParse(line);
        yield parsed.ok ? { text: line, json: parsed.value } : { text: line };
      }
    }
    // A JSON array or a multi-line document: read it whole.
    let text = first;
    for (;;) {
      const next = await lines.next();
      if (next.done) break;
      text += `\n${next.value}`;
    }
    const whole = tryParse(text);
    if (!whole.ok) {
      // Not one document after all: hand each line over so the parser can report it.
      for (const line of text.split('\n')) if (line.trim()) yield { text: line };
      return;
    }
    yield* documentRecords(whole.value);
    return;
  }
  if (framing === 'json' && !isWrappedLine(first)) {
    // A JSON format given text (e.g. an OTel Collector debug dump for `otlp`): the whole input is
    // one record, so the parser can recognise the document or report it once, not per line.
    const buffered = [first];
    let chars = first.length;
    for (;;) {
      const next = await lines.next();
      if (next.done) {
        yield { text: buffered.join('\n') };
        return;
      }
      buffered.push(next.value);
      chars += next.value.length + 1;
      if (chars > MAX_TEXT_DOCUMENT_CHARS) {
        for (const line of buffered) if (line.trim()) yield { text: line };
        break;
      }
    }
  } else {
    yield { text: first };
  }
  for (;;) {
    const next = await lines.next();
    if (next.done) return;
    if (next.value.trim().length > 0) yield { text: next.value };
  }
}

/** Records of an already-parsed JSON document: each element of an array, or the value itself. */
export function* documentRecords(value: unknown): Generator<RawRecord> {
  if (Array.isArray(value)) {
    for (const item of value) yield { text: rawJson(item), json: item };
  } else {
    yield { text: rawJson(value), json: value };
  }
}

/** Through the one JSON preamble: a document nested past MAX_JSON_DEPTH is left to the parser to refuse. */
function tryParse(text: string): { ok: true; value: unknown } | { ok: false } {
  const parsed = parseJson(text);
  return parsed.ok ? { ok: true, value: parsed.value } : { ok: false };
}
