/**
 * Removes secrets from a raw record before it is kept anywhere (DLQ, logs): values of
 * credential-bearing headers, cookies, secret-looking query parameters and JSON keys, bearer
 * tokens and JWTs wherever they appear.
 */
const SECRET_NAME = `(?:authorization|proxy-authorization|cookie|set-cookie|x-api-key|api[-_]?key|apikey|x-auth-token|auth[-_]?token|access[-_]?token|refresh[-_]?token|id[-_]?token|token|secret|client[-_]?secret|password|passwd|pwd|session(?:[-_]?id)?|sig|signature|x-amz-security-token)`;

const JSON_PAIR = new RegExp(
  String.raw`("(?:[\w-]*[-_])?${SECRET_NAME}"\s*:\s*)("(?:[^"\\]|\\.)*"|\[[^\]]*\]|[^,}\s]+)`,
  'gi',
);
const QUERY_PAIR = new RegExp(String.raw`([?&;](?:[\w-]*[-_])?${SECRET_NAME}=)([^&\s"'#]*)`, 'gi');
const HEADER_LINE = new RegExp(String.raw`(\b${SECRET_NAME}:\s*)([^\r\n"]+)`, 'gi');
const BEARER = /\b(Bearer|Basic|Negotiate|Digest)\s+[A-Za-z0-9\-._~+/]+=*/g;
const JWT = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;

export const REDACTED = '[REDACTED]';

export function redactSecrets(text: string): string {
  return text
    .replace(
      JSON_PAIR,
      (_, key: string, value: string) => `${key}${value.startsWith('"') ? `"${REDACTED}"` : `"${REDACTED}"`}`,
    )
    .replace(QUERY_PAIR, (_, key: string) => `${key}${REDACTED}`)
    .replace(HEADER_LINE, (_, key: string) => `${key}${REDACTED}`)
    .replace(BEARER, (_, scheme: string) => `${scheme} ${REDACTED}`)
    .replace(JWT, REDACTED);
}
