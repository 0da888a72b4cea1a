import type { ApiEvent } from '@apiwatch/core';
import { Type as T } from '@sinclair/typebox';
import { fnv1a } from '../bola/common.ts';
import { defineDetector } from '../runtime/define.ts';
import { HABIT_IDLE_MS } from './actor-habit.ts';
import {
  episodeStart,
  type HabitSpec,
  type HabitState,
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

export const ScrapingConfig = T.Object(
  {
    floor: T.Integer({
      minimum: 1,
      default: 60,
      description:
        'Paginated, search or distinct detail-page calls in five minutes below which nothing is reported (12 a minute).',
    }),
    coldFloor: T.Integer({
      minimum: 1,
      default: 400,
      description: 'The same for an actor with no history of its own yet.',
    }),
    peakMultiplier: T.Number({
      minimum: 1,
      default: 3,
      description:
        '× the actor’s typical (median) daily five-minute peak of the last seven days; the same weekday’s peaks of the weeks before count 2×.',
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

/** A successful GET of one resource of a templated route (`/pets/{petId}`): a detail page. */
export function isDetail(e: ApiEvent): boolean {
  return (
    e.request.method === 'GET' &&
    e.response.status >= 200 &&
    e.response.status < 300 &&
    e.request.route?.includes('{') === true
  );
}

const RECENT = 32;

/**
 * Detail pages count once per distinct path among the actor's last 32 counted ones: a crawler
 * walks the catalogue one item after another, a person re-reads the few items they work on.
 */
function countDetail(e: ApiEvent, s: HabitState): number {
  const h = fnv1a(e.request.path) || 1;
  if (!s.recent) s.recent = new Uint32Array(RECENT + 1);
  const ring = s.recent;
  for (let i = 0; i < RECENT; i++) if (ring[i] === h) return 0;
  const at = ring[RECENT]!;
  ring[at] = h;
  ring[RECENT] = (at + 1) % RECENT;
  return 1;
}

const scraped = (e: ApiEvent, cfg: Cfg) => isListOrSearch(e, cfg) || isDetail(e);

const spec: HabitSpec<Cfg> = {
  measure: (e, cfg, s) => (isListOrSearch(e, cfg) ? 1 : isDetail(e) ? countDetail(e, s) : 0),
  draft(s, entity, j) {
    const who = entity.name ?? entity.id;
    return {
      entity,
      route: null,
      method: 'GET',
      tenant: s.tenant,
      confidence: Math.min(0.95, 0.6 + 0.1 * Math.log2(j.observed / Math.max(1, j.threshold) + 1)),
      summary: `${entity.kind} ${who} made ${j.observed} paginated, search or distinct detail-page calls in 5 min; ${j.maxPeak === null ? 'it has no history yet' : `its typical busiest 5 min of a day was ${j.expected} (highest ${j.maxPeak}, last ${j.days} active day(s))`} (threshold ${Math.round(j.threshold)}; top: ${Object.keys(topRoutes(s)).join(', ')}).`,
      firstSeen: episodeStart(s),
      lastSeen: lastAbove(s),
      evidence: {
        observed: j.observed,
        baseline: j.expected,
        threshold: Math.round(j.threshold),
        windowSeconds: 300,
        counts: {
          scrapedCalls5m: j.observed,
          historyDays: j.days,
          distinctUserAgents: j.distinctAgents,
        },
        sampleEventIds: sampleIds(s),
        details: {
          medianDailyPeak: j.expected,
          weekdayPeak: j.weekdayPeak,
          topRoutes: topRoutes(s),
          clientIp: s.clientIp,
          userAgent: s.userAgent,
        },
      },
      recommendedAction: `Rate-limit list and search calls for ${who}, cap page sizes, and check the user agent against known crawlers (verify them by reverse DNS, not by name).`,
    };
  },
  resolvedSummary: (e, s) =>
    `${e.kind} ${e.name ?? e.id} stopped scraping (peak ${peakObserved(s)} list/search calls in 5 min).`,
};

/**
 * `volume.scraping` (OWASP API6:2023 Unrestricted Access to Sensitive Business Flows; OAT-011):
 * one actor paging through lists, running searches or walking detail pages (distinct resources of
 * templated routes) far above its own habit.
 */
export const scraping = defineDetector({
  id: 'volume.scraping',
  title: 'Scraping (pagination, search or detail pages far above habit)',
  owasp: 'API6:2023',
  nist: 'rate-limiting',
  severity: 'medium',
  configSchema: ScrapingConfig,
  scope: 'actor',
  fingerprint: ['entity'],
  keyBy: (event, cfg) => (scraped(event, cfg) ? habitKey(event) : null),
  init: initHabit,
  sizeOf: habitSize,
  idleMs: () => HABIT_IDLE_MS,
  onEvent: (s, event, ctx, key) => habitOnEvent(spec, s, event, ctx, key),
  onWatermark: (s, ts, ctx, key) => habitOnWatermark(spec, s, ts, ctx, key),
});
