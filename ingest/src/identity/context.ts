import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import type { CredentialKind, IdentityConfigValue } from '@apiwatch/core';
import {
  defaultIdentityConfig,
  defaultIdentityRules,
  type IdentityRules,
  resolveIdentityRules,
} from './rules.ts';

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

/** A fingerprint key and the id that names it (the `k1:` prefix of every fingerprint). */
export interface FingerprintKey {
  key: Buffer;
  keyId: string;
}

export interface IdentityContextOptions {
  /** The `identity` config section; defaults to the schema's defaults. */
  identity?: IdentityConfigValue;
  /** Format id whose per-source override applies (`identity.sources.<id>`). */
  source?: string | null;
  /**
   * The key being rotated out. While set, every secret is also fingerprinted under it and the
   * pair is remembered (bounded) so stores and baselines can carry an actor across the rotation.
   */
  previous?: FingerprintKey | null;
  /** Most current→previous pairs kept before new ones are dropped (counted). Default 100 000. */
  maxRotationAliases?: number;
}

/** One credential seen during a key rotation overlap: its fingerprint under the new and the old key. */
export interface RotationAlias {
  current: string;
  previous: string;
}

export interface IdentityContext {
  /** Id of the current fingerprint key. */
  readonly keyId: string;
  /** Format id whose rules this context applies; null for the top-level rules. */
  readonly source: string | null;
  readonly rules: IdentityRules;
  /** Keyed HMAC-SHA256 of a secret, base64url, prefixed with the key id so rotations are visible. */
  fingerprint(secret: string): string;
  /** The fingerprint under the previous key during a rotation overlap, else null. */
  previousFingerprint(secret: string): string | null;
  /** Reads an Authorization header value (Basic, Bearer JWT or opaque, Negotiate, Digest, AWS SigV4, ApiKey). */
  fromAuthorization(header: string): CanonicalCredential;
  /** An API key presented in a header or query parameter. */
  fromApiKey(key: string): CanonicalCredential;
  /** JWT claims (decoded here, or already decoded by a gateway) mapped by this source's claim rules. */
  fromJwtClaims(claims: Record<string, unknown>, fingerprint: string | null): CanonicalCredential;
  /** The same key with the rules of another source (per-source overrides keyed by format id). */
  forSource(source: string): IdentityContext;
  /** Takes the current→previous fingerprint pairs recorded since the last call (rotation overlap only). */
  drainRotationAliases(): RotationAlias[];
  /** Rotation pairs not kept because the buffer was full. */
  readonly rotationAliasesDropped: number;
}

export const NO_CREDENTIAL: CanonicalCredential = Object.freeze({
  kind: 'none',
  fingerprint: null,
  ref: null,
  issuer: null,
  user: null,
  service: null,
  tenant: null,
  scopes: [] as string[],
}) as CanonicalCredential;

const KEY_ID = /^[A-Za-z0-9_.-]{1,16}$/;

/** Values gateways log in place of a credential they already removed (Kong 3.x, Traefik `redact`). */
const ALREADY_REDACTED = new Set(['redacted', '[redacted]', '***', '<redacted>', 'xxx']);

export function isAlreadyRedacted(value: string): boolean {
  return ALREADY_REDACTED.has(value.trim().toLowerCase());
}

interface RotationState {
  aliases: Map<string, string>;
  dropped: number;
}

/**
 * The identity translator (NIST SP 800-228): `key` is the fingerprint key from env or file;
 * `keyId` names it, so after a rotation old and new fingerprints are told apart (docs/identity.md).
 */
export function createIdentityContext(
  key: Buffer,
  keyId: string,
  options: IdentityContextOptions = {},
): IdentityContext {
  if (!KEY_ID.test(keyId)) throw new Error(`fingerprint key id "${keyId}" must match ${KEY_ID.source}`);
  const previous = options.previous ?? null;
  if (previous && previous.keyId === keyId) {
    throw new Error(`the previous fingerprint key must have another id than the current one (${keyId})`);
  }
  if (previous && !KEY_ID.test(previous.keyId)) {
    throw new Error(`previous fingerprint key id "${previous.keyId}" must match ${KEY_ID.source}`);
  }
  const config = options.identity ?? defaultIdentityConfig();
  const maxAliases = options.maxRotationAliases ?? 100_000;
  const rotation: RotationState = { aliases: new Map(), dropped: 0 };
  return build(key, keyId, previous, config, options.source ?? null, rotation, maxAliases);
}

// createHmac with a Buffer key imports the key on every call (~13 µs); a KeyObject made once
// makes a fingerprint ~7x cheaper, which the parse budget (150k events/s per core) needs.
const keyObjects = new WeakMap<Buffer, KeyObject>();

function hmac(key: Buffer, keyId: string, secret: string): string {
  let keyObject = keyObjects.get(key);
  if (!keyObject) {
    keyObject = createSecretKey(key);
    keyObjects.set(key, keyObject);
  }
  return `${keyId}:${createHmac('sha256', keyObject).update(secret).digest('base64url').slice(0, 32)}`;
}

function build(
  key: Buffer,
  keyId: string,
  previous: FingerprintKey | null,
  config: IdentityConfigValue,
  source: string | null,
  rotation: RotationState,
  maxAliases: number,
): IdentityContext {
  const rules = resolveIdentityRules(config, source);

  const fingerprint = (secret: string): string => {
    const current = hmac(key, keyId, secret);
    if (previous && !rotation.aliases.has(current)) {
      if (rotation.aliases.size < maxAliases)
        rotation.aliases.set(current, hmac(previous.key, previous.keyId, secret));
      else rotation.dropped++;
    }
    return current;
  };

  const fromApiKey = (apiKey: string): CanonicalCredential => ({
    ...NO_CREDENTIAL,
    kind: 'api_key',
    fingerprint: fingerprint(apiKey.trim()),
  });

  const fromJwtClaims = (claims: Record<string, unknown>, fp: string | null) =>
    jwtCredential(claims, fp, rules);

  return {
    keyId,
    source,
    rules,
    fingerprint,
    previousFingerprint: (secret) => (previous ? hmac(previous.key, previous.keyId, secret) : null),
    fromApiKey,
    fromJwtClaims,
    forSource: (id) => build(key, keyId, previous, config, id, rotation, maxAliases),
    drainRotationAliases() {
      const out = [...rotation.aliases].map(([current, prev]) => ({ current, previous: prev }));
      rotation.aliases.clear();
      return out;
    },
    get rotationAliasesDropped() {
      return rotation.dropped;
    },
    fromAuthorization(header: string): CanonicalCredential {
      const value = header.trim();
      if (!value || isAlreadyRedacted(value)) return NO_CREDENTIAL;
      const space = value.indexOf(' ');
      const scheme = (space < 0 ? value : value.slice(0, space)).toLowerCase();
      const token = space < 0 ? '' : value.slice(space + 1).trim();
      if (!token || isAlreadyRedacted(token)) return NO_CREDENTIAL;
      switch (scheme) {
        case 'basic': {
          // The username only; the password is neither kept nor fingerprinted.
          const user = basicUsername(token);
          return { ...NO_CREDENTIAL, kind: 'basic', user, ref: user };
        }
        case 'digest': {
          const user = /(?:^|,)\s*username="([^"]{1,512})"/i.exec(token)?.[1] ?? null;
          return { ...NO_CREDENTIAL, kind: 'basic', user, ref: user };
        }
        case 'bearer': {
          const claims = decodeJwtClaims(token);
          if (!claims) return { ...NO_CREDENTIAL, kind: 'session', fingerprint: fingerprint(token) };
          return jwtCredential(claims, fingerprint(token), rules);
        }
        case 'negotiate':
        case 'kerberos':
          // A SPNEGO token is opaque here and differs on every request (its authenticator is
          // fresh), so a fingerprint would scatter one principal over many actors. The principal
          // must come from the gateway (trustedHeaders.kerberosPrincipal).
          return { ...NO_CREDENTIAL, kind: 'kerberos' };
        case 'aws4-hmac-sha256': {
          // SigV4: the access key id is an identifier, not the secret; the signature differs per request.
          const accessKeyId = /Credential=([A-Z0-9]{16,128})\//.exec(token)?.[1] ?? null;
          if (!accessKeyId) return NO_CREDENTIAL;
          return {
            ...NO_CREDENTIAL,
            kind: 'api_key',
            fingerprint: fingerprint(accessKeyId),
            ref: accessKeyId,
          };
        }
        case 'apikey':
        case 'api-key':
        case 'token':
        case 'key':
          return fromApiKey(token);
        default:
          return { ...NO_CREDENTIAL, kind: 'session', fingerprint: fingerprint(value) };
      }
    },
  };
}

function basicUsername(token: string): string | null {
  if (!/^[A-Za-z0-9+/=_-]+$/.test(token)) return null;
  const decoded = Buffer.from(token, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return null;
  const user = decoded.slice(0, colon);
  // A username with control characters is not text a person typed: do not keep it.
  return /^[^\p{Cc}]{1,512}$/u.test(user) ? user : null;
}

/** Decodes (does not verify) the claims of a compact JWS; null when it is not one. */
export function decodeJwtClaims(token: string): Record<string, unknown> | null {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[1] || parts[1].length > 16_384) return null;
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    return claims && typeof claims === 'object' && !Array.isArray(claims)
      ? (claims as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

function claimString(claims: Record<string, unknown>, name: string, max = 512): string | null {
  const v = claimValue(claims, name);
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return typeof v === 'string' && v.length > 0 ? v.slice(0, max) : null;
}

/** A claim by name; a dotted name (`realm_access.roles`) reaches into providers' nested claims. */
function claimValue(claims: Record<string, unknown>, name: string): unknown {
  return name.includes('.') && !(name in claims) ? nestedClaim(claims, name) : claims[name];
}

function nestedClaim(claims: Record<string, unknown>, path: string): unknown {
  let v: unknown = claims;
  for (const part of path.split('.')) {
    if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

function firstClaim(claims: Record<string, unknown>, names: readonly string[], max = 512): string | null {
  for (const n of names) {
    const v = claimString(claims, n, max);
    if (v !== null) return v;
  }
  return null;
}

function scopesOf(claims: Record<string, unknown>, names: readonly string[]): string[] {
  for (const n of names) {
    const v = claimValue(claims, n);
    const scopes = Array.isArray(v)
      ? v.filter((s): s is string => typeof s === 'string')
      : typeof v === 'string'
        ? v.split(/[\s,]+/)
        : [];
    const kept = scopes.filter((s) => s.length > 0 && s.length <= 256);
    if (kept.length > 0) return kept.slice(0, 64);
  }
  return [];
}

/**
 * Tokens an OAuth client got for itself (client-credentials grant): no end user is behind them,
 * whatever `sub` says. Recognised by provider conventions: `sub` equal to the client id, Auth0's
 * `gty` and `@clients` subject, Azure AD's `idtyp: app`, Keycloak's `service-account-` users.
 */
function isMachineToken(claims: Record<string, unknown>, sub: string | null, client: string | null): boolean {
  if (sub !== null && client !== null && sub === client) return true;
  if (claims.gty === 'client-credentials' || claims.grant_type === 'client_credentials') return true;
  if (claims.idtyp === 'app') return true;
  if (sub?.endsWith('@clients')) return true;
  const preferred = claims.preferred_username;
  return typeof preferred === 'string' && preferred.startsWith('service-account-');
}

/**
 * JWT claims → identities, by the source's claim rules (defaults: user `sub`, service
 * `client_id|azp|cid|appid`, tenant `tid|tenant|tenant_id|org_id`, scopes `scope|scp`). A machine
 * token has no user: the call is a batch/service call (`principal: 'batch'`).
 */
export function jwtCredential(
  claims: Record<string, unknown>,
  fingerprint: string | null,
  rules: IdentityRules = defaultIdentityRules(),
): CanonicalCredential {
  const user = firstClaim(claims, rules.userClaims);
  const sub = claimString(claims, 'sub');
  const client = firstClaim(claims, rules.serviceClaims);
  const machine = isMachineToken(claims, sub, client);
  return {
    kind: 'jwt',
    fingerprint,
    ref: claimString(claims, rules.refClaim),
    issuer: claimString(claims, rules.issuerClaim),
    user: machine ? null : user,
    service: client ?? (machine ? sub : null),
    tenant: firstClaim(claims, rules.tenantClaims, 256),
    scopes: scopesOf(claims, rules.scopeClaims),
  };
}
