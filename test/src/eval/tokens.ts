import type { Rng } from '../random.ts';

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * A compact JWS with the given claims and a random signature: the gateways log it (Kong 2.x in
 * the clear, NGINX without its signature through the documented map) and apiwatch decodes the
 * claims without verifying them, as it does in production.
 */
export function makeJwt(rng: Rng, claims: Record<string, unknown>): string {
  return `${b64url({ alg: 'RS256', typ: 'JWT', kid: 'k2026' })}.${b64url(claims)}.${rng.token(43)}`;
}

export interface UserTokenClaims {
  iss: string;
  sub: string;
  tenant?: string | null;
  scopes?: readonly string[];
  clientId?: string;
  iat: number;
  /** Lifetime, seconds. */
  ttlSeconds?: number;
}

export function userToken(rng: Rng, c: UserTokenClaims): string {
  const iat = Math.floor(c.iat / 1000);
  return makeJwt(rng, {
    iss: c.iss,
    sub: c.sub,
    ...(c.tenant ? { tid: c.tenant } : {}),
    ...(c.scopes ? { scope: c.scopes.join(' ') } : {}),
    ...(c.clientId ? { client_id: c.clientId } : {}),
    jti: rng.hex(8),
    iat,
    exp: iat + (c.ttlSeconds ?? 3600),
  });
}

/** A client-credentials token: `sub` is the client, so apiwatch reads a workload with no user. */
export function machineToken(
  rng: Rng,
  iss: string,
  clientId: string,
  scopes: readonly string[],
  iatMs: number,
): string {
  const iat = Math.floor(iatMs / 1000);
  return makeJwt(rng, {
    iss,
    sub: clientId,
    client_id: clientId,
    scope: scopes.join(' '),
    gty: 'client-credentials',
    jti: rng.hex(8),
    iat,
    exp: iat + 3600,
  });
}
