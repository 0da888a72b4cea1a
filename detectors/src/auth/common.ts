/**
 * What the auth and recon detectors share: who a failed login targeted, which network a source is
 * in, how an endpoint is named. Kept small; each detector's judgement stays in its own file.
 */
import { type ApiEvent, actorEntity, type FindingEntity } from '@apiwatch/core';

/**
 * The account a login attempt names, when the log carries it: the Basic/JWT/auth-service user,
 * else the credential's non-secret ref (Basic sets it to the username). Never a fingerprint: a
 * guessed API key is not an account (that is auth.key_guessing).
 */
export function targetAccount(event: ApiEvent): string | null {
  return (
    event.identity.user ?? (event.identity.credential.kind === 'basic' ? event.identity.credential.ref : null)
  );
}

/** Credential kinds a password login presents (or none, when the username travels in the body). */
const PASSWORD_KINDS = new Set(['basic', 'none', 'kerberos']);

/**
 * Whether a call is a password login attempt that names its account, and how it ended. Token,
 * key and certificate calls are not password guesses (an expired JWT that refreshes is routine;
 * guessed keys are auth.key_guessing). A JSON-body login carries no credential, so its success is
 * a 2xx/3xx whose log names the user (the auth outcome is then `none`).
 */
export function loginOutcome(event: ApiEvent): 'failure' | 'success' | null {
  const id = event.identity;
  if (!PASSWORD_KINDS.has(id.credential.kind)) return null;
  if (targetAccount(event) === null) return null;
  if (id.auth === 'failure') return 'failure';
  if (id.auth === 'success') return 'success';
  const status = event.response.status;
  return status >= 200 && status < 400 ? 'success' : null;
}

/** The client address of a call, X-Forwarded-For aware (the ingest derivation), else the socket peer. */
export function sourceIp(event: ApiEvent): string | null {
  return event.client.ip ?? event.client.peerIp;
}

/**
 * The network a source counts as: an IPv4 address itself, an IPv6 /64 (one subscriber's prefix;
 * GitLab and rama key rate limits the same way).
 */
export function ipNet(ip: string | null): string {
  if (!ip) return 'unknown';
  if (!ip.includes(':')) return ip;
  return `${ipv6Groups(ip).slice(0, 4).join(':')}::/64`;
}

/** The wider network: IPv4 /24, IPv6 /48 (what a mobile client keeps when its address churns). */
export function net24(ip: string | null): string {
  if (!ip) return 'unknown';
  if (!ip.includes(':')) {
    const last = ip.lastIndexOf('.');
    return last > 0 ? `${ip.slice(0, last)}.0/24` : ip;
  }
  return `${ipv6Groups(ip).slice(0, 3).join(':')}::/48`;
}

function ipv6Groups(ip: string): string[] {
  const bare = ip.replace(/^\[|\]$/g, '').split('%')[0]!;
  const [head = '', tail] = bare.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const fill = tail !== undefined ? Math.max(0, 8 - h.length - t.length) : 0;
  return [...h, ...new Array<string>(fill).fill('0'), ...t].map((g) =>
    g.toLowerCase().replace(/^0+(?=.)/, ''),
  );
}

/** `<METHOD> <route>`: the endpoint id findings use; unrouted paths share one bucket (attackers pick paths). */
export function endpointOf(event: ApiEvent): string {
  return `${event.request.method} ${event.request.route ?? '(unrouted)'}`;
}

/** The entity for an actor key (`ip:…`, `credential:…`, `user:…`, `service:…`) with a readable name and ref. */
export function actorFindingEntity(actor: string, event: ApiEvent | null): FindingEntity {
  const { kind, id } = actorEntity(actor);
  if (kind === 'credential') {
    return {
      kind,
      id,
      name: event?.identity.service ?? event?.identity.user ?? null,
      ref: event?.identity.credential.ref ?? null,
    };
  }
  if (kind === 'ip') return { kind, id, name: id, ref: null };
  return { kind, id, name: id, ref: event?.identity.credential.ref ?? null };
}

/** Splits `<METHOD> <route>` back into the finding's method and route. */
export function splitEndpoint(endpoint: string): { method: string; route: string | null } {
  const space = endpoint.indexOf(' ');
  const method = endpoint.slice(0, space);
  const route = endpoint.slice(space + 1);
  return { method, route: route === '(unrouted)' ? null : route };
}

/** `x`, `x and y`, `x, y and 3 more` — for summaries. */
export function listForHumans(items: readonly string[], total: number, max = 3): string {
  const shown = items.slice(0, max);
  const more = total - shown.length;
  if (shown.length === 0) return '';
  if (more > 0) return `${shown.join(', ')} and ${more} more`;
  if (shown.length === 1) return shown[0]!;
  return `${shown.slice(0, -1).join(', ')} and ${shown[shown.length - 1]}`;
}

/** "5 min", "90 s", "2 h" for a window in seconds. */
export function formatSpan(seconds: number): string {
  if (seconds >= 3600 && seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds >= 120) return `${Math.round(seconds / 60)} min`;
  return `${Math.max(1, Math.round(seconds))} s`;
}

/**
 * A small ring of the most recent distinct values (sample accounts, paths, sources) for evidence:
 * bounded length, each value clipped.
 */
export function pushSample(list: string[], value: string, max: number, maxLength = 128): void {
  const v = value.length > maxLength ? `${value.slice(0, maxLength)}…` : value;
  if (list.length >= max || list.includes(v)) return;
  list.push(v);
}
