import { type IdentityConfigValue, type IdentitySourceOverrideValue, loadConfig } from '@apiwatch/core';

/**
 * The identity mapping rules of one source, resolved from the `identity` config section: the
 * top-level rules with the source's override (keyed by format id) laid over them key by key.
 * Claim and header lists are ordered: the first one present wins.
 */
export interface IdentityRules {
  userClaims: readonly string[];
  serviceClaims: readonly string[];
  tenantClaims: readonly string[];
  scopeClaims: readonly string[];
  issuerClaim: string;
  refClaim: string;
  /** Lower-case header names whose value is an API key. */
  apiKeyHeaders: readonly string[];
  /** Lower-case cookie names whose value is a session credential. */
  sessionCookies: readonly string[];
  /** Lower-case names of headers an authenticating proxy sets; never trusted unless configured. */
  userHeaders: readonly string[];
  serviceHeaders: readonly string[];
  tenantHeaders: readonly string[];
  kerberosHeaders: readonly string[];
  clientCertHeaders: readonly string[];
}

let defaults: IdentityConfigValue | null = null;

/** The schema's defaults, taken from the real config loader so they are defined in one place. */
export function defaultIdentityConfig(): IdentityConfigValue {
  defaults ??= loadConfig(undefined, {}).identity;
  return defaults;
}

let defaultRules: IdentityRules | null = null;

/** The default rules with no source override (resolved once). */
export function defaultIdentityRules(): IdentityRules {
  defaultRules ??= resolveIdentityRules();
  return defaultRules;
}

const list = (v: string | readonly string[]): string[] => (typeof v === 'string' ? [v] : [...v]);
const lower = (v: readonly string[]): string[] => v.map((s) => s.toLowerCase());

export function resolveIdentityRules(
  config: IdentityConfigValue = defaultIdentityConfig(),
  source: string | null = null,
): IdentityRules {
  const o: IdentitySourceOverrideValue = (source ? config.sources[source] : undefined) ?? {};
  const jwt = { ...config.jwt, ...o.jwt };
  const headers = { ...config.trustedHeaders, ...o.trustedHeaders };
  return Object.freeze({
    userClaims: list(jwt.userClaim),
    serviceClaims: list(jwt.serviceClaim),
    tenantClaims: list(jwt.tenantClaim),
    scopeClaims: list(jwt.scopesClaim),
    issuerClaim: jwt.issuerClaim,
    refClaim: jwt.refClaim,
    apiKeyHeaders: lower(o.apiKeyHeaders ?? config.apiKeyHeaders),
    sessionCookies: lower(o.sessionCookies ?? config.sessionCookies),
    userHeaders: lower(headers.user),
    serviceHeaders: lower(headers.service),
    tenantHeaders: lower(headers.tenant),
    kerberosHeaders: lower(headers.kerberosPrincipal),
    clientCertHeaders: lower(headers.clientCert),
  });
}
