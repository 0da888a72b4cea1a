/**
 * Stable error codes. A code is documented in docs/errors.md and never reused for another meaning.
 * `retryable` tells a caller whether the same input may succeed later.
 */
export const ERROR_CODES = {
  INGEST_PARSE_INVALID_JSON: { retryable: false, summary: 'The record is not valid JSON.' },
  INGEST_PARSE_UNRECOGNISED: { retryable: false, summary: 'The record does not match the format.' },
  INGEST_EVENT_INVALID: { retryable: false, summary: 'The record is not a valid canonical event.' },
  INGEST_PARSE_TOO_DEEP: {
    retryable: false,
    summary: 'The JSON nests deeper than any access-log format (64 levels); refused before it is read.',
  },
  INGEST_NOT_ACCESS_LOG: {
    retryable: false,
    summary: 'The line is a server error/diagnostic log line, not an access-log line; skip it.',
  },
  INGEST_BODY_TOO_LARGE: { retryable: false, summary: 'The request body exceeds ingest.maxBodyBytes.' },
  INGEST_UNAUTHENTICATED: { retryable: false, summary: 'The collector token is missing or unknown.' },
  INGEST_BACKPRESSURE: { retryable: true, summary: 'The pipeline is saturated; retry after Retry-After.' },
  INGEST_UNSUPPORTED_MEDIA_TYPE: { retryable: false, summary: 'The Content-Type is not NDJSON or JSON.' },
  CONFIG_INVALID: { retryable: false, summary: 'The configuration does not match its schema.' },
  CONFIG_FILE_UNREADABLE: { retryable: false, summary: 'The configuration file cannot be read or parsed.' },
  COLLECT_INPUT_MISSING: {
    retryable: false,
    summary: 'apiwatch collect --once was given a file that does not exist.',
  },
  COLLECT_INGEST_UNREACHABLE: {
    retryable: true,
    summary: 'apiwatch collect could not deliver to ingest within its retry budget.',
  },
  COLLECT_LINE_TOO_LONG: {
    retryable: false,
    summary: 'A log line is longer than --max-line-bytes; it was cut and is reported as such.',
  },
  BUS_PUBLISH_FAILED: { retryable: true, summary: 'The bus did not acknowledge a publish.' },
  BUS_JOURNAL_LOCKED: {
    retryable: true,
    summary: 'Another apiwatch process is using the embedded bus journal in this data directory.',
  },
  BUS_MESSAGE_INVALID: {
    retryable: false,
    summary:
      'A consumer read a message that is not JSON or not a valid message of its topic; sent to the DLQ.',
  },
  BUS_HANDLER_FAILED: {
    retryable: false,
    summary: 'A consumer failed on one message after its bounded retries; sent to the DLQ.',
  },
  STORE_INSERT_FAILED: { retryable: true, summary: 'The store rejected or failed an insert.' },
  STORE_MIGRATION_CHANGED: {
    retryable: false,
    summary: 'An applied migration file was edited or removed; migrations are append-only.',
  },
  STORE_MIGRATION_INVALID: { retryable: false, summary: 'A migration file is malformed (name or content).' },
  STORE_MIGRATION_FAILED: { retryable: true, summary: 'ClickHouse refused a migration statement.' },
  STORE_DATA_DIR_LOCKED: {
    retryable: true,
    summary: 'Another apiwatch process holds the embedded data directory; stop it or use another directory.',
  },
  STORE_STAGING_UNSAFE: {
    retryable: false,
    summary: "The embedded store's staging directory is not a private directory of this user.",
  },
  LISTEN_ADDRESS_IN_USE: {
    retryable: true,
    summary: 'A listener cannot bind its address: another process uses the port named in the message.',
  },
  STORE_ROW_INVALID: {
    retryable: false,
    summary: 'A row cannot be turned into the table format; sent to the DLQ.',
  },
  STORE_ROW_REJECTED: {
    retryable: false,
    summary: 'ClickHouse rejected a row (parse or type error); sent to the DLQ.',
  },
  ALERT_DELIVERY_FAILED: {
    retryable: true,
    summary: 'A receiver did not accept a notification (superseded by the specific ALERT_DELIVERY_* codes).',
  },
  ALERT_DELIVERY_REJECTED: {
    retryable: false,
    summary: 'A receiver rejected a notification permanently (4xx).',
  },
  ALERT_DELIVERY_TIMEOUT: { retryable: true, summary: 'A receiver did not answer within its timeoutMs.' },
  ALERT_DELIVERY_NETWORK: {
    retryable: true,
    summary: 'A receiver could not be reached (refused, DNS, reset).',
  },
  ALERT_DELIVERY_SERVER_ERROR: { retryable: true, summary: 'A receiver answered 408 or 5xx.' },
  ALERT_DELIVERY_RATE_LIMITED: {
    retryable: true,
    summary: 'A receiver answered 429; Retry-After is honoured.',
  },
  ALERT_DELIVERY_RECEIVER_UNKNOWN: {
    retryable: false,
    summary: 'A notification names a receiver not configured.',
  },
  ALERT_DELIVERY_INVALID_NOTIFICATION: {
    retryable: false,
    summary: 'A queued job is not a valid notification (another version, a bad write); dead-lettered.',
  },
  ALERT_SILENCE_INVALID: {
    retryable: false,
    summary: 'A silence lacks matchers, author, reason or duration.',
  },
  ALERT_SILENCE_NOT_FOUND: { retryable: false, summary: 'No silence with that id.' },
  ALERT_ACTION_GATEWAY_REJECTED: {
    retryable: false,
    summary: 'The gateway refused a revoke or restore (4xx).',
  },
  ALERT_ACTION_GATEWAY_UNAVAILABLE: {
    retryable: true,
    summary: 'The gateway did not answer, or answered 5xx/429.',
  },
  ALERT_ACTION_NOT_FOUND: { retryable: false, summary: 'The credential (ref) or the action is unknown.' },
  ALERT_ACTION_IRREVERSIBLE: { retryable: false, summary: 'The revoker cannot restore (e.g. Kong delete).' },
  ALERT_API_UNAUTHENTICATED: { retryable: false, summary: 'The alert API needs a known bearer token.' },
  ALERT_API_FORBIDDEN: { retryable: false, summary: "The token's role is below what the route needs." },
} as const satisfies Record<string, { retryable: boolean; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ApiwatchError {
  code: ErrorCode;
  message: string;
  retryable: boolean;
}

export function apiwatchError(code: ErrorCode, message: string): ApiwatchError {
  return { code, message, retryable: ERROR_CODES[code].retryable };
}

/** Thrown only for bad start-up input (config, flags); data paths return Result values. */
export class StartupError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'StartupError';
    this.code = code;
  }
}
