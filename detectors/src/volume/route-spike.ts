import { Type as T } from '@sinclair/typebox';
import { median } from 'simple-statistics';
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
import { expectation, historyMinutes, lastMinutes, sameHourYesterday, sumLast } from './route-series.ts';

export const RouteSpikeConfig = T.Object(
  {
    minRequests: T.Integer({
      minimum: 1,
      default: 600,
      description: 'Requests in five minutes below which a route never spikes.',
    }),
    ratio: T.Number({ minimum: 1, default: 3, description: 'Observed must be at least this × expected.' }),
    zThreshold: T.Number({
      minimum: 1,
      default: 6,
      description: 'Robust z of the five-minute count against the expected level.',
    }),
    sustainedMinutes: T.Integer({
      minimum: 1,
      maximum: 5,
      default: 3,
      description: 'Minutes of the five above ratio × expected (a one-minute burst is not a spike).',
    }),
    perCallerRatio: T.Number({
      minimum: 1,
      default: 2,
      description:
        'Requests per caller must rise this × over the recent minutes: a campaign brings more callers at their usual rate, abuse brings more calls per caller.',
    }),
    minRecentMinutes: T.Integer({
      minimum: 10,
      maximum: 55,
      default: 30,
      description: 'Recent minutes needed when no seasonal baseline is learned.',
    }),
    quietSeconds: T.Integer({
      minimum: 60,
      default: 900,
      description: 'The episode resolves after this long without an anomalous window.',
    }),
  },
  { additionalProperties: false },
);

type Cfg = (typeof RouteSpikeConfig)['static'];

function perCaller(requests: number[], callers: number[]): number[] {
  const out: number[] = [];
  requests.forEach((r, i) => {
    if (r > 0) out.push(r / Math.max(1, callers[i]!));
  });
  return out;
}

const judge: RouteJudge<Cfg> = {
  judge(s, route, snapshot, cfg, minuteEnd) {
    const series = s.series;
    const observed = sumLast(series, series.requests, WINDOW_MINUTES);
    const no = { anomalous: false, severityValue: observed, reference: 0 };
    if (observed < cfg.minRequests) return no;
    const req = lastMinutes(series, series.requests, WINDOW_MINUTES);
    const exp = expectation(series, snapshot, route, minuteEnd - 1, WINDOW_MINUTES, cfg.minRecentMinutes);
    if (!exp) return no;
    const expected = exp.perMinute * WINDOW_MINUTES;
    const z = (observed - expected) / exp.sigma(WINDOW_MINUTES);
    const hot = req.filter((n) => n > cfg.ratio * Math.max(exp.perMinute, 1)).length;
    if (observed < cfg.ratio * expected || z < cfg.zThreshold || hot < cfg.sustainedMinutes) return no;
    // More callers at their usual rate is popularity (a campaign), not abuse.
    const nowPc = perCaller(req, lastMinutes(series, series.callers, WINDOW_MINUTES));
    const histPc = perCaller(
      historyMinutes(series, series.requests, WINDOW_MINUTES),
      historyMinutes(series, series.callers, WINDOW_MINUTES),
    );
    const pcNow = nowPc.length > 0 ? median(nowPc) : 0;
    const pcBefore = histPc.length >= 10 ? median(histPc) : null;
    if (pcBefore !== null && pcNow < cfg.perCallerRatio * pcBefore) return no;
    // Without a seasonal baseline, yesterday's same hour tells a daily batch from a spike.
    const yesterday = exp.kind === 'recent' ? sameHourYesterday(series) : null;
    if (yesterday !== null && yesterday * (WINDOW_MINUTES / 60) >= observed / cfg.ratio) return no;
    return {
      anomalous: true,
      severityValue: observed,
      reference: expected,
      draft: (entity, r, st) => ({
        entity,
        route: r.route,
        method: r.method,
        tenant: r.tenant || null,
        confidence: Math.min(0.95, 0.6 + 0.05 * Math.log2(z) + (exp.kind === 'seasonal' ? 0.1 : 0)),
        summary: `${r.method} ${r.route} took ${observed} requests in 5 min against ${Math.round(expected)} expected (${exp.kind === 'seasonal' ? 'hour-of-week baseline' : 'its last hour'}; z ${z.toFixed(1)}); ${pcNow.toFixed(1)} requests per caller per minute${pcBefore !== null ? ` vs ${pcBefore.toFixed(1)} before` : ''}. Top callers: ${Object.keys(st.series.top.top()).slice(0, 3).join(', ')}.`,
        firstSeen: minuteEnd - WINDOW_MINUTES * 60_000,
        lastSeen: minuteEnd,
        evidence: {
          observed,
          baseline: Math.round(expected),
          threshold: Math.round(
            Math.max(
              cfg.ratio * expected,
              expected + cfg.zThreshold * exp.sigma(WINDOW_MINUTES),
              cfg.minRequests,
            ),
          ),
          windowSeconds: WINDOW_MINUTES * 60,
          counts: { requests5m: observed, hotMinutes: hot },
          sampleEventIds: [...st.samples],
          details: {
            baselineKind: exp.kind,
            confidence: exp.confidence,
            z,
            perCallerNow: pcNow,
            perCallerBefore: pcBefore,
            topCallers: st.series.top.top(),
          },
        },
        recommendedAction: `Rate-limit ${r.method} ${r.route} per caller at the gateway; if the top callers are a few actors, throttle or block them.`,
      }),
    };
  },
  // Below minRequests in the five minutes nothing is a spike, and minutes without events only
  // lower the sum: the next event is the next chance.
  idleUntil: (s, _route, _snapshot, cfg, minuteEnd) =>
    sumLast(s.series, s.series.requests, WINDOW_MINUTES) < cfg.minRequests
      ? Number.POSITIVE_INFINITY
      : minuteEnd,
  resolvedSummary: (r, s) =>
    `${r.method} ${r.route} is back to its expected rate (peak ${s.peak} requests in 5 min).`,
};

/**
 * `volume.route_spike` (OWASP API4:2023 Unrestricted Resource Consumption): a route's request
 * count over five minutes far above its hour-of-week baseline (robust z from median and MAD),
 * sustained, and carried by more calls per caller rather than more callers.
 */
export const routeSpike = defineDetector({
  id: 'volume.route_spike',
  title: 'Request spike on a route',
  owasp: 'API4:2023',
  nist: 'rate-limiting',
  severity: 'medium',
  configSchema: RouteSpikeConfig,
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
