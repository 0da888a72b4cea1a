/**
 * Small pieces the bola, spec and volume detectors share: the entity a finding names, route
 * keys, a fixed-size distinct counter, a tiny heavy-hitters table, and a string hash.
 */
import { type ApiEvent, actorEntity, type FindingEntity } from '@apiwatch/core';
import type { RouteRef } from '../baselines/index.ts';
import type { FindingDraft } from '../runtime/define.ts';

/** The actor as a finding entity: the key's kind and id, what a human recognises, the revocable handle. */
export function actorFindingEntity(actor: string, event: ApiEvent): FindingEntity {
  const { kind, id } = actorEntity(actor);
  const ident = event.identity;
  let name: string | null = id;
  if (kind === 'credential') name = ident.user ?? ident.service ?? ident.credential.ref ?? null;
  return { kind, id, name: name?.slice(0, 512) ?? null, ref: ident.credential.ref };
}

/** An endpoint entity: id `<METHOD> <route>` (the tenant goes in the finding's tenant). */
export function endpointEntity(method: string, route: string): FindingEntity {
  const id = `${method} ${route}`.slice(0, 512);
  return { kind: 'endpoint', id, name: id, ref: null };
}

/** The route as baselines key it ('' tenant for none), or null when the event has no route. */
export function routeRef(event: ApiEvent): RouteRef | null {
  const route = event.request.route;
  if (!route) return null;
  return { tenant: event.identity.tenant ?? '', route, method: event.request.method };
}

export const routeKey = (r: RouteRef) => `${r.tenant}\u0000${r.method}\u0000${r.route}`;

export function parseRouteKey(key: string): RouteRef {
  const [tenant = '', method = '', ...rest] = key.split('\u0000');
  return { tenant, method, route: rest.join('\u0000') };
}

/**
 * V8's internalized copy of `text` (a computed key is internalized, and for-in hands that copy
 * back; the string table is weak, so nothing outlives its holders): states that keep the same
 * principal or tenant under many keys then share one string instead of one copy each.
 */
export function intern(text: string): string {
  // The same few texts (a tenant, a service, a credential ref) come back again and again: the
  // last RECENT interned copies are checked first (a length and character compare) before a
  // computed key and for-in, which allocate an object and cost ~1 µs.
  for (let i = 0; i < RECENT; i++) if (recent[i] === text) return recent[i]!;
  let k = text;
  for (const p in { [text]: 0 }) {
    k = p;
    break;
  }
  recent[recentAt] = k;
  recentAt = (recentAt + 1) % RECENT;
  return k;
}

const RECENT = 16;
const recent: string[] = new Array<string>(RECENT).fill('');
let recentAt = 0;

/** FNV-1a, 32 bit: a stable, fast hash for sketches (not for security). */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Linear counting over a fixed bitmap (Whang et al. 1990): distinct values in `bits/8` bytes,
 * order-independent (replay-safe) and mergeable by OR. With 1024 bits (128 B) the standard
 * error is ~3% at 1000 distinct and the estimate saturates near 7000 — far above any threshold
 * it is compared with. An attacker cannot grow it.
 */
export class LinearCounter {
  readonly bits: Uint8Array;
  constructor(bytes = 128) {
    this.bits = new Uint8Array(bytes);
  }
  add(hash: number): boolean {
    const m = this.bits.length * 8;
    const i = hash % m;
    const byte = i >>> 3;
    const mask = 1 << (i & 7);
    const had = (this.bits[byte]! & mask) !== 0;
    this.bits[byte]! |= mask;
    return !had;
  }
  clear(): void {
    this.bits.fill(0);
  }
  /** Distinct values in this counter, or in its union with `other`. */
  estimate(other?: LinearCounter): number {
    const m = this.bits.length * 8;
    let zeros = 0;
    for (let b = 0; b < this.bits.length; b++) {
      const v = this.bits[b]! | (other ? other.bits[b]! : 0);
      zeros += 8 - popcount8(v);
    }
    if (zeros === 0) return Math.round(m * Math.log(m));
    return Math.round(-m * Math.log(zeros / m));
  }
}

function popcount8(v: number): number {
  let n = v - ((v >> 1) & 0x55);
  n = (n & 0x33) + ((n >> 2) & 0x33);
  return (n + (n >> 4)) & 0x0f;
}

/**
 * Misra–Gries heavy hitters with `k` slots: who contributed most to a count, in bounded space
 * (evidence only; counts are lower bounds).
 */
export class TopK {
  private readonly keys: string[] = [];
  private readonly counts: number[] = [];
  private readonly k: number;
  constructor(k = 5) {
    this.k = k;
  }
  add(key: string, by = 1): void {
    const i = this.keys.indexOf(key);
    if (i >= 0) {
      this.counts[i]! += by;
      return;
    }
    if (this.keys.length < this.k) {
      this.keys.push(key.slice(0, 256));
      this.counts.push(by);
      return;
    }
    for (let j = this.counts.length - 1; j >= 0; j--) {
      this.counts[j]! -= by;
      if (this.counts[j]! <= 0) {
        this.keys.splice(j, 1);
        this.counts.splice(j, 1);
      }
    }
  }
  top(): Record<string, number> {
    const pairs = this.keys.map((k, i) => [k, this.counts[i]!] as const).sort((a, b) => b[1] - a[1]);
    return Object.fromEntries(pairs);
  }
  clear(): void {
    this.keys.length = 0;
    this.counts.length = 0;
  }
  get bytes(): number {
    return this.keys.reduce((n, k) => n + 16 + k.length * 2, 0);
  }
}

/** Adds an event id to a bounded sample list. */
export function sample(list: string[], id: string, max = 10): void {
  if (list.length < max) list.push(id);
}

export const is2xx = (status: number) => status >= 200 && status < 300;
export const isSuccess = (status: number) => status >= 200 && status < 400;

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

export const floorTo = (ts: number, unit: number) => Math.floor(ts / unit) * unit;

/**
 * What identifies an episode to the runtime (fingerprint fields + first seen): kept from the
 * firing draft so the resolved update carries the same episode id.
 */
export type EpisodeRef = Pick<
  FindingDraft,
  'entity' | 'route' | 'method' | 'tenant' | 'firstSeen' | 'fingerprintExtra'
>;

export function episodeRef(d: FindingDraft): EpisodeRef {
  return {
    entity: d.entity,
    route: d.route,
    method: d.method,
    tenant: d.tenant,
    firstSeen: d.firstSeen,
    ...(d.fingerprintExtra !== undefined ? { fingerprintExtra: d.fingerprintExtra } : {}),
  };
}

/** The resolved update of an episode. */
export function resolvedOf(
  ref: EpisodeRef,
  r: {
    endedAt: number;
    lastSeen: number;
    summary: string;
    observed: number;
    windowSeconds: number;
    recommendedAction?: string;
  },
): FindingDraft {
  return {
    ...ref,
    status: 'resolved',
    endedAt: r.endedAt,
    confidence: 0.7,
    summary: r.summary,
    lastSeen: Math.max(r.lastSeen, ref.firstSeen),
    evidence: {
      observed: r.observed,
      baseline: null,
      threshold: 0,
      windowSeconds: Math.max(0, Math.round(r.windowSeconds)),
      counts: {},
      sampleEventIds: [],
      details: {},
    },
    recommendedAction: r.recommendedAction ?? 'No action needed unless it resumes.',
  };
}
