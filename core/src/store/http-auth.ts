import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { protocolError } from './http-protocol.ts';

/** A user of the ClickHouse-compatible endpoint (store.http.users). */
export interface HttpEndpointUser {
  name: string;
  /** SHA-256 hex of the password. */
  passwordSha256: string;
  /**
   * Only SELECT, WITH, SHOW, DESCRIBE, EXISTS, EXPLAIN over the apiwatch database and a few
   * system tables (docs/store.md, "Security"); the session also runs with readonly=2.
   */
  readonly: boolean;
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/**
 * Who is calling, by ClickHouse's rules: `X-ClickHouse-User`/`X-ClickHouse-Key` headers, HTTP
 * Basic, or `user`/`password` URL parameters — one of them, never two — and `default` with an
 * empty password when none is given. The password is compared in constant time; an unknown user
 * costs the same comparison, so timing tells nobody which names exist.
 */
export function authenticate(
  req: IncomingMessage,
  params: URLSearchParams,
  users: ReadonlyMap<string, HttpEndpointUser>,
): HttpEndpointUser {
  const headerUser = req.headers['x-clickhouse-user'];
  const headerKey = req.headers['x-clickhouse-key'];
  const basic = req.headers.authorization;
  const paramUser = params.get('user');
  let name = 'default';
  let password = '';
  const methods = [
    headerUser !== undefined || headerKey !== undefined,
    basic !== undefined,
    paramUser !== null || params.has('password'),
  ];
  if (methods.filter(Boolean).length > 1) {
    throw protocolError(
      'AUTHENTICATION_FAILED',
      'Invalid authentication: it is not allowed to use Authorization HTTP header and authentication via parameters simultaneously',
    );
  }
  if (methods[0]) {
    name = String(headerUser ?? 'default');
    password = String(headerKey ?? '');
  } else if (basic) {
    const m = /^Basic\s+(.+)$/i.exec(basic);
    if (!m)
      throw protocolError(
        'AUTHENTICATION_FAILED',
        'Invalid authentication: only Basic authorization is supported',
      );
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    name = colon < 0 ? decoded : decoded.slice(0, colon);
    password = colon < 0 ? '' : decoded.slice(colon + 1);
  } else if (methods[2]) {
    name = paramUser ?? 'default';
    password = params.get('password') ?? '';
  }
  const user = users.get(name);
  const expected = user ? Buffer.from(user.passwordSha256, 'hex') : sha256(randomUUID());
  if (!user || expected.length !== 32 || !timingSafeEqual(expected, sha256(password))) {
    throw protocolError(
      'AUTHENTICATION_FAILED',
      `${name}: Authentication failed: password is incorrect, or there is no user with such name`,
    );
  }
  return user;
}
