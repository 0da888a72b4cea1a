import type { IncomingMessage } from 'node:http';

/**
 * The wire conventions of ClickHouse's HTTP interface that the endpoint reproduces: error codes
 * and names, the HTTP status each maps to, and the Content-Type per output format.
 */

/** An error raised by the endpoint itself, rendered exactly as ClickHouse renders its own. */
export class ProtocolError extends Error {
  readonly code: number;
  readonly type: string;
  constructor(code: number, type: string, message: string) {
    super(`Code: ${code}. DB::Exception: ${message}. (${type})`);
    this.code = code;
    this.type = type;
  }
}

/** The ClickHouse error codes the endpoint raises itself (numbers as in ErrorCodes.cpp). */
export const CH = {
  SYNTAX_ERROR: [62, 'SYNTAX_ERROR'],
  NOT_IMPLEMENTED: [48, 'NOT_IMPLEMENTED'],
  UNKNOWN_FORMAT: [73, 'UNKNOWN_FORMAT'],
  UNKNOWN_DATABASE: [81, 'UNKNOWN_DATABASE'],
  UNKNOWN_COMPRESSION_METHOD: [89, 'UNKNOWN_COMPRESSION_METHOD'],
  READONLY: [164, 'READONLY'],
  QUERY_IS_TOO_LARGE: [229, 'QUERY_IS_TOO_LARGE'],
  CANNOT_DECOMPRESS: [271, 'CANNOT_DECOMPRESS'],
  INTO_OUTFILE_NOT_ALLOWED: [358, 'INTO_OUTFILE_NOT_ALLOWED'],
  FUNCTION_NOT_ALLOWED: [446, 'FUNCTION_NOT_ALLOWED'],
  SETTING_CONSTRAINT_VIOLATION: [452, 'SETTING_CONSTRAINT_VIOLATION'],
  ACCESS_DENIED: [497, 'ACCESS_DENIED'],
  AUTHENTICATION_FAILED: [516, 'AUTHENTICATION_FAILED'],
} as const satisfies Record<string, readonly [number, string]>;

export function protocolError(kind: keyof typeof CH, message: string): ProtocolError {
  const [code, name] = CH[kind];
  return new ProtocolError(code, name, message);
}

/**
 * ClickHouse's exceptionCodeToHTTPStatus (src/Server/HTTP/exceptionCodeToHTTPStatus.cpp), by
 * error name, plus the refusals of the statement policy: READONLY, INTO_OUTFILE_NOT_ALLOWED,
 * FUNCTION_NOT_ALLOWED and SETTING_CONSTRAINT_VIOLATION answer 403 like ACCESS_DENIED, because
 * they are permission refusals (a server answers 500 for some of them, which clients retry).
 */
const STATUS_BY_NAME: Array<[number, readonly string[]]> = [
  [401, ['REQUIRED_PASSWORD']],
  [
    403,
    [
      'UNKNOWN_USER',
      'WRONG_PASSWORD',
      'AUTHENTICATION_FAILED',
      'SET_NON_GRANTED_ROLE',
      'ACCESS_DENIED',
      'READONLY',
      'INTO_OUTFILE_NOT_ALLOWED',
      'FUNCTION_NOT_ALLOWED',
      'SETTING_CONSTRAINT_VIOLATION',
    ],
  ],
  [
    400,
    [
      'BAD_ARGUMENTS',
      'CANNOT_COMPILE_REGEXP',
      'CANNOT_PARSE_TEXT',
      'CANNOT_PARSE_ESCAPE_SEQUENCE',
      'CANNOT_PARSE_QUOTED_STRING',
      'CANNOT_PARSE_DATE',
      'CANNOT_PARSE_DATETIME',
      'CANNOT_PARSE_NUMBER',
      'CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING',
      'CANNOT_PARSE_IPV4',
      'CANNOT_PARSE_IPV6',
      'CANNOT_PARSE_INPUT_ASSERTION_FAILED',
      'CANNOT_PARSE_UUID',
      'DUPLICATE_COLUMN',
      'ILLEGAL_COLUMN',
      'UNKNOWN_ELEMENT_IN_AST',
      'UNKNOWN_TYPE_OF_AST_NODE',
      'THERE_IS_NO_COLUMN',
      'TOO_DEEP_AST',
      'TOO_BIG_AST',
      'UNEXPECTED_AST_STRUCTURE',
      'SYNTAX_ERROR',
      'INCORRECT_DATA',
      'TYPE_MISMATCH',
      'VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE',
      'CANNOT_DECOMPRESS',
      'UNKNOWN_QUERY_PARAMETER',
    ],
  ],
  [
    404,
    [
      'UNKNOWN_TABLE',
      'UNKNOWN_FUNCTION',
      'UNKNOWN_IDENTIFIER',
      'UNKNOWN_TYPE',
      'UNKNOWN_STORAGE',
      'UNKNOWN_DATABASE',
      'UNKNOWN_SETTING',
      'UNKNOWN_DIRECTION_OF_SORTING',
      'UNKNOWN_AGGREGATE_FUNCTION',
      'UNKNOWN_FORMAT',
      'UNKNOWN_DATABASE_ENGINE',
      'UNKNOWN_TYPE_OF_QUERY',
      'UNKNOWN_ROLE',
    ],
  ],
  [413, ['QUERY_IS_TOO_LARGE']],
  [501, ['NOT_IMPLEMENTED']],
  [503, ['SOCKET_TIMEOUT', 'CANNOT_OPEN_FILE', 'CANNOT_SCHEDULE_TASK']],
  [411, ['HTTP_LENGTH_REQUIRED']],
  [408, ['TIMEOUT_EXCEEDED']],
  [415, ['UNSUPPORTED_MEDIA_TYPE', 'UNKNOWN_COMPRESSION_METHOD']],
];

export function httpStatusForError(name: string | null): number {
  if (name) for (const [status, names] of STATUS_BY_NAME) if (names.includes(name)) return status;
  return 500;
}

export function contentTypeFor(format: string): string {
  const f = format.toLowerCase();
  if (f.startsWith('json') || f === 'ndjson' || f === 'jsonl') return 'application/json; charset=UTF-8';
  if (f.startsWith('tsv') || f.startsWith('tabseparated')) return 'text/tab-separated-values; charset=UTF-8';
  if (f.startsWith('csv'))
    return `text/csv; charset=UTF-8; header=${f.includes('withnames') ? 'present' : 'absent'}`;
  if (/^(native|rowbinary|parquet|arrow|orc|avro|protobuf|msgpack|capnproto|npy|bson)/.test(f))
    return 'application/octet-stream';
  if (f === 'xml') return 'application/xml; charset=UTF-8';
  return 'text/plain; charset=UTF-8';
}

export function headerString(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** URL parameters that belong to the HTTP layer, not to the engine's settings. */
export const HTTP_PARAMS = new Set([
  'query',
  'query_id',
  'database',
  'default_format',
  'user',
  'password',
  'quota_key',
  'session_id',
  'session_timeout',
  'session_check',
  'enable_http_compression',
  'http_zlib_compression_level',
  'send_progress_in_http_headers',
  'http_headers_progress_interval_ms',
  'wait_end_of_query',
  'buffer_size',
  'http_response_buffer_size',
  'http_wait_end_of_query',
  'add_http_cors_header',
  'cancel_http_readonly_queries_on_client_close',
  'http_write_exception_in_output_format',
  'readonly',
  'role',
  'default_session_timeout',
  'client_protocol_version',
  'compress',
  'decompress',
]);
