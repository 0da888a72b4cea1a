/**
 * The tick skeleton of the route-keyed volume detectors: events feed the route's minute series;
 * each time a minute completes (on the next event, or on the watermark via `ctx.wakeAt`, so a
 * route that goes silent is still judged) the detector's `judge` looks at the last five minutes.
 * Episodes open on the first window judged anomalous and resolve after a quiet period.
 */
import type { ApiEvent } from '@apiwatch/core';
import { ANY_TENANT, type BaselineSnapshot, type RouteRef } from '../baselines/index.ts';
import { endpointEntity, MINUTE_MS, parseRouteKey, routeKey } from '../bola/common.ts';
import type { DetectorContext, FindingDraft } from '../runtime/define.ts';
import {
  addToSeries,
  advanceSeries,
  newSeries,
  RING,
  type RouteSeries,
  SERIES_BYTES,
} from './route-series.ts';

export const WINDOW_MINUTES = 5;

export interface RouteVolumeState {
  series: RouteSeries;
  open: boolean;
  episodeStart: number;
  lastAbove: number;
  peak: number;
  /** What the detector measured when the episode opened (e.g. the expected rate a drop is judged back against). */
  reference: number;
  samples: string[];
  /** The route of the key, parsed once (absent in states checkpointed before it was kept). */
  route?: RouteRef;
}

export interface Verdict {
  anomalous: boolean;
  /** For the episode's peak (larger = worse). */
  severityValue: number;
  reference: number;
  draft?: (entity: ReturnType<typeof endpointEntity>, route: RouteRef, s: RouteVolumeState) => FindingDraft;
}

export interface RouteJudge<C extends { quietSeconds: number }> {
  judge(
    s: RouteVolumeState,
    route: RouteRef,
    snapshot: BaselineSnapshot,
    config: C,
    minuteEnd: number,
  ): Verdict;
  /** Whether an open episode is over at this minute (default: quiet period without an anomalous window). */
  recovered?(
    s: RouteVolumeState,
    route: RouteRef,
    snapshot: BaselineSnapshot,
    config: C,
    minuteEnd: number,
  ): boolean;
  resolvedSummary(route: RouteRef, s: RouteVolumeState): string;
  /**
   * The first minute end at or after `minuteEnd` that can be judged anomalous while no event
   * arrives (an episode being closed aside): `minuteEnd` or earlier when it can, a later time
   * when nothing can before it (the hour of week changes), Infinity when only a new event can
   * change the answer. Minutes before it are not judged and no wake is set for them — every
   * verdict there is "no", and a judgement has no effect but its verdict. Absent: every minute.
   */
  idleUntil?(
    s: RouteVolumeState,
    route: RouteRef,
    snapshot: BaselineSnapshot,
    config: C,
    minuteEnd: number,
  ): number;
  /** Per event, after the minute series took it (a detector's own aggregates). */
  observe?(s: RouteVolumeState, event: ApiEvent): void;
}

export function routeVolumeKey(event: ApiEvent): string | null {
  if (!event.request.route) return null;
  return routeKey({
    tenant: event.identity.tenant ?? '',
    method: event.request.method,
    route: event.request.route,
  });
}

/**
 * The route over all its tenants (ANY_TENANT): an outage or a failing backend takes every
 * tenant's traffic with it, and a multi-tenant route split by tenant is too thin to judge.
 */
export function wholeRouteKey(event: ApiEvent): string | null {
  // error_spike and route_drop key the same event one after the other: built once.
  if (event === lastKeyed) return lastWholeKey;
  lastKeyed = event;
  lastWholeKey = event.request.route
    ? routeKey({ tenant: ANY_TENANT, method: event.request.method, route: event.request.route })
    : null;
  return lastWholeKey;
}
let lastKeyed: ApiEvent | null = null;
let lastWholeKey: string | null = null;

export function initRouteVolume(key: string): RouteVolumeState {
  return {
    route: parseRouteKey(key),
    series: newSeries(),
    open: false,
    episodeStart: 0,
    lastAbove: 0,
    peak: 0,
    reference: 0,
    samples: [],
  };
}

export const routeVolumeSize = (s: RouteVolumeState) =>
  SERIES_BYTES + s.series.top.bytes + s.samples.length * 60;

function tick<C extends { quietSeconds: number }>(
  j: RouteJudge<C>,
  s: RouteVolumeState,
  ts: number,
  key: string,
  ctx: DetectorContext<C>,
): FindingDraft[] {
  const out: FindingDraft[] = [];
  const series = s.series;
  // Every minute that completed since the last tick is judged in turn (a silent route too).
  let guard = 0;
  let route: RouteRef | undefined;
  let snapshot: BaselineSnapshot | undefined;
  const last = Math.floor(ts / MINUTE_MS);
  while (series.minute >= 0 && last > series.minute && guard++ < RING) {
    const minuteEnd = (series.minute + 1) * MINUTE_MS;
    route ??= s.route ??= parseRouteKey(key);
    snapshot ??= ctx.baselines();
    if (!s.open && j.idleUntil) {
      const until = j.idleUntil(s, route, snapshot, ctx.config, minuteEnd);
      if (until > minuteEnd) {
        // Nothing to judge before `until`: move the series to the minute that ends there (or
        // to the event's minute) in one step.
        if (until === Number.POSITIVE_INFINITY) break;
        advanceSeries(series, Math.min(last, Math.ceil(until / MINUTE_MS) - 1) * MINUTE_MS);
        continue;
      }
    }
    series.callers[series.minute % RING] = Math.min(65535, series.current.estimate());
    const v = j.judge(s, route, snapshot, ctx.config, minuteEnd);
    if (v.anomalous) {
      s.lastAbove = minuteEnd;
      s.peak = Math.max(s.peak, v.severityValue);
      if (!s.open && v.draft) {
        s.open = true;
        s.episodeStart = minuteEnd - WINDOW_MINUTES * MINUTE_MS;
        s.reference = v.reference;
        out.push(v.draft(endpointEntity(route.method, route.route), route, s));
      }
    } else if (s.open) {
      const quiet = minuteEnd - s.lastAbove >= ctx.config.quietSeconds * 1000;
      const back = j.recovered ? j.recovered(s, route, snapshot, ctx.config, minuteEnd) : quiet;
      if (back) {
        s.open = false;
        out.push(resolved(route, s, minuteEnd, j.resolvedSummary(route, s)));
        s.peak = 0;
        s.samples.length = 0;
      }
    }
    advanceSeries(series, minuteEnd);
  }
  advanceSeries(series, ts);
  return out;
}

function resolved(route: RouteRef, s: RouteVolumeState, at: number, summary: string): FindingDraft {
  return {
    status: 'resolved',
    endedAt: at,
    entity: endpointEntity(route.method, route.route),
    route: route.route,
    method: route.method,
    tenant: route.tenant === ANY_TENANT ? null : route.tenant || null,
    confidence: 0.7,
    summary,
    firstSeen: s.episodeStart,
    lastSeen: s.lastAbove,
    evidence: {
      observed: s.peak,
      baseline: s.reference,
      threshold: 0,
      windowSeconds: WINDOW_MINUTES * 60,
      counts: {},
      sampleEventIds: [],
      details: {},
    },
    recommendedAction: 'No action needed unless it comes back.',
  };
}

/**
 * Keeps the minute ticks coming while an episode is open or the minute in progress can be judged
 * anomalous once it is over (the judge's `idleUntil`; without one, while the route had traffic
 * in the last hour); a judge idle until a later time is woken then, one idle until the next
 * event is not woken.
 */
function arm<C extends { quietSeconds: number }>(
  j: RouteJudge<C>,
  s: RouteVolumeState,
  ctx: DetectorContext<C>,
  now: number,
  key: string,
): void {
  const next = (Math.floor(now / MINUTE_MS) + 1) * MINUTE_MS;
  if (s.open) {
    ctx.wakeAt(next);
    return;
  }
  if (j.idleUntil) {
    s.route ??= parseRouteKey(key);
    const until = j.idleUntil(s, s.route, ctx.baselines(), ctx.config, next);
    if (until !== Number.POSITIVE_INFINITY)
      ctx.wakeAt(Math.max(next, Math.ceil(until / MINUTE_MS) * MINUTE_MS));
    return;
  }
  const requests = s.series.requests;
  for (let i = 0; i < requests.length; i++)
    if (requests[i]! > 0) {
      ctx.wakeAt(next);
      return;
    }
}

export function routeOnEvent<C extends { quietSeconds: number }>(
  j: RouteJudge<C>,
  s: RouteVolumeState,
  event: ApiEvent,
  ctx: DetectorContext<C>,
  key: string,
): FindingDraft[] | undefined {
  const out = tick(j, s, event.ts, key, ctx);
  if (s.series.minute < 0) advanceSeries(s.series, event.ts);
  addToSeries(s.series, event);
  j.observe?.(s, event);
  if (s.samples.length < 10) s.samples.push(event.id);
  else if (!s.open) s.samples[s.series.requests[s.series.minute % RING]! % 10] = event.id;
  arm(j, s, ctx, event.ts, key);
  return out.length > 0 ? out : undefined;
}

export function routeOnWatermark<C extends { quietSeconds: number }>(
  j: RouteJudge<C>,
  s: RouteVolumeState,
  ts: number,
  ctx: DetectorContext<C>,
  key: string,
): FindingDraft[] | undefined {
  const out = tick(j, s, ts, key, ctx);
  arm(j, s, ctx, ts, key);
  return out.length > 0 ? out : undefined;
}
