import type { ApiEvent } from './event.ts';

/**
 * The acting principal of a call, as a detector should reason about it (docs/design.md §3): the
 * credential fingerprint, else the user, else the calling service, else the client IP. For JWTs
 * the subject (or client) comes first, since tokens are re-issued on refresh.
 *
 * When authentication failed, the identity the caller *claimed* is unverified: every guessed
 * password or key has its own fingerprint, so keying on it would scatter one attacker over
 * thousands of actors. For a failed call the actor is therefore the origin — the calling service
 * when the transport verified it (mTLS), else the client IP.
 */
export function actorKey(event: ApiEvent): string {
  if (event === memoEvent) {
    if (memoKey === null) memoKey = computeActorKey(event);
    return memoKey;
  }
  return computeActorKey(event);
}

/**
 * The event whose actor key actorKey remembers (null: none). The detection runtime arms it with
 * each event it runs, so the detectors that key by actor share one string per event (one
 * template build, one hash for the stores' Map lookups) instead of building one each; it clears
 * it after, so an event changed later is never answered from the memo (decision 0026).
 */
let memoEvent: ApiEvent | null = null;
let memoKey: string | null = null;

/** Arms (or, with null, clears) actorKey's one-event memo; see memoEvent. */
export function memoActorKey(event: ApiEvent | null): void {
  memoEvent = event;
  memoKey = null;
}

function computeActorKey(event: ApiEvent): string {
  const id = event.identity;
  if (id.auth === 'failure') {
    if (id.credential.kind === 'mtls' && id.service) return `service:${id.service}`;
    return ipActor(event);
  }
  // A JWT is re-issued on every refresh, so its fingerprint would split one principal into many
  // actors: the subject (or the client, for machine tokens) is the stable identity.
  if (id.credential.kind === 'jwt' && (id.user || id.service))
    return id.user ? `user:${id.user}` : `service:${id.service}`;
  if (id.credential.fingerprint) return `credential:${id.credential.fingerprint}`;
  if (id.user) return `user:${id.user}`;
  if (id.service) return `service:${id.service}`;
  return ipActor(event);
}

function ipActor(event: ApiEvent): string {
  return `ip:${event.client.ip ?? event.client.peerIp ?? 'unknown'}`;
}

/** Splits an actor key into the finding entity it names. */
export function actorEntity(key: string): { kind: 'credential' | 'user' | 'service' | 'ip'; id: string } {
  const colon = key.indexOf(':');
  const kind = key.slice(0, colon);
  const id = key.slice(colon + 1);
  if (kind === 'credential' || kind === 'user' || kind === 'service' || kind === 'ip') return { kind, id };
  throw new Error(`not an actor key: ${key}`);
}
