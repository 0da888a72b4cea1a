/**
 * Removes secrets from a raw record before it is kept anywhere (DLQ, logs): values of
 * credential-bearing headers, cookies, secret-looking query parameters and JSON keys (also inside
 * JSON strings that hold JSON, as CloudWatch `message` fields do), Authorization schemes, JWTs,
 * URL passwords and PEM private keys, wherever they appear. It errs towards removing too much:
 * what it guards is a dead-letter copy, not the event.
 */

/** Names whose value is a credential. `key` alone is Kong 0.x `authenticated_entity.key`. */
const SECRET_NAME = `(?:authorization|proxy-authorization|cookies?|set-cookie|x-api-key|api[-_]?key|apikey|x-auth-token|auth[-_]?token|access[-_]?token|refresh[-_]?token|id[-_]?token|token|secret|client[-_]?secret|private[-_]?key|password|passwd|pwd|pass|session(?:[-_]?id)?|sid|sig|signature|x-amz-security-token|x-amz-signature|credentials?|key)`;
/** Also secrets in a query string or form body (OAuth codes, Azure SAS `sig`/`se` come with `sig`). */
const QUERY_SECRET_NAME = `(?:${SECRET_NAME}|code|state|nonce|otp|hash)`;

// `"name": value` — the name may carry a prefix (`x-`, `client_`, `http_`, the OTel
// `http.request.header.`) and be camelCase (`apiKey`).
const NAME_PREFIX = String.raw`(?:[\w.-]*?[-_.]|[a-z]+(?=[A-Z]))?`;
const JSON_PAIR = new RegExp(
  String.raw`("${NAME_PREFIX}${SECRET_NAME}"\s*:\s*)("(?:[^"\\]|\\.)*"|\[[^\]]*\]|\{[^{}]*\}|[^,}\]\s]+)`,
  'gi',
);
// The same pair inside a JSON string: `\"apiKey\":\"abc\"`.
const ESCAPED_JSON_PAIR = new RegExp(
  String.raw`(\\"${NAME_PREFIX}${SECRET_NAME}\\"\s*:\s*)(\\"(?:[^\\]|\\(?!"))*\\"|[^,}\]\s\\]+)`,
  'gi',
);
const QUERY_PAIR = new RegExp(
  String.raw`((?:^|[?&;\s"'])${NAME_PREFIX}${QUERY_SECRET_NAME}=)([^&\s"'#\\]*)`,
  'gi',
);
const HEADER_LINE = new RegExp(String.raw`(\b${SECRET_NAME}:[ \t]*)([^\r\n"]+)`, 'gi');
const SCHEME = /\b(Bearer|Basic|Negotiate|ApiKey|Token)\s+[A-Za-z0-9\-._~+/]+=*/gi;
// Digest and SigV4 parameters run to the end of the header value (response hashes, signatures).
const SCHEME_PARAMS = /\b(Digest|AWS4-HMAC-SHA256)\s+(?:[^\r\n"\\]|\\.|"[^"\r\n]*")+/gi;
const JWT = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s/:@"']+:)[^\s/@"']+@/gi;
const PRIVATE_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g;

export const REDACTED = '[REDACTED]';

/** A whole name that holds a credential (`authorization`, `http.request.header.x-api-key`, `apiKey`). */
const SECRET_NAME_WHOLE = new RegExp(`^${NAME_PREFIX}${SECRET_NAME}$`, 'i');

export function isSecretFieldName(name: string): boolean {
  return SECRET_NAME_WHOLE.test(name);
}

/** Fields that name the pair in a name/value pair object (OTLP `{key, value}`, HAR `{name, value}`). */
const PAIR_NAME_FIELDS = ['key', 'name', 'Key', 'Name', 'header', 'field'];
const PAIR_VALUE_FIELDS = ['value', 'Value', 'values', 'stringValue', 'arrayValue'];
const MAX_PAIR_DEPTH = 64;
/** Records longer than this are not parsed for pairs (the text passes still run). */
const MAX_PAIR_SCAN_CHARS = 1 << 20;

/**
 * Name/value pair objects, whatever the value's shape: OTLP attributes
 * `{"key":"http.request.header.x-api-key","value":{"arrayValue":{"values":[{"stringValue":"…"}]}}}`,
 * HAR and Envoy header lists `{"name":"authorization","value":"…"}`. The text patterns match
 * `"x-api-key": …` but not a secret whose name is the *value* of a `key` field, so a JSON
 * record is walked once and every such pair's value replaced. Returns the text unchanged when
 * it is not JSON, or holds no such pair.
 */
function redactPairs(text: string): string {
  const t = text.trimStart();
  if (t.length > MAX_PAIR_SCAN_CHARS || (t[0] !== '{' && t[0] !== '[')) return text;
  if (!/"(?:key|name|Key|Name|header|field)"\s*:/.test(t)) return text;
  let value: unknown;
  try {
    value = JSON.parse(t);
  } catch {
    return text;
  }
  let changed = false;
  const walk = (v: unknown, depth: number): void => {
    if (!v || typeof v !== 'object' || depth > MAX_PAIR_DEPTH) return;
    if (Array.isArray(v)) {
      for (const x of v) walk(x, depth + 1);
      return;
    }
    const o = v as Record<string, unknown>;
    for (const f of PAIR_NAME_FIELDS) {
      const name = o[f];
      if (typeof name !== 'string' || !isSecretFieldName(name)) continue;
      for (const vf of PAIR_VALUE_FIELDS) {
        if (vf in o && vf !== f) {
          o[vf] = REDACTED;
          changed = true;
        }
      }
    }
    for (const k in o) walk(o[k], depth + 1);
  };
  walk(value, 0);
  if (!changed) return text;
  try {
    return JSON.stringify(value);
  } catch {
    return text;
  }
}

/**
 * `"key": "http.request.header.x-api-key"` is the name of an OTLP attribute, not a key: a bare
 * `key`/`name` field whose value is itself a field name (dotted, or a credential name) is kept;
 * its pair's value is what redactPairs removes. Kong 0.x `"key": "<hex>"` is still a secret.
 */
function namesAPair(key: string, value: string): boolean {
  if (!/^"(?:key|name)"/i.test(key) || value[0] !== '"') return false;
  const v = value.slice(1, -1);
  return /^[A-Za-z][\w-]*(?:\.[\w-]+)+$/.test(v) || isSecretFieldName(v);
}

// The same pair as text, for records that are not one JSON document (truncated, embedded in a
// line): `"key":"…x-api-key","value":{…}` with the value nested up to three levels.
const PAIR_TEXT = new RegExp(
  String.raw`("(?:key|name)"\s*:\s*"${NAME_PREFIX}${SECRET_NAME}"\s*,\s*"value"\s*:\s*)(\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*\}|"(?:[^"\\]|\\.)*"|[^,}\]\s]+)`,
  'gi',
);

export function redactSecrets(text: string): string {
  return redactPairs(text)
    .replace(PAIR_TEXT, (_, head: string) => `${head}"${REDACTED}"`)
    .replace(PRIVATE_KEY, REDACTED)
    .replace(JSON_PAIR, (whole: string, key: string, value: string) =>
      namesAPair(key, value) ? whole : `${key}"${REDACTED}"`,
    )
    .replace(ESCAPED_JSON_PAIR, (_, key: string) => `${key}\\"${REDACTED}\\"`)
    .replace(QUERY_PAIR, (_, key: string) => `${key}${REDACTED}`)
    .replace(SCHEME_PARAMS, (_, scheme: string) => `${scheme} ${REDACTED}`)
    .replace(HEADER_LINE, (_, key: string) => `${key}${REDACTED}`)
    .replace(SCHEME, (_, scheme: string) => `${scheme} ${REDACTED}`)
    .replace(JWT, REDACTED)
    .replace(URL_PASSWORD, (_, head: string) => `${head}${REDACTED}@`);
}
