import type { AuthOutcome, EventDraft } from '@apiwatch/core';
import { type CanonicalCredential, type IdentityContext, isAlreadyRedacted } from './context.ts';

/**
 * Raw identity material a parser found in one record. Secrets go in, only fingerprints come out.
 * Every field is optional: a parser passes what its format carries and the identity rules of
 * its source (docs/identity.md) do the rest.
 */
export interface IdentityClues {
  authorization?: string | null;
  apiKey?: string | null;
  basicUser?: string | null;
  /** mTLS client certificate: a SPIFFE id (URI SAN) or the subject DN. */
  mtlsSubject?: string | null;
  mtlsVerified?: boolean;
  /** Issuer DN of the client certificate. */
  mtlsIssuer?: string | null;
  /** A non-secret handle on the client certificate (serial or SHA-256), kept as the credential ref. */
  mtlsRef?: string | null;
  /** An identity the gateway authenticated and forwarded (e.g. an ext_authz user header). */
  user?: string | null;
  service?: string | null;
  tenant?: string | null;
  credentialRef?: string | null;
  /**
   * Request headers as the gateway logged them (names in any case, values a string or a list).
   * The source's configured API-key headers, session cookies and trusted identity headers are
   * read from them; `authorization` is read when `authorization` above is not given.
   */
  headers?: Readonly<Record<string, unknown>> | null;
  /** JWT claims a gateway already decoded (Envoy jwt_authn, AWS authorizer.claims, Istio request.auth.claims). */
  jwtClaims?: Readonly<Record<string, unknown>> | null;
  /** The Kerberos principal (`name[/instance]@REALM`) the gateway authenticated. */
  kerberosPrincipal?: string | null;
  /** An opaque session token (a cookie value the parser found itself). */
  sessionToken?: string | null;
  /** Issuer of the credential when the gateway names it apart from the token (e.g. Istio `iss/sub`). */
  issuer?: string | null;
  /** Scopes the gateway reports apart from the token (e.g. AWS authorizer.jwt.scopes). */
  scopes?: readonly string[] | null;
  /** The gateway's own authentication verdict, when it logs one; otherwise inferred from the status. */
  authOutcome?: AuthOutcome | null;
}

type IdentityDraft = Pick<
  EventDraft,
  | 'credentialKind'
  | 'credentialFingerprint'
  | 'credentialRef'
  | 'credentialIssuer'
  | 'user'
  | 'service'
  | 'tenant'
  | 'scopes'
  | 'auth'
>;

type HeaderLookup = (names: readonly string[]) => string | null;

const NO_HEADERS: HeaderLookup = () => null;

function headerText(lowerName: string, value: unknown): string | null {
  const text = Array.isArray(value)
    ? value.filter((v): v is string => typeof v === 'string').join(lowerName === 'cookie' ? '; ' : ', ')
    : typeof value === 'string'
      ? value
      : null;
  return text && text !== '-' ? text : null;
}

/**
 * Values are turned into text only when a configured name is looked up: most logged headers
 * (Accept, Connection, …) are never read, and converting them all cost the parsers ~10% of their
 * per-event budget.
 */
function headerLookup(headers: Readonly<Record<string, unknown>> | null | undefined): HeaderLookup {
  if (!headers) return NO_HEADERS;
  const byName = new Map<string, unknown>();
  for (const name in headers) byName.set(name.toLowerCase(), headers[name]);
  return (names) => {
    for (const n of names) {
      const raw = byName.get(n);
      if (raw === undefined) continue;
      const v = headerText(n, raw);
      if (v?.trim() && !isAlreadyRedacted(v)) return v.trim();
    }
    return null;
  };
}

const cap = (v: string | null | undefined, max: number): string | null => (v ? v.slice(0, max) : null);

/**
 * Picks the credential among the clues (an Authorization header or gateway-decoded JWT claims,
 * then an API key, a Kerberos principal, a session cookie, a verified client certificate, a
 * Basic username) and keeps the calling service and the end user apart. With a service and no
 * user the event's principal becomes `batch`.
 */
export function credentialDraft(identity: IdentityContext, clues: IdentityClues): IdentityDraft {
  const rules = identity.rules;
  const header = headerLookup(clues.headers);

  let cred: CanonicalCredential | null = null;
  const authorization = clues.authorization ?? header(['authorization']);
  if (authorization) cred = identity.fromAuthorization(authorization);
  if (clues.jwtClaims && (!cred || cred.kind === 'none' || cred.kind === 'jwt')) {
    // Claims the gateway verified beat our unverified decoding; the token (if any) keeps the fingerprint.
    cred = identity.fromJwtClaims(clues.jwtClaims as Record<string, unknown>, cred?.fingerprint ?? null);
  }
  const has = () => cred !== null && cred.kind !== 'none';
  if (!has()) {
    const apiKey =
      clues.apiKey && !isAlreadyRedacted(clues.apiKey) ? clues.apiKey : header(rules.apiKeyHeaders);
    if (apiKey) cred = identity.fromApiKey(apiKey);
  }

  const kerberos = parseKerberosPrincipal(clues.kerberosPrincipal ?? header(rules.kerberosHeaders));
  if (kerberos && (!has() || cred?.kind === 'kerberos')) {
    cred = {
      ...(cred ?? emptyOf('kerberos')),
      kind: 'kerberos',
      ref: kerberos.principal,
      issuer: kerberos.realm,
    };
  }

  if (!has()) {
    const session = clues.sessionToken ?? sessionCookie(header(['cookie']), rules.sessionCookies);
    if (session) cred = { ...emptyOf('session'), fingerprint: identity.fingerprint(session) };
  }

  const xfcc = parseXfcc(header(rules.clientCertHeaders));
  const mtlsSubject =
    clues.mtlsSubject && clues.mtlsVerified !== false ? clues.mtlsSubject : (xfcc?.subject ?? null);
  const mtlsService = mtlsSubject ? spiffeOrSubject(mtlsSubject) : null;
  const basicUser = clues.basicUser ?? null;

  const kind = has() ? cred!.kind : mtlsService ? 'mtls' : basicUser ? 'basic' : 'none';
  const ref =
    clues.credentialRef ??
    cred?.ref ??
    (kind === 'mtls' ? (clues.mtlsRef ?? xfcc?.hash ?? null) : kind === 'basic' ? basicUser : null);
  const issuer =
    cred?.issuer ??
    clues.issuer ??
    (kind === 'mtls' ? (clues.mtlsIssuer ?? trustDomainOf(mtlsService)) : null);

  const user =
    clues.user ??
    header(rules.userHeaders) ??
    cred?.user ??
    (kerberos && !kerberos.isService ? kerberos.principal : null) ??
    basicUser;
  const service =
    clues.service ??
    header(rules.serviceHeaders) ??
    mtlsService ??
    cred?.service ??
    (kerberos?.isService ? kerberos.principal : null);
  const scopes =
    cred && cred.scopes.length > 0
      ? cred.scopes
      : (clues.scopes ?? []).filter((s) => s.length <= 256).slice(0, 64);

  const draft: IdentityDraft = {
    credentialKind: kind,
    credentialFingerprint: cred?.fingerprint ?? null,
    credentialRef: cap(ref, 512),
    credentialIssuer: cap(issuer, 512),
    user: cap(user, 512),
    service: cap(service, 512),
    tenant: cap(clues.tenant ?? header(rules.tenantHeaders) ?? cred?.tenant, 256),
    scopes: [...scopes],
  };
  // Only a reported verdict is set: spreading `auth: undefined` would hide the parser's own.
  if (clues.authOutcome) draft.auth = clues.authOutcome;
  return draft;
}

function emptyOf(kind: CanonicalCredential['kind']): CanonicalCredential {
  return {
    kind,
    fingerprint: null,
    ref: null,
    issuer: null,
    user: null,
    service: null,
    tenant: null,
    scopes: [],
  };
}

function spiffeOrSubject(value: string): string {
  const spiffe = /spiffe:\/\/[^\s,;"]+/.exec(value);
  return spiffe ? spiffe[0] : value.trim();
}

function trustDomainOf(service: string | null): string | null {
  const m = service ? /^spiffe:\/\/([^/]+)/.exec(service) : null;
  return m ? `spiffe://${m[1]}` : null;
}

/**
 * `alice@EXAMPLE.COM` is a user; `HTTP/web01.example.com@EXAMPLE.COM` or `etl/batch@EXAMPLE.COM`
 * (an instance part) is a service principal. `DOMAIN\user` (Windows-style) is a user.
 */
export function parseKerberosPrincipal(
  value: string | null | undefined,
): { principal: string; realm: string | null; isService: boolean } | null {
  const principal = value?.trim();
  if (!principal || principal.length > 512 || /[\s\p{Cc}]/u.test(principal)) return null;
  const at = principal.lastIndexOf('@');
  const name = at > 0 ? principal.slice(0, at) : principal;
  const realm = at > 0 ? principal.slice(at + 1) || null : null;
  return { principal, realm, isService: name.includes('/') };
}

/** The value of the first configured session cookie present in a Cookie header. */
export function sessionCookie(cookieHeader: string | null, names: readonly string[]): string | null {
  if (!cookieHeader || names.length === 0) return null;
  const found = new Map<string, string>();
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim().toLowerCase();
    const value = part.slice(eq + 1).trim();
    if (value && !found.has(name)) found.set(name, value);
  }
  for (const n of names) {
    const v = found.get(n);
    if (v) return v;
  }
  return null;
}

/**
 * Envoy's `x-forwarded-client-cert`: elements separated by `,`, each `key=value` pairs separated
 * by `;` (values may be quoted). The last element describes the client of the nearest hop.
 */
export function parseXfcc(value: string | null): { subject: string | null; hash: string | null } | null {
  if (!value) return null;
  const elements = splitOutsideQuotes(value, ',');
  const last = elements[elements.length - 1];
  if (!last) return null;
  const pairs = new Map<string, string>();
  for (const pair of splitOutsideQuotes(last, ';')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const key = pair.slice(0, eq).trim().toLowerCase();
    let v = pair.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1).replace(/\\"/g, '"');
    if (!pairs.has(key)) pairs.set(key, v);
  }
  const uri = pairs.get('uri');
  const subject = uri?.startsWith('spiffe://') ? uri : (pairs.get('subject') ?? uri ?? null);
  const hash = pairs.get('hash') ?? null;
  return subject || hash
    ? { subject: subject || null, hash: hash && /^[0-9a-f]{64}$/i.test(hash) ? hash : null }
    : null;
}

function splitOutsideQuotes(text: string, sep: string): string[] {
  const out: string[] = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (c === sep && !quoted) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out.map((s) => s.trim()).filter(Boolean);
}
