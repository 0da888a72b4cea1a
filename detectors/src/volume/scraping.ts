import type { ApiEvent } from '@apiwatch/core';
import { Type as T } from '@sinclair/typebox';
import { defineDetector } from '../runtime/define.ts';
import { HABIT_IDLE_MS } from './actor-habit.ts';
import {
  type HabitSpec,
  habitKey,
  habitOnEvent,
  habitOnWatermark,
  habitSize,
  initHabit,
} from './habit-detector.ts';

export const ScrapingConfig = T.Object(
  {
    floor: T.Integer({
      minimum: 1,
      default: 150,
      description: 'Paginated or search calls in five minutes below which nothing is reported.',
    }),
    coldFloor: T.Integer({
      minimum: 1,
      default: 400,
      description: 'The same for an actor with no history of its own yet.',
    }),
    peakMultiplier: T.Number({
      minimum: 1,
      default: 4,
      description: '× the highest five-minute count of the actor’s last seven days.',
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
    paginationParams: T.Array(T.String({ maxLength: 64 }), {
      default: [
        'page',
        'offset',
        'cursor',
        'after',
        'before',
        'start',
        'skip',
        'page_token',
        'pageToken',
        'next',
        'marker',
        'from',
        'since_id',
        'max_id',
        'PageToken',
        'Page',
      ],
      description: 'Query parameter names that page through a list.',
    }),
    searchParams: T.Array(T.String({ maxLength: 64 }), {
      default: ['q', 'query', 'search', 'term', 'keyword', 'keywords', 'filter', 'name'],
      description: 'Query parameter names that search.',
    }),
    quietSeconds: T.Integer({
      minimum: 60,
      default: 1800,
      description: 'The episode resolves after this long below the threshold.',
    }),
  },
  { additionalProperties: false },
);

type Cfg = (typeof ScrapingConfig)['static'];

export function isListOrSearch(e: ApiEvent, cfg: Pick<Cfg, 'paginationParams' | 'searchParams'>): boolean {
  if (e.request.method !== 'GET' || e.response.status < 200 || e.response.status >= 300) return false;
  const keys = e.request.queryKeys;
  if (keys.some((k) => cfg.paginationParams.includes(k) || cfg.searchParams.includes(k))) return true;
  return /\/(search|find|lookup|query)(\/|$)/i.test(e.request.route ?? e.request.path);
}

const spec: HabitSpec<Cfg> = {
  measure: (e, cfg) => (isListOrSearch(e, cfg) ? 1 : 0),
  draft(s, entity, j) {
    const who = entity.name ?? entity.id;
    return {
      entity,
      route: null,
      method: 'GET',
      tenant: s.tenant,
      confidence: Math.min(0.95, 0.6 + 0.1 * Math.log2(j.observed / Math.max(1, j.threshold) + 1)),
      summary: `${entity.kind} ${who} made ${j.observed} paginated or search calls in 5 min; ${j.maxPeak === null ? 'it has no history yet' : `its busiest 5 min of the last ${j.days} day(s) was ${j.maxPeak}`} (top: ${Object.keys(s.routes.top()).join(', ')}).`,
      firstSeen: s.episodeStart,
      lastSeen: s.lastAbove,
      evidence: {
        observed: j.observed,
        baseline: j.maxPeak,
        threshold: Math.round(j.threshold),
        windowSeconds: 300,
        counts: {
          listOrSearchCalls5m: j.observed,
          historyDays: j.days,
          distinctUserAgents: j.distinctAgents,
        },
        sampleEventIds: [...s.samples],
        details: {
          medianDailyPeak: j.expected,
          topRoutes: s.routes.top(),
          clientIp: s.clientIp,
          userAgent: s.userAgent,
        },
      },
      recommendedAction: `Rate-limit list and search calls for ${who}, cap page sizes, and check the user agent against known crawlers (verify them by reverse DNS, not by name).`,
    };
  },
  resolvedSummary: (e, s) =>
    `${e.kind} ${e.name ?? e.id} stopped scraping (peak ${s.peakObserved} list/search calls in 5 min).`,
};

/**
 * `volume.scraping` (OWASP API6:2023 Unrestricted Access to Sensitive Business Flows; OAT-011):
 * one actor paging through lists or running searches far above its own habit.
 */
export const scraping = defineDetector({
  id: 'volume.scraping',
  title: 'Scraping (pagination or search far above habit)',
  owasp: 'API6:2023',
  nist: 'rate-limiting',
  severity: 'medium',
  configSchema: ScrapingConfig,
  scope: 'actor',
  fingerprint: ['entity'],
  keyBy: (event, cfg) => (isListOrSearch(event, cfg) ? habitKey(event) : null),
  init: initHabit,
  sizeOf: habitSize,
  idleMs: () => HABIT_IDLE_MS,
  onEvent: (s, event, ctx, key) => habitOnEvent(spec, s, event, ctx, key),
  onWatermark: (s, ts, ctx, key) => habitOnWatermark(spec, s, ts, ctx, key),
});
