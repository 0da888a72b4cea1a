import { createHash } from 'node:crypto';
import type { ApiEvent, AuthOutcome, CredentialKind, PrincipalKind } from './event.ts';

/** What a parser knows about one call; everything else gets its canonical default. */
export interface EventDraft {
  ts: number;
  method: string;
  path: string;
  status: number;
  sourceKind: string;
  /** The raw record, hashed into a stable event id when the gateway gave no request id. */
  raw: string;
  scheme?: string | null;
  host?: string | null;
  queryKeys?: string[];
  route?: string | null;
  requestBytes?: number | null;
  requestId?: string | null;
  responseBytes?: number | null;
  latencyMs?: number | null;
  clientIp?: string | null;
  peerIp?: string | null;
  userAgent?: string | null;
  credentialKind?: CredentialKind;
  credentialFingerprint?: string | null;
  credentialRef?: string | null;
  credentialIssuer?: string | null;
  service?: string | null;
  user?: string | null;
  tenant?: string | null;
  scopes?: string[];
  auth?: AuthOutcome;
  traceId?: string | null;
  spanId?: string | null;
  gateway?: string | null;
}

/** A stable id for a source record: the same line always yields the same id (idempotent storage). */
export function stableEventId(sourceKind: string, raw: string): string {
  return createHash('sha256').update(sourceKind).update('\0').update(raw).digest('base64url').slice(0, 22);
}

/**
 * Authentication outcome when the gateway did not report one: 401/407 mean the credential was
 * refused; a 2xx/3xx that carried a credential means it was accepted.
 */
export function inferAuthOutcome(status: number, credentialKind: CredentialKind): AuthOutcome {
  if (status === 401 || status === 407) return 'failure';
  if (credentialKind === 'none') return 'none';
  if (status >= 200 && status < 400) return 'success';
  return 'unknown';
}

function principalOf(user: string | null, service: string | null, kind: CredentialKind, auth: AuthOutcome): PrincipalKind {
  if (user) return 'user';
  if (service) return 'batch';
  if (kind === 'none' && auth !== 'failure') return 'anonymous';
  return 'unknown';
}

export function buildEvent(d: EventDraft, ingestTs: number = Date.now()): ApiEvent {
  const credentialKind = d.credentialKind ?? 'none';
  const auth = d.auth ?? inferAuthOutcome(d.status, credentialKind);
  const user = d.user ?? null;
  const service = d.service ?? null;
  return {
    schemaVersion: 1,
    id: d.requestId ? `${d.sourceKind}:${d.requestId}` : stableEventId(d.sourceKind, d.raw),
    ts: Math.trunc(d.ts),
    ingestTs,
    request: {
      method: d.method.toUpperCase(),
      scheme: d.scheme ?? null,
      host: d.host ?? null,
      path: d.path,
      queryKeys: d.queryKeys ?? [],
      route: d.route ?? null,
      bytes: d.requestBytes ?? null,
      requestId: d.requestId ?? null,
    },
    response: { status: d.status, bytes: d.responseBytes ?? null, latencyMs: d.latencyMs ?? null },
    client: { ip: d.clientIp ?? null, peerIp: d.peerIp ?? null, userAgent: d.userAgent ?? null },
    identity: {
      credential: {
        kind: credentialKind,
        fingerprint: d.credentialFingerprint ?? null,
        ref: d.credentialRef ?? null,
        issuer: d.credentialIssuer ?? null,
      },
      principal: principalOf(user, service, credentialKind, auth),
      service,
      user,
      tenant: d.tenant ?? null,
      scopes: d.scopes ?? [],
      auth,
    },
    objects: [],
    trace: { traceId: d.traceId ?? null, spanId: d.spanId ?? null },
    source: { kind: d.sourceKind, gateway: d.gateway ?? null, collector: null },
  };
}
