import type { ApiEvent } from '@apiwatch/core';
import { Type as T } from '@sinclair/typebox';
import { defineDetector } from '../runtime/define.ts';
import { HABIT_IDLE_MS } from './actor-habit.ts';
import {
  episodeStart,
  type HabitSpec,
  habitKey,
  habitOnEvent,
  habitOnWatermark,
  habitSize,
  initHabit,
  lastAbove,
  peakObserved,
  sampleIds,
  topRoutes,
} from './habit-detector.ts';

export const ExfiltrationConfig = T.Object(
  {
    floor: T.Integer({
      minimum: 1,
      default: 50_000_000,
      description: 'Response bytes in five minutes below which nothing is reported (50 MB).',
    }),
    coldFloor: T.Integer({
      minimum: 1,
      default: 250_000_000,
      description: 'Response bytes in five minutes for an actor with no history of its own yet (250 MB).',
    }),
    peakMultiplier: T.Number({
      minimum: 1,
      default: 5,
      description: '× the highest five-minute byte count of the actor’s last seven days.',
    }),
    zThreshold: T.Number({
      minimum: 1,
      default: 8,
      description: 'Robust z (median, 1.4826·MAD) over those daily peaks.',
    }),
    sharedAgents: T.Integer({
      minimum: 2,
      default: 8,
      description: 'User agents that make an IP actor a shared egress (floors scale).',
    }),
    quietSeconds: T.Integer({
      minimum: 60,
      default: 1800,
      description: 'The episode resolves after this long below the threshold.',
    }),
  },
  { additionalProperties: false },
);

type Cfg = (typeof ExfiltrationConfig)['static'];

const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;

/** Only answered calls move data out; bytes the gateway did not log count as none. */
const responseBytes = (e: ApiEvent) =>
  e.response.status >= 200 && e.response.status < 300 ? (e.response.bytes ?? 0) : 0;

const spec: HabitSpec<Cfg> = {
  measure: responseBytes,
  // Daily byte peaks are heavy-tailed: the week's highest one is the reference.
  rule: { reference: 'highest', weekdayMultiplier: 0 },
  draft(s, entity, j) {
    const who = entity.name ?? entity.id;
    return {
      entity,
      route: null,
      method: null,
      tenant: s.tenant,
      severity: 'high',
      confidence: Math.min(0.95, 0.6 + 0.1 * Math.log2(j.observed / Math.max(1, j.threshold) + 1)),
      summary: `${entity.kind} ${who} received ${mb(j.observed)} of responses in 5 min; ${j.maxPeak === null ? 'it has no history yet' : `its largest 5 min of the last ${j.days} day(s) was ${mb(j.maxPeak)}`} (top: ${Object.keys(topRoutes(s)).join(', ')}).`,
      firstSeen: episodeStart(s),
      lastSeen: lastAbove(s),
      evidence: {
        observed: j.observed,
        baseline: j.maxPeak,
        threshold: Math.round(j.threshold),
        windowSeconds: 300,
        counts: { responseBytes5m: j.observed, historyDays: j.days },
        sampleEventIds: sampleIds(s),
        details: {
          medianDailyPeakBytes: j.expected,
          topRoutes: topRoutes(s),
          clientIp: s.clientIp,
          userAgent: s.userAgent,
        },
      },
      recommendedAction: `Check what ${who} downloaded (top routes, sample events); if it is not an expected export, revoke ${entity.ref ? `credential ${entity.ref}` : 'its credential'} and cap response sizes and page limits on those routes.`,
    };
  },
  resolvedSummary: (e, s) =>
    `${e.kind} ${e.name ?? e.id} is back under its response-bytes threshold (peak ${mb(peakObserved(s))} in 5 min).`,
};

/**
 * `volume.exfiltration` (OWASP API3/API4:2023; excessive data exposure): one actor's response
 * bytes over five minutes far above its own habit (daily five-minute peaks over the last week).
 * Nightly backups and exports are in that habit; a first-ever bulk download faces a high floor.
 */
export const exfiltration = defineDetector({
  id: 'volume.exfiltration',
  title: 'Response-bytes surge by one actor (exfiltration)',
  owasp: 'API3:2023',
  nist: 'monitoring',
  severity: 'high',
  configSchema: ExfiltrationConfig,
  scope: 'actor',
  fingerprint: ['entity'],
  keyBy: (event) => (responseBytes(event) > 0 ? habitKey(event) : null),
  init: initHabit,
  sizeOf: habitSize,
  idleMs: () => HABIT_IDLE_MS,
  onEvent: (s, event, ctx, key) => habitOnEvent(spec, s, event, ctx, key),
  onWatermark: (s, ts, ctx, key) => habitOnWatermark(spec, s, ts, ctx, key),
});
