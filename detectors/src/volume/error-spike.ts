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
import { historyMinutes, lastMinutes } from './route-series.ts';

export const ErrorSpikeConfig = T.Object(
  {
    minErrors: T.Integer({
      minimum: 1,
      default: 25,
      description: '5xx answers in five minutes below which nothing is reported.',
    }),
    minRatio: T.Number({
      minimum: 0,
      maximum: 1,
      default: 0.2,
      description: 'Share of 5xx in the five minutes.',
    }),
    baselineMultiplier: T.Number({
      minimum: 1,
      default: 3,
      description: 'The share must also be this × the route’s share over the hour before.',
    }),
    sustainedMinutes: T.Integer({
      minimum: 1,
      maximum: 5,
      default: 4,
      description:
        'Minutes of the five with errors at that share (a rolling deploy’s one-minute blip is not a spike).',
    }),
    minRecentMinutes: T.Integer({
      minimum: 5,
      maximum: 55,
      default: 15,
      description:
        'Minutes of history before the window a route needs to be judged (a route failing since it was first seen has no "before").',
    }),
    quietSeconds: T.Integer({
      minimum: 60,
      default: 900,
      description: 'The episode resolves after this long without an anomalous window.',
    }),
  },
  { additionalProperties: false },
);

type Cfg = (typeof ErrorSpikeConfig)['static'];

const judge: RouteJudge<Cfg> = {
  judge(s, _route, _snapshot, cfg, minuteEnd) {
    const series = s.series;
    const req = lastMinutes(series, series.requests, WINDOW_MINUTES);
    const err = lastMinutes(series, series.errors, WINDOW_MINUTES);
    const errors = err.reduce((a, b) => a + b, 0);
    const total = req.reduce((a, b) => a + b, 0);
    const no = { anomalous: false, severityValue: errors, reference: 0 };
    if (errors < cfg.minErrors || total === 0) return no;
    const share = errors / total;
    const history = historyMinutes(series, series.requests, WINDOW_MINUTES);
    if (history.filter((n) => n > 0).length < cfg.minRecentMinutes) return no;
    const hReq = history.reduce((a, b) => a + b, 0);
    const hErr = historyMinutes(series, series.errors, WINDOW_MINUTES).reduce((a, b) => a + b, 0);
    const before = hReq > 0 ? hErr / hReq : 0;
    const sustained = err.filter((e, i) => e >= 2 && e / Math.max(1, req[i]!) >= cfg.minRatio).length;
    if (share < cfg.minRatio || share < cfg.baselineMultiplier * before || sustained < cfg.sustainedMinutes)
      return no;
    return {
      anomalous: true,
      severityValue: errors,
      reference: before,
      draft: (entity, r, st) => ({
        entity,
        route: r.route,
        method: r.method,
        tenant: r.tenant || null,
        severity: share >= 0.5 ? 'high' : 'medium',
        confidence: Math.min(0.95, 0.6 + share * 0.4),
        summary: `${r.method} ${r.route} answered ${errors} of ${total} calls with 5xx in 5 min (${Math.round(share * 100)}%, ${Math.round(before * 100)}% in the hour before); top callers: ${Object.keys(st.series.top.top()).slice(0, 3).join(', ')}.`,
        firstSeen: minuteEnd - WINDOW_MINUTES * 60_000,
        lastSeen: minuteEnd,
        evidence: {
          observed: errors,
          baseline: before,
          threshold: cfg.minErrors,
          windowSeconds: WINDOW_MINUTES * 60,
          counts: { errors5m: errors, requests5m: total, sustainedMinutes: sustained },
          sampleEventIds: [...st.samples],
          details: { share, shareBefore: before, topCallers: st.series.top.top() },
        },
        recommendedAction: `Check the service behind ${r.method} ${r.route} (deploy, dependency, resource exhaustion); if a few callers drive it, they may be crashing it on purpose — throttle them.`,
      }),
    };
  },
  resolvedSummary: (r, s) =>
    `${r.method} ${r.route} is back to its usual error rate (peak ${s.peak} 5xx in 5 min).`,
};

/**
 * `volume.error_spike` (OWASP API4:2023; NIST REC-API-16/26 resource protection): a route's 5xx
 * share over five minutes, sustained, far above its share in the hour before, with a count floor
 * so one failure on a quiet route never pages.
 */
export const errorSpike = defineDetector({
  id: 'volume.error_spike',
  title: '5xx spike on a route',
  owasp: 'API4:2023',
  nist: 'monitoring',
  severity: 'medium',
  configSchema: ErrorSpikeConfig,
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
