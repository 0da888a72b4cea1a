/**
 * Stable error codes. A code is documented in docs/errors.md and never reused for another meaning.
 * `retryable` tells a caller whether the same input may succeed later.
 */
export const ERROR_CODES = {
  INGEST_PARSE_INVALID_JSON: {
    retryable: false,
    summary: 'The record is not valid JSON.',
    action: "Check the gateway's log format (`apiwatch parse`); for nginx use `escape=json`.",
  },
  INGEST_PARSE_UNRECOGNISED: {
    retryable: false,
    summary: 'The record does not match the format.',
    action: 'Check `--format`; run `apiwatch parse --format <f>` on a sample.',
  },
  INGEST_EVENT_INVALID: {
    retryable: false,
    summary: 'Not a valid canonical event; the reason names the first offending field (JSON pointer).',
    action: 'Compare with `docs/schemas/api-event.schema.json`.',
  },
  INGEST_PARSE_TOO_DEEP: {
    retryable: false,
    summary:
      'The JSON nests deeper than 64 levels (no access-log format does); refused before anything recurses over it (HTTP 400).',
    action: 'Send the access-log records, not a wrapper document.',
  },
  INGEST_NOT_ACCESS_LOG: {
    retryable: false,
    summary:
      "The line is a server's own log (nginx/Apache error log, HAProxy diagnostics, Envoy server log), mixed into the access log; the access lines are read.",
    action: 'Nothing to do, or send the error log elsewhere.',
  },
  INGEST_BODY_TOO_LARGE: {
    retryable: false,
    summary: 'Body above `ingest.maxBodyBytes`, or more than `ingest.maxRecordsPerRequest` records.',
    action: 'Send smaller batches (`apiwatch collect --batch-size`).',
  },
  INGEST_UNAUTHENTICATED: {
    retryable: false,
    summary: 'Collector token missing or unknown (HTTP 401).',
    action: 'Use the token whose SHA-256 is in `ingest.collectors`, or `<dataDir>/collector-token`.',
  },
  INGEST_BACKPRESSURE: {
    retryable: true,
    summary: 'The pipeline is saturated (HTTP 429, `Retry-After`).',
    action: 'Retry after the given seconds; `apiwatch collect` does.',
  },
  INGEST_UNSUPPORTED_MEDIA_TYPE: {
    retryable: false,
    summary: 'Content-Type is not NDJSON or JSON (HTTP 415).',
    action: 'Send `application/x-ndjson` or `application/json`.',
  },
  CONFIG_INVALID: {
    retryable: false,
    summary:
      'The configuration (file, env override or flag) does not match its schema; the message names the key.',
    action: 'Fix the named key; see docs/config.md.',
  },
  CONFIG_FILE_UNREADABLE: {
    retryable: false,
    summary: 'A config or input file cannot be read or parsed.',
    action: 'Check the path and YAML syntax.',
  },
  COLLECT_INPUT_MISSING: {
    retryable: false,
    summary:
      '`apiwatch collect --once` was given a file that does not exist (exit 2; nothing shipped). Without `--once`, collect waits for the file to appear.',
    action: 'Check the path.',
  },
  COLLECT_INGEST_UNREACHABLE: {
    retryable: true,
    summary:
      '`apiwatch collect --once` could not deliver to ingest within `--retry-attempts` (connection refused, timeout, 429/5xx); exit 1, and the last line says how many events were shipped and how many were not. The saved position stays before what was not shipped.',
    action: 'Start apiwatch or fix `--url`; run collect again (it resumes).',
  },
  COLLECT_LINE_TOO_LONG: {
    retryable: false,
    summary:
      'A log line of `--max-line-bytes` (1 MiB) or more: cut, not parsed, reported in the summary and sent to the DLQ.',
    action: 'Raise `--max-line-bytes` if such lines are real access-log lines.',
  },
  BUS_PUBLISH_FAILED: {
    retryable: true,
    retired: true,
    summary: 'The bus did not acknowledge a publish.',
    action: 'Check Kafka; the publisher retries.',
  },
  BUS_JOURNAL_LOCKED: {
    retryable: true,
    summary: 'Another apiwatch process (pid in the message) uses the embedded bus journal `<dataDir>/bus`.',
    action: 'Stop it, or give this process another `dataDir`.',
  },
  BUS_MESSAGE_INVALID: {
    retryable: false,
    summary:
      'A consumer read a message that is not JSON, or not a valid event/finding/DLQ record of its topic (`schemaVersion` included); it went to the DLQ (`source` = `bus.<topic>`) and `apiwatch_bus_dead_letters_total{topic,reason}` counts it.',
    action:
      'Find the publisher writing to the topic (an older apiwatch, a test producer); the reason names the first offending field.',
  },
  BUS_HANDLER_FAILED: {
    retryable: false,
    summary:
      "A consumer's handler failed on one message `bus.consumerRetry.attempts` times (the batch was split to find it); it went to the DLQ and the consumer moved on.",
    action: "Read the reason (the handler's error) and the raw message in `dead_letters`.",
  },
  STORE_INSERT_FAILED: {
    retryable: true,
    summary: 'The store rejected or failed an insert.',
    action: 'Check ClickHouse/chDB; the store role retries.',
  },
  STORE_MIGRATION_CHANGED: {
    retryable: false,
    summary: 'An applied migration file was edited or removed (checksums in `schema_migrations`).',
    action: 'Restore the file; add a new migration instead of editing an applied one.',
  },
  STORE_MIGRATION_INVALID: {
    retryable: false,
    summary: 'A migration file is malformed.',
    action: 'Fix the named file.',
  },
  STORE_MIGRATION_FAILED: {
    retryable: true,
    summary: 'ClickHouse refused a migration statement.',
    action: 'Read the ClickHouse error in the message; re-run `apiwatch migrate`.',
  },
  STORE_DATA_DIR_LOCKED: {
    retryable: true,
    summary: 'Another apiwatch process (pid in the message) holds the embedded data directory.',
    action:
      'Stop it, or give this process another `dataDir` / `store.chdb.path`; `store stats` and `migrate` read a running server through `store.http` (docs/store.md).',
  },
  STORE_STAGING_UNSAFE: {
    retryable: false,
    summary: "The embedded store's staging directory is a symlink or another user's.",
    action: 'Remove the directory named in the message and start again.',
  },
  LISTEN_ADDRESS_IN_USE: {
    retryable: true,
    summary:
      'A listener cannot bind: the port is in use (or not allowed / not local); the message names the config key.',
    action: 'Set the named key (or its `APIWATCH__…` override) to a free port, or 0.',
  },
  STORE_ROW_INVALID: {
    retryable: false,
    summary: 'A row could not be written in the table format; it went to the DLQ.',
    action: 'Inspect the DLQ record.',
  },
  STORE_ROW_REJECTED: {
    retryable: false,
    summary:
      'ClickHouse rejected a row (parse or type error); the batch was bisected and the row went to the DLQ.',
    action: 'Inspect the DLQ record.',
  },
  ALERT_DELIVERY_FAILED: {
    retryable: true,
    retired: true,
    summary: 'A delivery failed; superseded by the specific ALERT_DELIVERY_* codes.',
    action: '—',
  },
  ALERT_DELIVERY_REJECTED: {
    retryable: false,
    summary:
      'A receiver rejected a notification permanently (4xx other than 408/429); dead-lettered at once.',
    action: 'Fix the receiver URL, key or signature check; then `apiwatch deliveries replay <id>`.',
  },
  ALERT_DELIVERY_TIMEOUT: {
    retryable: true,
    summary: 'The receiver did not answer within `timeoutMs`.',
    action: 'Retried with backoff; raise `timeoutMs` if the receiver is slow.',
  },
  ALERT_DELIVERY_NETWORK: {
    retryable: true,
    summary: 'The receiver could not be reached (refused, DNS, reset).',
    action: 'Retried with backoff; check the URL and the network.',
  },
  ALERT_DELIVERY_SERVER_ERROR: {
    retryable: true,
    summary: 'The receiver answered 408 or 5xx.',
    action: 'Retried with backoff.',
  },
  ALERT_DELIVERY_RATE_LIMITED: {
    retryable: true,
    summary: 'The receiver answered 429.',
    action: 'Retried after `Retry-After`; lower `rateLimitPerSecond`.',
  },
  ALERT_DELIVERY_RECEIVER_UNKNOWN: {
    retryable: false,
    summary: 'A notification names a receiver that is not configured (config changed under queued jobs).',
    action: 'Restore the receiver or drop the dead letters.',
  },
  ALERT_DELIVERY_INVALID_NOTIFICATION: {
    retryable: false,
    summary: 'A queued job is not a valid notification (`docs/schemas/notification.schema.json`).',
    action: 'Inspect with `apiwatch deliveries dead`.',
  },
  ALERT_SILENCE_INVALID: {
    retryable: false,
    summary: 'A silence lacks matchers, author, reason or a positive duration, or a matcher does not parse.',
    action: 'Fix the request (`apiwatch silences create --help`).',
  },
  ALERT_SILENCE_NOT_FOUND: {
    retryable: false,
    summary: 'No silence with that id.',
    action: '`apiwatch silences list`.',
  },
  ALERT_ACTION_GATEWAY_REJECTED: {
    retryable: false,
    summary: 'The gateway refused a revoke or restore (4xx).',
    action: "Check the revoker's admin URL, token and permissions.",
  },
  ALERT_ACTION_GATEWAY_UNAVAILABLE: {
    retryable: true,
    summary: 'The gateway did not answer, or answered 5xx/429.',
    action: 'Retried on the actions queue; then recorded as failed.',
  },
  ALERT_ACTION_NOT_FOUND: {
    retryable: false,
    summary: 'The gateway does not know the credential ref, or no such action.',
    action: 'The credential may be gone already; see the audit table.',
  },
  ALERT_ACTION_IRREVERSIBLE: {
    retryable: false,
    summary: 'The revoker cannot restore (Kong `method: delete`, an HTTP hook without `restore`).',
    action: 'Re-issue the credential by hand; use `acl-deny` for reversible revocations.',
  },
  ALERT_API_UNAUTHENTICATED: {
    retryable: false,
    summary: 'The alert API needs `Authorization: Bearer <token>` with a token in `alert.api.tokens`.',
    action: 'Set `APIWATCH_API_TOKEN` or `--token-file`.',
  },
  ALERT_API_FORBIDDEN: {
    retryable: false,
    summary: "The token's role (viewer, analyst, admin) is below what the route needs.",
    action: 'Use an analyst (approve, undo, silences) or admin (breaker reset) token.',
  },
  ALERT_API_INVALID_REQUEST: {
    retryable: false,
    summary: "A management API parameter or body field fails the route's schema (the message names it).",
    action: 'Fix the request; `/openapi.json` has every schema (docs/api.md).',
  },
  ALERT_API_INVALID_JSON: {
    retryable: false,
    summary: 'The request body is not JSON.',
    action: 'Send `content-type: application/json` with a JSON body.',
  },
  ALERT_API_BAD_REQUEST: {
    retryable: false,
    summary: 'The HTTP request could not be read (framing, size over 1 MB).',
    action: 'Read the message; send one JSON body under 1 MB.',
  },
  ALERT_API_INVALID_CURSOR: {
    retryable: false,
    summary: '`cursor` is not a `nextCursor` the management API returned.',
    action: 'List again without `cursor`.',
  },
  ALERT_API_INVALID_SINCE: {
    retryable: false,
    summary: '`since` is neither an ISO 8601 time nor epoch milliseconds.',
    action: 'e.g. `since=2026-12-01T00:00:00Z`.',
  },
  ALERT_API_UNSUPPORTED_MEDIA_TYPE: {
    retryable: false,
    summary: 'A request body that is not `application/json`.',
    action: 'Send JSON.',
  },
  ALERT_API_NOT_FOUND: {
    retryable: false,
    summary: 'No such API route.',
    action: '`GET /openapi.json` lists the routes (docs/api.md).',
  },
  ALERT_API_NO_ROUTER: {
    retryable: false,
    summary: 'The process serving the API has no alert router.',
    action: 'Serve the API from the alert role (`alert.api.enabled`).',
  },
  ALERT_FINDING_NOT_FOUND: {
    retryable: false,
    summary: 'No finding with that id or fingerprint (in the store, or open in the router).',
    action: '`GET /api/v1/findings` or `apiwatch findings`.',
  },
  ALERT_API_NO_STORE: {
    retryable: true,
    summary: 'The process serving the management API has no store to read findings from.',
    action: 'Run the API where the store is (embedded `apiwatch start`), or configure `store`.',
  },
  ALERT_API_TOKEN_REVOKED: {
    retryable: false,
    summary:
      'The bearer token was revoked (`apiwatch tokens revoke`); the API refuses it (HTTP 401) in every process serving it.',
    action: 'Use another token; `apiwatch tokens create` makes one.',
  },
  ALERT_TOKEN_NOT_FOUND: {
    retryable: false,
    summary: 'No token in `alert.api.tokens` has that id (`tok_…`) or name.',
    action: '`apiwatch tokens list` shows the ids and names.',
  },
  ALERT_TOKEN_AMBIGUOUS: {
    retryable: false,
    summary: 'More than one token has that name.',
    action: 'Revoke by id (`tok_…`, from `apiwatch tokens list`).',
  },
  ALERT_TOKEN_ALREADY_REVOKED: {
    retryable: false,
    summary: 'The token is already revoked (HTTP 409).',
    action: 'Nothing to do; remove its entry from `alert.api.tokens` when convenient.',
  },
  ALERT_SPEC_EMPTY: {
    retryable: false,
    summary: 'A spec upload (`POST /api/v1/specs`) with no body.',
    action: 'Send the OpenAPI document as the body (application/json or application/yaml).',
  },
  ALERT_SPEC_UNPARSABLE: {
    retryable: false,
    summary:
      'The uploaded spec is not valid YAML (JSON bodies that do not parse are `ALERT_API_INVALID_JSON`).',
    action: 'Check the file with a YAML linter; aliases are limited to 1000.',
  },
  ALERT_SPEC_UNSUPPORTED_VERSION: {
    retryable: false,
    summary:
      'The uploaded document is not OpenAPI 3.0.x or 3.1.x (Swagger 2.0 included): the upload takes OpenAPI 3 only (HTTP 400).',
    action: 'Convert it to OpenAPI 3, or list a Swagger 2.0 file in `ingest.specs`.',
  },
  ALERT_SPEC_INVALID: {
    retryable: false,
    summary:
      'The uploaded document fails the official OpenAPI JSON Schema of its version (HTTP 422); the message names the first errors by JSON pointer.',
    action: 'Fix the document (any OpenAPI validator shows the same errors) and upload again.',
  },
  ALERT_SPEC_NO_OPERATIONS: {
    retryable: false,
    summary:
      'The uploaded document has no operations under `paths`, so it gives no route templates (HTTP 422).',
    action: 'Upload the full document.',
  },
  ALERT_SPEC_NAME_REQUIRED: {
    retryable: false,
    summary: "The spec's `info.title` gives no usable name (no letters or digits).",
    action: 'Pass `?name=<name>` (letters, digits, `.`, `_`, `-`).',
  },
  ALERT_SPEC_TOO_LARGE: {
    retryable: false,
    summary: 'The uploaded spec is over the upload limit (16 MiB; HTTP 413).',
    action: 'List very large documents in `ingest.specs` instead.',
  },
  ALERT_API_UNAVAILABLE: {
    retryable: true,
    summary:
      'The store failed while the management API served the request, or the API has not yet read the token revocations from it (it fails closed).',
    action: 'Retry; check `/readyz` and the store.',
  },
  BAD_REQUEST: {
    retryable: false,
    summary:
      'An HTTP request apiwatch could not read at all (malformed body framing, a header the server refused) before any record was looked at.',
    action: 'Read the message; send NDJSON or a JSON array with the documented headers.',
  },
  INTERNAL: {
    retryable: true,
    summary:
      'An unexpected failure inside apiwatch (a bug): the HTTP answer says only this, the log has the details.',
    action: 'Retry; report the log line (it has no secrets) as a bug.',
  },
} as const satisfies Record<string, ErrorCodeSpec>;

/** One code's documentation; docs/errors.md is generated from these (`npm run gen`). */
export interface ErrorCodeSpec {
  retryable: boolean;
  /** What happened, for the reader of docs/errors.md. */
  summary: string;
  /** What to do about it. */
  action?: string;
  /** No longer emitted; kept so the code is never reused for another meaning. */
  retired?: boolean;
}

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
