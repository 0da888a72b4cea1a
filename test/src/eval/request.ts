/**
 * What the generator produces before any gateway format: one HTTP exchange as a gateway saw it.
 * Renderers (render.ts) turn it into a Kong or NGINX log record; the real parsers turn that back
 * into events. `template` and `label` never reach the rendered record: they are the ground truth.
 */

/** The credential the client presented, as it appears on the wire. */
export type WireAuth =
  | { kind: 'none' }
  /** A compact JWS (`header.payload.signature`), sent as `Authorization: Bearer …`. */
  | { kind: 'jwt'; token: string }
  | { kind: 'basic'; user: string; password: string }
  /** An API key in the `x-api-key` header. */
  | { kind: 'apikey'; key: string };

/** What a Kong auth plugin (key-auth, jwt) attached after accepting the credential. */
export interface KongConsumer {
  id: string;
  username: string;
  /** The credential entity id (authenticated_entity.id): what Kong's Admin API revokes. */
  credentialId: string;
}

export interface GenRequest {
  /** Request start, event time ms. */
  ts: number;
  host: string;
  method: string;
  /** Raw path as sent (percent-encoding kept). */
  path: string;
  /** Query string without `?`, '' when none. */
  query: string;
  status: number;
  reqBytes: number;
  respBytes: number;
  latencyMs: number;
  /** The client's address (X-Forwarded-For first hop behind the load balancer). */
  clientIp: string;
  /** The load balancer in front of the gateway (NGINX `$remote_addr`). */
  peerIp: string;
  ua: string;
  auth: WireAuth;
  /** Set when a Kong auth plugin accepted the credential. */
  consumer: KongConsumer | null;
  /** 32 hex, what the gateway generated. */
  requestId: string;
  /** The spec (or would-be) route template the generator meant: for labels and drops, never rendered. */
  template: string;
  /** Index of the attack label this request belongs to; -1 for benign traffic. */
  label: number;
}

/** Ground truth of one injected attack, before the corpus is parsed (event ids unknown yet). */
export interface LabelDraft {
  /** Detector id from the catalogue (HELPERS.md): the kind of attack. */
  kind: string;
  /** Which variant of the attack (for the report: rates, id shapes, sources). */
  variant: string;
  description: string;
  /** Event time the attack starts and ends (ms). */
  start: number;
  end: number;
  /**
   * Entities a finding may name for this attack (`kind:id`, e.g. `ip:203.0.113.9`,
   * `user:u_1a2b3c4d`, `endpoint:POST /v1/oauth/token`). More are added from the parsed events
   * when `attackerIsActor` / `attackerIsEndpoint` are set (fingerprints are known only then).
   */
  attacker: string[];
  /** Add the actor key (core actorKey) of every labelled event to `attacker`. */
  attackerIsActor?: boolean;
  /** Add `endpoint:<METHOD> <route>` of every labelled event to `attacker`. */
  attackerIsEndpoint?: boolean;
  /** How long after `end` a finding still counts as detecting this attack (ms). */
  graceMs: number;
  /**
   * When the attack's defining event happens, if later than `start` (ms): time to detect counts
   * from here. For auth.success_after_failures, the successful login — the failures before it
   * are the guessing (auth.brute_force's label), and nothing can flag a compromise before it
   * happened. Absent: time to detect counts from `start`.
   */
  detectableFrom?: number;
  /** Benign traffic to remove (a route drop) or turn into 5xx (an error spike) inside [start, end]. */
  effect?: {
    host: string;
    method: string;
    template: string;
    /** Share of matching benign requests kept (drop) or turned into 5xx (errors). */
    share: number;
    mode: 'drop' | 'errors';
  };
}
