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

// `"name": value` — the name may carry a prefix (`x-`, `client_`, `http_`) and be camelCase (`apiKey`).
const NAME_PREFIX = String.raw`(?:[\w-]*?[-_]|[a-z]+(?=[A-Z]))?`;
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

export function redactSecrets(text: string): string {
  return text
    .replace(PRIVATE_KEY, REDACTED)
    .replace(JSON_PAIR, (_, key: string) => `${key}"${REDACTED}"`)
    .replace(ESCAPED_JSON_PAIR, (_, key: string) => `${key}\\"${REDACTED}\\"`)
    .replace(QUERY_PAIR, (_, key: string) => `${key}${REDACTED}`)
    .replace(SCHEME_PARAMS, (_, scheme: string) => `${scheme} ${REDACTED}`)
    .replace(HEADER_LINE, (_, key: string) => `${key}${REDACTED}`)
    .replace(SCHEME, (_, scheme: string) => `${scheme} ${REDACTED}`)
    .replace(JWT, REDACTED)
    .replace(URL_PASSWORD, (_, head: string) => `${head}${REDACTED}@`);
}
