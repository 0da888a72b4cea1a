import type { EventDraft } from '@apiwatch/core';
import type { CanonicalCredential, IdentityContext } from './context.ts';

/** Raw identity material a parser found in one record. Secrets go in, only fingerprints come out. */
export interface IdentityClues {
  authorization?: string | null;
  apiKey?: string | null;
  basicUser?: string | null;
  /** mTLS client certificate: a SPIFFE id (URI SAN) or the subject DN. */
  mtlsSubject?: string | null;
  mtlsVerified?: boolean;
  /** An identity the gateway authenticated and forwarded (e.g. an ext_authz user header). */
  user?: string | null;
  service?: string | null;
  tenant?: string | null;
  credentialRef?: string | null;
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
>;

/**
 * Picks the strongest credential among the clues (mTLS, then a bearer/authorization header, then
 * an API key, then a Basic username) and keeps the service and user identities apart.
 */
export function credentialDraft(identity: IdentityContext, clues: IdentityClues): IdentityDraft {
  let cred: CanonicalCredential | null = null;
  if (clues.authorization) cred = identity.fromAuthorization(clues.authorization);
  if ((!cred || cred.kind === 'none') && clues.apiKey) cred = identity.fromApiKey(clues.apiKey);
  const basicUser = clues.basicUser ?? null;
  const mtls = clues.mtlsSubject && clues.mtlsVerified !== false ? clues.mtlsSubject : null;
  const kind = cred && cred.kind !== 'none' ? cred.kind : mtls ? 'mtls' : basicUser ? 'basic' : 'none';
  return {
    credentialKind: kind,
    credentialFingerprint: cred?.fingerprint ?? null,
    credentialRef: clues.credentialRef ?? cred?.ref ?? (kind === 'basic' ? basicUser : null),
    credentialIssuer: cred?.issuer ?? null,
    user: clues.user ?? cred?.user ?? basicUser,
    service: clues.service ?? cred?.service ?? (mtls ? spiffeOrSubject(mtls) : null),
    tenant: clues.tenant ?? cred?.tenant ?? null,
    scopes: cred?.scopes ?? [],
  };
}

function spiffeOrSubject(value: string): string {
  const spiffe = /spiffe:\/\/[^\s,;]+/.exec(value);
  return spiffe ? spiffe[0] : value;
}
