import { createHmac } from 'node:crypto';
import type { CredentialKind } from '@apiwatch/core';

/** What a credential becomes in an event: never the secret itself. */
export interface CanonicalCredential {
  kind: CredentialKind;
  fingerprint: string | null;
  ref: string | null;
  issuer: string | null;
  user: string | null;
  service: string | null;
  tenant: string | null;
  scopes: string[];
}

export interface IdentityContext {
  /** Keyed HMAC-SHA256 of a secret, base64url, prefixed with the key id so rotations are visible. */
  fingerprint(secret: string): string;
  /** Reads an Authorization header value (Basic, Bearer JWT or opaque, Negotiate, ApiKey). */
  fromAuthorization(header: string): CanonicalCredential;
  /** An API key presented in a header or query parameter. */
  fromApiKey(key: string): CanonicalCredential;
}

const NONE: CanonicalCredential = {
  kind: 'none',
  fingerprint: null,
  ref: null,
  issuer: null,
  user: null,
  service: null,
  tenant: null,
  scopes: [],
};

/**
 * The identity translator (NIST SP 800-228): `key` is the fingerprint key from env or file;
 * `keyId` names it, so after a rotation old and new fingerprints are told apart (docs/identity.md).
 */
export function createIdentityContext(key: Buffer, keyId: string): IdentityContext {
  const fingerprint = (secret: string): string =>
    `${keyId}:${createHmac('sha256', key).update(secret).digest('base64url').slice(0, 32)}`;

  const fromApiKey = (apiKey: string): CanonicalCredential => ({
    ...NONE,
    kind: 'api_key',
    fingerprint: fingerprint(apiKey),
  });

  return {
    fingerprint,
    fromApiKey,
    fromAuthorization(header: string): CanonicalCredential {
      const value = header.trim();
      const space = value.indexOf(' ');
      const scheme = (space < 0 ? value : value.slice(0, space)).toLowerCase();
      const token = space < 0 ? '' : value.slice(space + 1).trim();
      if (!token) return NONE;
      switch (scheme) {
        case 'basic': {
          // The username only; the password is neither kept nor fingerprinted.
          let decoded = '';
          try {
            decoded = Buffer.from(token, 'base64').toString('utf8');
          } catch {
            decoded = '';
          }
          const user = decoded.includes(':') ? decoded.slice(0, decoded.indexOf(':')) : null;
          return { ...NONE, kind: 'basic', user: user || null, ref: user || null };
        }
        case 'bearer': {
          const claims = decodeJwtClaims(token);
          if (!claims) return { ...NONE, kind: 'session', fingerprint: fingerprint(token) };
          return jwtCredential(claims, fingerprint(token));
        }
        case 'negotiate':
          // SPNEGO tickets are opaque here; the principal must come from a gateway header.
          return { ...NONE, kind: 'kerberos', fingerprint: fingerprint(token) };
        case 'apikey':
        case 'api-key':
        case 'token':
          return fromApiKey(token);
        default:
          return { ...NONE, kind: 'session', fingerprint: fingerprint(value) };
      }
    },
  };
}

/** Decodes (does not verify) the claims of a compact JWS; null when it is not one. */
export function decodeJwtClaims(token: string): Record<string, unknown> | null {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[1]) return null;
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    return claims && typeof claims === 'object' && !Array.isArray(claims) ? (claims as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function claimString(claims: Record<string, unknown>, name: string): string | null {
  const v = claims[name];
  return typeof v === 'string' && v.length > 0 ? v.slice(0, 512) : null;
}

/** JWT claims → identities: `sub` is the user unless it equals the client (client-credentials grant). */
export function jwtCredential(claims: Record<string, unknown>, fingerprint: string | null): CanonicalCredential {
  const sub = claimString(claims, 'sub');
  const client = claimString(claims, 'client_id') ?? claimString(claims, 'azp') ?? claimString(claims, 'cid');
  const scope = claims.scope ?? claims.scp;
  const scopes = Array.isArray(scope)
    ? scope.filter((s): s is string => typeof s === 'string')
    : typeof scope === 'string'
      ? scope.split(' ').filter(Boolean)
      : [];
  const isMachine = sub !== null && client !== null && sub === client;
  return {
    kind: 'jwt',
    fingerprint,
    ref: claimString(claims, 'jti'),
    issuer: claimString(claims, 'iss'),
    user: isMachine ? null : sub,
    service: client,
    tenant: claimString(claims, 'tenant') ?? claimString(claims, 'tid') ?? claimString(claims, 'org_id'),
    scopes: scopes.slice(0, 64),
  };
}
