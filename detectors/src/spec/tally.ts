/**
 * The per-endpoint tally the spec family's endpoint-keyed detectors share: calls since first
 * seen and in a sliding window (two tumbling buckets), distinct actors (bounded), the busiest
 * callers, the status mix and sample event ids — all bounded (~600 B).
 */
import { type ApiEvent, actorKey } from '@apiwatch/core';
import { endpointEntity, fnv1a, LinearCounter, parseRouteKey, TopK } from '../bola/common.ts';
import type { FindingDraft } from '../runtime/define.ts';

export class EndpointTally {
  first = 0;
  last = 0;
  total = 0;
  private bucket = -1;
  private cur = 0;
  private prev = 0;
  private readonly actors = new LinearCounter(32);
  readonly callers = new TopK(5);
  readonly statuses: Record<string, number> = {};
  readonly samples: string[] = [];

  add(event: ApiEvent, bucketMs: number): void {
    const b = Math.floor(event.ts / bucketMs);
    if (b !== this.bucket) {
      this.prev = b === this.bucket + 1 ? this.cur : 0;
      this.cur = 0;
      this.bucket = b;
    }
    this.cur++;
    this.total++;
    if (this.first === 0) this.first = event.ts;
    this.last = Math.max(this.last, event.ts);
    const actor = actorKey(event);
    this.actors.add(fnv1a(actor));
    this.callers.add(actor);
    const s = String(event.response.status);
    if (s in this.statuses || Object.keys(this.statuses).length < 8)
      this.statuses[s] = (this.statuses[s] ?? 0) + 1;
    if (this.samples.length < 10) this.samples.push(event.id);
  }

  /** Calls in the current and previous bucket. */
  get windowCalls(): number {
    return this.cur + this.prev;
  }

  get distinctActors(): number {
    return this.actors.estimate();
  }

  /** Starts a new episode's evidence (counts since first seen are kept). */
  resetEvidence(): void {
    this.samples.length = 0;
  }

  get bytes(): number {
    return 200 + this.callers.bytes + this.samples.length * 60;
  }
}

export function routeOrPath(e: ApiEvent): string {
  return (e.request.route ?? e.request.path).slice(0, 1024);
}

export function prefixed(prefix: string, counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).map(([k, v]) => [`${prefix}${k}`, v]));
}

export function resolvedDraft(
  key: string,
  t: EndpointTally,
  what: string,
  quietSeconds: number,
  extra?: string,
): FindingDraft {
  const r = parseRouteKey(key);
  return {
    status: 'resolved',
    endedAt: t.last,
    entity: endpointEntity(r.method, r.route),
    route: r.route,
    method: r.method,
    tenant: r.tenant || null,
    confidence: 0.7,
    summary: `${r.method} ${r.route}: ${what} for ${Math.round(quietSeconds / 60)} min (${t.total} calls in all).`,
    firstSeen: t.first,
    lastSeen: t.last,
    evidence: {
      observed: t.total,
      baseline: null,
      threshold: 0,
      windowSeconds: quietSeconds,
      counts: { calls: t.total },
      sampleEventIds: [],
      details: {},
    },
    recommendedAction: 'No action needed unless the endpoint comes back.',
    ...(extra !== undefined ? { fingerprintExtra: extra } : {}),
  };
}
