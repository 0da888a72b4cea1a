import { Type as T } from '@sinclair/typebox';
import { defineDetector } from '../runtime/define.ts';
import {
  initRouteVolume,
  type RouteJudge,
  routeOnEvent,
  routeOnWatermark,
  routeVolumeKey,
  routeVolumeSize,
  WINDOW_MINUTES,
} from './route-detector.ts';
import { expectation, lastMinutes } from './route-series.ts';

export const RouteDropConfig = T.Object(
  {
    minExpectedPerMinute: T.Number({
      minimum: 1,
      default: 20,
      description:
        'Only routes expected to take at least this many requests a minute are watched (a zero must be significant).',
    }),
    dropRatio: T.Number({
      minimum: 0,
      maximum: 1,
      default: 0.2,
      description: 'Observed at most this × expected over five minutes.',
    }),
    zThreshold: T.Number({ minimum: 1, default: 6, description: 'Robust z of the shortfall.' }),
    minRecentMinutes: T.Integer({
      minimum: 10,
      maximum: 55,
      default: 30,
      description: 'Recent minutes needed when no seasonal baseline is learned.',
    }),
    quietSeconds: T.Integer({
      minimum: 60,
      default: 600,
      description: 'Unused: a drop resolves when traffic is back to half the expected rate.',
    }),
  },
  { additionalProperties: false },
);

type Cfg = (typeof RouteDropConfig)['static'];

const judge: RouteJudge<Cfg> = {
  judge(s, route, snapshot, cfg, minuteEnd) {
    const series = s.series;
    const req = lastMinutes(series, series.requests, WINDOW_MINUTES);
    const observed = req.reduce((a, b) => a + b, 0);
    const no = { anomalous: false, severityValue: 0, reference: 0 };
    // The recent fallback must not learn the drop itself: once an episode is open, the expected
    // level stays the one it opened with.
    const exp = s.open
      ? null
      : expectation(series, snapshot, route, minuteEnd - 1, WINDOW_MINUTES, cfg.minRecentMinutes);
    const perMinute = s.open ? s.reference / WINDOW_MINUTES : (exp?.perMinute ?? 0);
    if (perMinute < cfg.minExpectedPerMinute)
      return { ...no, anomalous: s.open && observed < 0.5 * s.reference };
    const expected = perMinute * WINDOW_MINUTES;
    const sigma = exp ? exp.sigma(WINDOW_MINUTES) : Math.sqrt(expected);
    const z = (expected - observed) / sigma;
    if (observed > cfg.dropRatio * expected || z < cfg.zThreshold)
      return { ...no, anomalous: s.open && observed < 0.5 * expected };
    return {
      anomalous: true,
      severityValue: expected - observed,
      reference: expected,
      draft: (entity, r, st) => ({
        entity,
        route: r.route,
        method: r.method,
        tenant: r.tenant || null,
        severity: observed === 0 ? 'high' : 'medium',
        confidence: Math.min(0.95, 0.6 + 0.05 * Math.log2(z) + (exp?.kind === 'seasonal' ? 0.1 : 0)),
        summary: `${r.method} ${r.route} took ${observed} requests in 5 min against ${Math.round(expected)} expected (${exp?.kind === 'seasonal' ? 'hour-of-week baseline' : 'its last hour'}): traffic dropped ${Math.round((1 - observed / expected) * 100)}%.`,
        firstSeen: minuteEnd - WINDOW_MINUTES * 60_000,
        lastSeen: minuteEnd,
        evidence: {
          observed,
          baseline: Math.round(expected),
          threshold: Math.round(cfg.dropRatio * expected),
          windowSeconds: WINDOW_MINUTES * 60,
          counts: { requests5m: observed },
          sampleEventIds: [...st.samples],
          details: { baselineKind: exp?.kind ?? null, z },
        },
        recommendedAction: `Check that ${r.method} ${r.route} is reachable (gateway routes, DNS, certificates, upstream health) and that its callers are not blocked; a drop on a login or payment route can be an outage or a blocking rule gone wrong.`,
      }),
    };
  },
  recovered: (s, _route, _snapshot, _cfg) => {
    const observed = lastMinutes(s.series, s.series.requests, WINDOW_MINUTES).reduce((a, b) => a + b, 0);
    return observed >= 0.5 * s.reference;
  },
  resolvedSummary: (r, s) =>
    `${r.method} ${r.route} is back to at least half of its expected rate (${Math.round(s.reference)} per 5 min).`,
};

/**
 * `volume.route_drop` (OWASP API4:2023, availability; NIST monitoring): a busy route's traffic
 * falls far below its hour-of-week baseline (or its last hour) for five minutes. Judged on minute
 * ticks driven by the watermark, so a route that goes completely silent is still judged.
 */
export const routeDrop = defineDetector({
  id: 'volume.route_drop',
  title: 'Sudden traffic drop on a busy route',
  owasp: 'API4:2023',
  nist: 'monitoring',
  severity: 'medium',
  configSchema: RouteDropConfig,
  scope: 'global',
  fingerprint: ['entity'],
  keyBy: routeVolumeKey,
  init: initRouteVolume,
  sizeOf: routeVolumeSize,
  // A route silent for a day starts afresh (its seasonal baseline lives in the store).
  idleMs: () => 86_400_000,
  onEvent: (s, e, ctx, key) => routeOnEvent(judge, s, e, ctx, key),
  onWatermark: (s, ts, ctx, key) => routeOnWatermark(judge, s, ts, ctx, key),
});
