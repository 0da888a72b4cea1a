import type { ApiEvent } from '@apiwatch/core';
import { hourOfWeek } from '@apiwatch/detectors';
import { mulberry32 } from './random.ts';

const HOUR_MS = 3_600_000;

/**
 * Synthetic traffic with a known shape, for the baselines' tests: each generator says what it
 * injected (expected rate per hour of the week, object ids per actor, failure counts), so a test
 * compares what the baselines recover with what went in. Deterministic per seed.
 */

export interface WeeklyPattern {
  /** Mon–Fri 09:00–16:59 UTC, requests per hour. */
  businessPerHour: number;
  /** Mon–Fri outside business hours, requests per hour. */
  nightPerHour: number;
  /** Saturday and Sunday, every hour, requests per hour. */
  weekendPerHour: number;
  /** Multiplicative noise per hour: the hour's rate is scaled by 1 ± noise (uniform). */
  noise: number;
}

/** The injected expected rate for an hour of the week (0 = Monday 00:00 UTC). */
export function expectedPerHour(pattern: WeeklyPattern, how: number): number {
  const day = Math.floor(how / 24);
  const hour = how % 24;
  if (day >= 5) return pattern.weekendPerHour;
  return hour >= 9 && hour < 17 ? pattern.businessPerHour : pattern.nightPerHour;
}

export interface TrafficRoute {
  tenant: string;
  method: string;
  route: string;
  /** Object id parameter in the route template, or null. */
  param: string | null;
}

interface EventSpec {
  ts: number;
  route: TrafficRoute;
  actor: number;
  objectId: string | null;
  status: number;
  seq: number;
  seed: number;
}

/** One canonical event: a user calling with a JWT (actor key `credential:…`), or a failed call (`ip:…`). */
export function trafficEvent(spec: EventSpec): ApiEvent {
  const { ts, route, actor, objectId, status } = spec;
  const failed = status === 401;
  return {
    schemaVersion: 1,
    id: `w${spec.seed}-${spec.seq}`,
    ts,
    ingestTs: ts + 300,
    request: {
      method: route.method,
      scheme: 'https',
      host: 'api.example.com',
      path: objectId && route.param ? route.route.replace(`{${route.param}}`, objectId) : route.route,
      queryKeys: [],
      route: route.route,
      bytes: 0,
      requestId: null,
    },
    response: { status, bytes: 512, latencyMs: 12.5 },
    client: {
      ip: `10.1.${(actor >> 8) & 255}.${actor & 255}`,
      peerIp: '172.16.0.1',
      userAgent: 'okhttp/4.12.0',
    },
    identity: {
      credential: {
        kind: 'api_key',
        fingerprint: `fp${String(actor).padStart(8, '0')}`,
        ref: `key-${actor}`,
        issuer: null,
      },
      principal: 'service',
      service: `svc-${actor}`,
      user: null,
      tenant: route.tenant,
      scopes: [],
      auth: failed ? 'failure' : 'success',
    },
    objects: objectId && route.param ? [{ name: route.param, value: objectId, in: 'path' }] : [],
    trace: { traceId: null, spanId: null },
    source: { kind: 'envoy', gateway: 'gw-1', collector: 'collector-1' },
  };
}

/** Poisson sample (Knuth for small means, normal approximation above 50). */
function poisson(rnd: () => number, mean: number): number {
  if (mean <= 0) return 0;
  if (mean > 50) {
    const u = 1 - rnd();
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd());
    return Math.max(0, Math.round(mean + Math.sqrt(mean) * z));
  }
  const l = Math.exp(-mean);
  let k = 0;
  let p = 1;
  do {
    k++;
    p *= rnd();
  } while (p > l);
  return k - 1;
}

export interface PatternedHistory {
  events: ApiEvent[];
  /** Requests generated per hour start (ms). */
  perHour: Map<number, number>;
}

/**
 * Requests on one route following a weekly pattern from `fromMs` for `hours` hours: per hour a
 * Poisson count around the pattern's rate × (1 ± noise), spread uniformly in the hour, from
 * `actors` actors.
 */
export function patternedHistory(
  route: TrafficRoute,
  pattern: WeeklyPattern,
  options: { fromMs: number; hours: number; actors: number; seed: number },
): PatternedHistory {
  const rnd = mulberry32(options.seed);
  const events: ApiEvent[] = [];
  const perHour = new Map<number, number>();
  const start = Math.floor(options.fromMs / HOUR_MS) * HOUR_MS;
  let seq = 0;
  for (let h = 0; h < options.hours; h++) {
    const hourStart = start + h * HOUR_MS;
    const rate = expectedPerHour(pattern, hourOfWeek(hourStart)) * (1 + pattern.noise * (2 * rnd() - 1));
    const n = poisson(rnd, rate);
    perHour.set(hourStart, n);
    for (let i = 0; i < n; i++) {
      const actor = Math.floor(rnd() * options.actors);
      events.push(
        trafficEvent({
          ts: hourStart + Math.floor(rnd() * HOUR_MS),
          route,
          actor,
          objectId: route.param ? String(1 + Math.floor(rnd() * 5000)) : null,
          status: 200,
          seq: seq++,
          seed: options.seed,
        }),
      );
    }
  }
  return { events, perHour };
}
