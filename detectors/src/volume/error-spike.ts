import { Type as T } from '@sinclair/typebox';
import { ANY_TENANT } from '../baselines/index.ts';
import { defineDetector } from '../runtime/define.ts';
import {
  initRouteVolume,
  type RouteJudge,
  routeOnEvent,
  routeOnWatermark,
  routeVolumeSize,
  WINDOW_MINUTES,
  wholeRouteKey,
} from './route-detector.ts';
import { historyMinutes, lastMinutes, sumLast } from './route-series.ts';

export const ErrorSpikeConfig = T.Object(
  {
    minErrors: T.Integer({
      minimum: 1,
      default: 10,
      description:
        '5xx answers in the window below which nothing is reported (one failure on a quiet route never pages).',
    }),
    minRatio: T.Number({
      minimum: 0,
      maximum: 1,
      default: 0.2,
      description: 'Share of 5xx in the window.',
    }),
    baselineMultiplier: T.Number({
      minimum: 1,
      default: 3,
      description:
        'The share must also be this × the route’s usual share (its history in the store, else the hour before).',
    }),
    zThreshold: T.Number({
      minimum: 1,
      default: 5,
      description: 'Binomial z of the 5xx count against the usual share (a handful of calls proves little).',
    }),
    sustainedMinutes: T.Integer({
      minimum: 1,
      maximum: 5,
      default: 4,
      description:
        'Minutes of the window with 5xx answers at that share (a rolling deploy’s one- or two-minute blip is not a spike).',
    }),
    longWindowMinutes: T.Integer({
      minimum: 5,
      maximum: 30,
      default: 15,
      description:
        'A second, longer window for routes too quiet to gather minErrors in five minutes (a route at two calls a minute).',
    }),
    minHistoryRequests: T.Integer({
      minimum: 1,
      default: 30,
      description: 'Requests of store history a route needs before its usual 5xx share is taken from there.',
    }),
    minRecentMinutes: T.Integer({
      minimum: 5,
      maximum: 55,
      default: 15,
      description:
        'Without store history: minutes with traffic in the hour before the window a route needs to be judged (a route failing since it was first seen has no "before").',
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

/** A 5xx share this low is never assumed: even a healthy route fails now and then. */
const MIN_USUAL_SHARE = 0.005;

const judge: RouteJudge<Cfg> = {
  judge(s, route, snapshot, cfg, minuteEnd) {
    const series = s.series;
    const no = { anomalous: false, severityValue: 0, reference: 0 };
    // Both windows need minErrors 5xx: fewer in the longer one (which holds the shorter) is a no
    // whatever the usual share, so it is not looked up.
    const longest = Math.max(WINDOW_MINUTES, cfg.longWindowMinutes);
    if (sumLast(series, series.errors, longest) < cfg.minErrors) return no;
    // The route's usual share: its store history when there is enough, else the hour before.
    const hist = snapshot.serverErrorRate(route);
    let usual: number;
    let usualFrom: 'history' | 'recent';
    if (hist.requests >= cfg.minHistoryRequests) {
      usual = hist.rate;
      usualFrom = 'history';
    } else {
      const history = historyMinutes(series, series.requests, cfg.longWindowMinutes);
      if (history.filter((n) => n > 0).length < cfg.minRecentMinutes) return no;
      const hReq = history.reduce((a, b) => a + b, 0);
      const hErr = historyMinutes(series, series.errors, cfg.longWindowMinutes).reduce((a, b) => a + b, 0);
      usual = hReq > 0 ? hErr / hReq : 0;
      usualFrom = 'recent';
    }
    const p = Math.max(usual, MIN_USUAL_SHARE);
    for (const w of [WINDOW_MINUTES, longest]) {
      const req = lastMinutes(series, series.requests, w);
      const err = lastMinutes(series, series.errors, w);
      const errors = err.reduce((a, b) => a + b, 0);
      const total = req.reduce((a, b) => a + b, 0);
      if (errors < cfg.minErrors || total === 0) continue;
      const share = errors / total;
      const z = (errors - total * p) / Math.sqrt(total * p * (1 - p));
      const sustained = err.filter((e, i) => e > 0 && e / Math.max(1, req[i]!) >= cfg.minRatio).length;
      // The newest minute must still fail: a spike that is over is not opened late.
      const current = err[0]! > 0 || err[1]! > 0;
      if (
        share < cfg.minRatio ||
        share < cfg.baselineMultiplier * usual ||
        z < cfg.zThreshold ||
        sustained < cfg.sustainedMinutes ||
        !current
      )
        continue;
      return {
        anomalous: true,
        severityValue: errors,
        reference: usual,
        draft: (entity, r, st) => ({
          entity,
          route: r.route,
          method: r.method,
          tenant: r.tenant === ANY_TENANT ? null : r.tenant || null,
          severity: share >= 0.5 ? 'high' : 'medium',
          confidence: Math.min(0.95, 0.6 + share * 0.4),
          summary: `${r.method} ${r.route} answered ${errors} of ${total} calls with 5xx in ${w} min (${Math.round(share * 100)}%; usually ${(usual * 100).toFixed(1)}%${usualFrom === 'history' ? '' : ' in the hour before'}); top callers: ${Object.keys(st.series.top.top()).slice(0, 3).join(', ')}.`,
          firstSeen: minuteEnd - w * 60_000,
          lastSeen: minuteEnd,
          evidence: {
            observed: errors,
            baseline: usual,
            threshold: cfg.minErrors,
            windowSeconds: w * 60,
            counts: { errors: errors, requests: total, minutesWithErrors: sustained },
            sampleEventIds: [...st.samples],
            details: {
              share,
              usualShare: usual,
              usualFrom,
              historyRequests: hist.requests,
              z,
              topCallers: st.series.top.top(),
            },
          },
          recommendedAction: `Check the service behind ${r.method} ${r.route} (deploy, dependency, resource exhaustion); if a few callers drive it, they may be crashing it on purpose — throttle them.`,
        }),
      };
    }
    return no;
  },
  // Fewer than minErrors 5xx in the longer window is a no (see judge), and minutes without events
  // only lower the count: the next event is the next chance.
  idleUntil: (s, _route, _snapshot, cfg, minuteEnd) =>
    sumLast(s.series, s.series.errors, Math.max(WINDOW_MINUTES, cfg.longWindowMinutes)) < cfg.minErrors
      ? Number.POSITIVE_INFINITY
      : minuteEnd,
  resolvedSummary: (r, s) =>
    `${r.method} ${r.route} is back to its usual error rate (peak ${s.peak} 5xx in a window).`,
};

/**
 * `volume.error_spike` (OWASP API4:2023; NIST REC-API-16/26 resource protection): a route's 5xx,
 * all tenants together,
 * share over five minutes (fifteen for quiet routes), sustained over several minutes, far above its
 * usual share — its history in the store, else the hour before — and significant against it
 * (binomial z), with a count floor so one failure on a quiet route never pages.
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
  keyBy: wholeRouteKey,
  init: initRouteVolume,
  sizeOf: routeVolumeSize,
  // A route silent for a day starts afresh (its seasonal baseline lives in the store).
  idleMs: () => 86_400_000,
  onEvent: (s, e, ctx, key) => routeOnEvent(judge, s, e, ctx, key),
  onWatermark: (s, ts, ctx, key) => routeOnWatermark(judge, s, ts, ctx, key),
});
