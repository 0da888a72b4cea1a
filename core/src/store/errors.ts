/**
 * What a failed ClickHouse call means for the caller: the engine's error code and name (from the
 * `Code: N. DB::Exception: … (NAME)` text both chDB and the HTTP interface produce) and whether
 * retrying the same statement may succeed. Data errors (the rows themselves cannot be parsed or
 * do not fit) are not retryable: the writer bisects the batch and sends the bad rows to the DLQ.
 */
export interface StoreFailure {
  code: number | null;
  name: string | null;
  message: string;
  retryable: boolean;
  /** The rows are at fault (parse/type errors), not the store. */
  dataError: boolean;
}

const DATA_ERRORS = new Set([
  'CANNOT_PARSE_TEXT',
  'CANNOT_PARSE_ESCAPE_SEQUENCE',
  'CANNOT_PARSE_QUOTED_STRING',
  'CANNOT_PARSE_DATE',
  'CANNOT_PARSE_DATETIME',
  'CANNOT_PARSE_NUMBER',
  'CANNOT_PARSE_INPUT_ASSERTION_FAILED',
  'CANNOT_PARSE_BOOL',
  'CANNOT_PARSE_UUID',
  'CANNOT_PARSE_IPV4',
  'CANNOT_PARSE_IPV6',
  'CANNOT_READ_ARRAY_FROM_TEXT',
  'CANNOT_READ_ALL_DATA',
  'ATTEMPT_TO_READ_AFTER_EOF',
  'INCORRECT_DATA',
  'INCORRECT_NUMBER_OF_COLUMNS',
  'TYPE_MISMATCH',
  'VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE',
  'TOO_LARGE_STRING_SIZE',
  'TOO_LARGE_ARRAY_SIZE',
  'ARGUMENT_OUT_OF_BOUND',
  'DECIMAL_OVERFLOW',
]);

/** Errors that say the statement itself is wrong: retrying cannot help. */
const PERMANENT_ERRORS = new Set([
  'SYNTAX_ERROR',
  'UNKNOWN_TABLE',
  'UNKNOWN_DATABASE',
  'UNKNOWN_IDENTIFIER',
  'UNKNOWN_FUNCTION',
  'UNKNOWN_SETTING',
  'NO_SUCH_COLUMN_IN_TABLE',
  'THERE_IS_NO_COLUMN',
  'ILLEGAL_TYPE_OF_ARGUMENT',
  'READONLY',
  'ACCESS_DENIED',
  'AUTHENTICATION_FAILED',
  'NOT_IMPLEMENTED',
]);

export function parseClickhouseError(message: string): { code: number | null; name: string | null } {
  const code = /Code:\s*(\d+)/.exec(message);
  let name: string | null = null;
  for (const m of message.matchAll(/\(([A-Z][A-Z0-9_]{2,})\)/g)) name = m[1]!;
  return { code: code ? Number(code[1]) : null, name };
}

export function classifyStoreError(e: unknown): StoreFailure {
  const err = e as { message?: string; clickhouseCode?: number; code?: unknown; type?: string };
  const message = String(err?.message ?? e);
  const parsed = parseClickhouseError(message);
  const code = typeof err?.clickhouseCode === 'number' ? err.clickhouseCode : parsed.code;
  const name = parsed.name ?? (typeof err?.type === 'string' ? err.type : null);
  const dataError = name !== null && DATA_ERRORS.has(name);
  const permanent = dataError || (name !== null && PERMANENT_ERRORS.has(name));
  return { code, name, message, retryable: !permanent, dataError };
}
