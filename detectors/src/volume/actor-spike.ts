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

export const ActorSpikeConfig = T.Object(
  {
    floor: T.Integer({
      minimum: 1,
      default: 60,
      description: 'Requests in five minutes below which nothing is reported (12 a minute, sustained).',
    }),
    coldFloor: T.Integer({
      minimum: 1,
      default: 3000,
      description: 'Requests in five minutes for an actor with no history of its own yet (10/s).',
    }),
    peakMultiplier: T.Number({
      minimum: 1,
      default: 3,
      description:
        '× the actor’s typical (median) daily five-minute peak of the last seven days; the same weekday’s peaks of the weeks before count 2× (weekly jobs).',
    }),
    zThreshold: T.Number({
      minimum: 1,
      default: 8,
      description: 'Robust z (median, 1.4826·MAD) over those daily peaks.',
    }),
    sharedAgents: T.Integer({
      minimum: 2,
      default: 8,
      description:
        'An IP actor with this many user agents today is a shared egress (office NAT, carrier NAT): its floors scale with them.',
    }),
    quietSeconds: T.Integer({
      minimum: 60,
      default: 900,
      description: 'The episode resolves after this long below the threshold.',
    }),
  },
  { additionalProperties: false },
);

type Cfg = (typeof ActorSpikeConfig)['static'];

const spec: HabitSpec<Cfg> = {
  measure: () => 1,
  draft(s, entity, j, cfg) {
    const who = entity.name ?? entity.id;
    return {
      entity,
      route: null,
      method: null,
      tenant: s.tenant,
      confidence: Math.min(0.95, 0.6 + 0.1 * Math.log2(j.observed / Math.max(1, j.threshold) + 1)),
      summary: `${entity.kind} ${who} made ${j.observed} requests in 5 min; ${j.maxPeak === null ? `it has no history yet (cold floor ${cfg.coldFloor})` : `its typical busiest 5 min of a day was ${j.expected} (highest ${j.maxPeak}, last ${j.days} active day(s))`} (threshold ${Math.round(j.threshold)}; top: ${Object.keys(topRoutes(s)).join(', ')}).`,
      firstSeen: episodeStart(s),
      lastSeen: lastAbove(s),
      evidence: {
        observed: j.observed,
        baseline: j.expected,
        threshold: Math.round(j.threshold),
        windowSeconds: 300,
        counts: { requests5m: j.observed, historyDays: j.days, distinctUserAgents: j.distinctAgents },
        sampleEventIds: sampleIds(s),
        details: {
          medianDailyPeak: j.expected,
          highestDailyPeak: j.maxPeak,
          weekdayPeak: j.weekdayPeak,
          topRoutes: topRoutes(s),
          clientIp: s.clientIp,
          userAgent: s.userAgent,
        },
      },
      recommendedAction: `Rate-limit ${who} at the gateway and check whether the credential is automated abuse or a new integration; raise its per-entity threshold if the new volume is legitimate.`,
    };
  },
  resolvedSummary: (e, s) =>
    `${e.kind} ${e.name ?? e.id} is back under its request-rate threshold (peak ${peakObserved(s)} in 5 min).`,
};

/**
 * `volume.actor_spike` (OWASP API4:2023 Unrestricted Resource Consumption, API6): one actor's
 * request rate over five minutes far above its own habit (its typical daily five-minute peak over
 * the last week, and the same weekday's peaks of the weeks before), judged once per minute tick. Batch jobs, indexers and Monday peaks are in that
 * habit; a shared IP egress (many user agents) has floors scaled by its crowd.
 */
export const actorSpike = defineDetector({
  id: 'volume.actor_spike',
  title: 'Request-rate spike by one actor',
  owasp: 'API4:2023',
  nist: 'rate-limiting',
  severity: 'medium',
  configSchema: ActorSpikeConfig,
  scope: 'actor',
  fingerprint: ['entity'],
  keyBy: habitKey,
  init: initHabit,
  sizeOf: habitSize,
  idleMs: () => HABIT_IDLE_MS,
  onEvent: (s, event, ctx, key) => habitOnEvent(spec, s, event, ctx, key),
  onWatermark: (s, ts, ctx, key) => habitOnWatermark(spec, s, ts, ctx, key),
});
