/**
 * The shape shared by the actor-keyed volume detectors (actor_spike, exfiltration, scraping):
 * one measure per event, summed over five event-time minutes, judged once per minute tick against
 * the actor's own daily peaks (actor-habit.ts). Episodes open on the first window above the
 * threshold and resolve after a quiet period below it.
 */
import { type ApiEvent, actorEntity, actorKey, type FindingEntity } from '@apiwatch/core';
import type { Static, TObject } from '@sinclair/typebox';
import {
  actorFindingEntity,
  type EpisodeRef,
  episodeRef,
  intern,
  MINUTE_MS,
  resolvedOf,
} from '../bola/common.ts';
import type { DetectorContext, FindingDraft } from '../runtime/define.ts';
import {
  type ActorHabit,
  addToHabit,
  advanceHabit,
  HABIT_LENGTH,
  type HabitJudgement,
  type HabitLimits,
  type HabitRule,
  habitBytes,
  habitFrom,
  habitHour,
  habitMinute,
  judgeHabit,
  newHabit,
  windowSum,
} from './actor-habit.ts';

/** Routes kept for the finding's `topRoutes` (a Misra–Gries summary, as TopK(3)). */
const TOP_ROUTES = 3;

/** The detector's numbers, after the habit's in `HabitState.habit`. */
const OPEN = HABIT_LENGTH;
const EPISODE_START = OPEN + 1;
const LAST_ABOVE = OPEN + 2;
const PEAK_OBSERVED = OPEN + 3;
/** The threshold of the last judgement this hour (0 before it). */
const BAR = OPEN + 4;
/** 1 once a measured call named the actor (`name`, `credentialRef` are set). */
const NAMED = OPEN + 5;
/** Counts of `routes[i]`. */
const ROUTE_COUNTS = OPEN + 6;
const STATE_LENGTH = ROUTE_COUNTS + TOP_ROUTES;

/**
 * Per actor (decision 0026): one array of numbers (the habit, then the episode's numbers and the
 * top-route counts: no boxed doubles, no TopK object and its two arrays), the strings as the last
 * measured call had them — tenant, user agent, name and ref interned when they change, so the
 * actor's three habit detectors and every actor of a tenant or office share one copy each — and
 * the samples and episode only while they serve a finding. The finding entity is built from the
 * key when a finding is drafted.
 */
export interface HabitState {
  habit: ActorHabit;
  /** The top routes (`METHOD route`), counts at ROUTE_COUNTS; null when none. */
  routes: string[] | null;
  /**
   * Sample event ids, kept only while the five-minute window is at least half the threshold of
   * the last judgement (BAR; before the first one, of the lower of floor and coldFloor) or an
   * episode is open: an actor well inside its habit holds none (null).
   */
  samples: string[] | null;
  /** The entity's name and credential ref as the last measured call named them (see NAMED). */
  name: string | null;
  credentialRef: string | null;
  tenant: string | null;
  clientIp: string | null;
  userAgent: string | null;
  /** The open episode's identity, for its resolved update. */
  ref: EpisodeRef | null;
  /** Hashes of the last distinct resources the measure counted (scraping only; null elsewhere). */
  recent: Uint32Array | null;
}

export interface HabitConfig extends HabitLimits {
  quietSeconds: number;
}

export interface HabitSpec<C extends HabitConfig> {
  /** The event's contribution to the measure (0 skips it). */
  measure(event: ApiEvent, config: C, s: HabitState): number;
  /** How the habit is read (default: the typical daily peak, actor-habit.ts). */
  rule?: HabitRule;
  draft(s: HabitState, entity: FindingEntity, j: HabitJudgement, config: C): FindingDraft;
  resolvedSummary(entity: FindingEntity, s: HabitState): string;
}

export function habitKey(event: ApiEvent): string | null {
  return actorKey(event);
}

export function initHabit(): HabitState {
  return {
    habit: newHabit(STATE_LENGTH - HABIT_LENGTH),
    routes: null,
    samples: null,
    name: null,
    credentialRef: null,
    tenant: null,
    clientIp: null,
    userAgent: null,
    ref: null,
    recent: null,
  };
}

export function habitSize(s: HabitState): number {
  return (
    96 +
    habitBytes(s.habit.length) +
    (s.routes ? 48 + s.routes.length * 8 : 0) +
    (s.samples ? 48 + s.samples.length * 68 : 0) +
    (s.ref ? 200 : 0) +
    (s.recent ? s.recent.byteLength + 180 : 0)
  );
}

/** The open episode's first and last minute above the threshold and its peak (for drafts). */
export const episodeStart = (s: HabitState): number => s.habit[EPISODE_START]!;
export const lastAbove = (s: HabitState): number => s.habit[LAST_ABOVE]!;
export const peakObserved = (s: HabitState): number => s.habit[PEAK_OBSERVED]!;
export const sampleIds = (s: HabitState): string[] => (s.samples ? [...s.samples] : []);

/** The top routes by count, highest first (ties in the order they were first kept), as TopK.top(). */
export function topRoutes(s: HabitState): Record<string, number> {
  const routes = s.routes ?? [];
  const pairs = routes.map((r, i) => [r, s.habit[ROUTE_COUNTS + i]!] as const).sort((a, b) => b[1] - a[1]);
  return Object.fromEntries(pairs);
}

/** Misra–Gries over TOP_ROUTES slots (what TopK(3).add did): a new route when all are taken lowers each by one. */
function addRoute(s: HabitState, route: string): void {
  const n = s.habit;
  const routes = s.routes;
  const i = routes === null ? -1 : routes.indexOf(route);
  if (i >= 0) {
    n[ROUTE_COUNTS + i]! += 1;
    return;
  }
  const len = routes?.length ?? 0;
  if (len < TOP_ROUTES) {
    // Not interned: an actor of many routes churns through the slots, and interning costs a
    // string-table lookup each time.
    const kept = route.slice(0, 256);
    s.routes = routes === null ? [kept] : routes.concat(kept);
    n[ROUTE_COUNTS + len] = 1;
    return;
  }
  let w = 0;
  for (let j = 0; j < len; j++) {
    const c = n[ROUTE_COUNTS + j]! - 1;
    if (c <= 0) continue;
    n[ROUTE_COUNTS + w] = c;
    routes![w++] = routes![j]!;
  }
  if (w === len) return;
  n.fill(0, ROUTE_COUNTS + w, ROUTE_COUNTS + len);
  s.routes = w === 0 ? null : routes!.slice(0, w);
}

function clearRoutes(s: HabitState): void {
  s.routes = null;
  s.habit.fill(0, ROUTE_COUNTS, ROUTE_COUNTS + TOP_ROUTES);
}

/** The finding entity of the actor, as the last measured call named it. */
function entityOf(s: HabitState, key: string): FindingEntity {
  const { kind, id } = actorEntity(key);
  return { kind, id, name: s.name, ref: s.credentialRef };
}

/** `current` when it holds the same text as `next`, else `next` interned: one copy per distinct text. */
function same(current: string | null, next: string | null): string | null {
  if (next === current) return current;
  return next === null ? null : intern(next);
}

/**
 * A state checkpointed before this layout (decision 0026): a habit object or Float64Array(42),
 * a TopK of routes, the episode's numbers as fields and the finding entity as an object.
 */
function upgrade(s: HabitState): void {
  const old = s as unknown as {
    open?: boolean;
    episodeStart?: number;
    lastAbove?: number;
    peakObserved?: number;
    bar?: number;
    entity?: FindingEntity | null;
    routes: { keys?: string[]; counts?: number[] } | string[] | null;
  };
  const n = habitFrom(s.habit, STATE_LENGTH - HABIT_LENGTH);
  n[OPEN] = old.open ? 1 : 0;
  n[EPISODE_START] = old.episodeStart ?? 0;
  n[LAST_ABOVE] = old.lastAbove ?? 0;
  n[PEAK_OBSERVED] = old.peakObserved ?? 0;
  n[BAR] = old.bar ?? 0;
  n[NAMED] = old.entity ? 1 : 0;
  s.name = old.entity?.name ?? null;
  s.credentialRef = old.entity?.ref ?? null;
  const top = old.routes && !Array.isArray(old.routes) ? old.routes : null;
  const keys = top?.keys ?? [];
  s.routes = keys.length > 0 ? keys.slice(0, TOP_ROUTES) : null;
  for (let i = 0; i < (s.routes?.length ?? 0); i++) n[ROUTE_COUNTS + i] = top!.counts![i]!;
  if (s.samples && s.samples.length === 0) s.samples = null;
  s.habit = n;
  delete old.open;
  delete old.episodeStart;
  delete old.lastAbove;
  delete old.peakObserved;
  delete old.bar;
  delete old.entity;
}

/**
 * The threshold the next window is likely to face: the last judged one, before the first the
 * lowest any window can face (every threshold is at least floor or coldFloor).
 */
const sampleBar = (s: HabitState, cfg: HabitLimits) => s.habit[BAR] || Math.min(cfg.floor, cfg.coldFloor);

/** Judges the window that ended with the minute before `ts`, then moves the habit to `ts`. */
function tick<C extends HabitConfig>(
  spec: HabitSpec<C>,
  s: HabitState,
  ts: number,
  key: string,
  cfg: C,
): FindingDraft[] | undefined {
  // Allocated only for a draft: most ticks have none, and this runs on every event.
  let out: FindingDraft[] | undefined;
  const h = s.habit;
  const minute = habitMinute(h);
  if (minute >= 0 && Math.floor(ts / MINUTE_MS) > minute && h[NAMED] === 1) {
    const j = judgeHabit(h, cfg, key.startsWith('ip:'), spec.rule);
    h[BAR] = j.threshold;
    if (j.observed > 0 && j.observed >= j.threshold) {
      h[LAST_ABOVE] = minute * MINUTE_MS + MINUTE_MS - 1;
      h[PEAK_OBSERVED] = Math.max(h[PEAK_OBSERVED]!, j.observed);
      if (h[OPEN] === 0) {
        h[OPEN] = 1;
        h[EPISODE_START] = Math.max(0, (minute - 4) * MINUTE_MS);
        const d = spec.draft(s, entityOf(s, key), j, cfg);
        s.ref = episodeRef(d);
        out = [d];
      }
    }
  }
  if (h[OPEN] === 1 && s.ref && ts >= h[LAST_ABOVE]! + cfg.quietSeconds * 1000) {
    h[OPEN] = 0;
    out ??= [];
    out.push(
      resolvedOf(s.ref, {
        endedAt: h[LAST_ABOVE]!,
        lastSeen: h[LAST_ABOVE]!,
        summary: spec.resolvedSummary(s.ref.entity, s),
        observed: h[PEAK_OBSERVED]!,
        windowSeconds: 300,
      }),
    );
    s.ref = null;
    h[PEAK_OBSERVED] = 0;
    s.samples = null;
    clearRoutes(s);
  }
  const hour = habitHour(h);
  advanceHabit(h, ts, h[OPEN] === 0);
  // A new hour (or day) can lower the threshold (today's peak joins the habit, the day's user
  // agents start afresh); within an hour it only rises. Until the next judgement the bar is the
  // lowest any window can face.
  if (habitHour(h) !== hour) h[BAR] = 0;
  if (s.samples !== null && h[OPEN] === 0 && windowSum(h) < sampleBar(s, cfg) / 2) s.samples = null;
  return out;
}

function arm<C extends HabitConfig>(s: HabitState, ctx: DetectorContext<C>, now: number): void {
  const cfg = ctx.config;
  const h = s.habit;
  // Hot (half the floor in the window): judge at the next minute even if no event comes.
  if (windowSum(h) >= cfg.floor / 2) ctx.wakeAt((Math.floor(now / MINUTE_MS) + 1) * MINUTE_MS);
  else if (h[OPEN] === 1) ctx.wakeAt(h[LAST_ABOVE]! + cfg.quietSeconds * 1000);
}

export function habitOnEvent<C extends HabitConfig>(
  spec: HabitSpec<C>,
  s: HabitState,
  event: ApiEvent,
  ctx: DetectorContext<C>,
  key: string,
): FindingDraft[] | undefined {
  if (s.habit.length !== STATE_LENGTH) upgrade(s);
  const value = spec.measure(event, ctx.config, s);
  const out = tick(spec, s, event.ts, key, ctx.config);
  if (value > 0) {
    const h = s.habit;
    addToHabit(h, event.ts, value, event.client.userAgent);
    if (h[OPEN] === 0 || h[NAMED] === 0) {
      const entity = actorFindingEntity(key, event);
      s.name = same(s.name, entity.name);
      s.credentialRef = same(s.credentialRef, entity.ref);
      h[NAMED] = 1;
    }
    s.tenant = same(s.tenant, event.identity.tenant);
    // Not interned: a roaming actor's address changes from call to call.
    s.clientIp = event.client.ip;
    s.userAgent = same(s.userAgent, event.client.userAgent);
    addRoute(s, `${event.request.method} ${event.request.route ?? event.request.path}`);
    if (h[OPEN] === 1 || windowSum(h) >= sampleBar(s, ctx.config) / 2) {
      s.samples ??= [];
      const samples = s.samples;
      if (samples.length < 10) samples.push(event.id);
      else if (h[OPEN] === 0) samples[(event.ts >>> 0) % 10] = event.id;
    }
  }
  arm(s, ctx, event.ts);
  return out;
}

export function habitOnWatermark<C extends HabitConfig>(
  spec: HabitSpec<C>,
  s: HabitState,
  ts: number,
  ctx: DetectorContext<C>,
  key: string,
): FindingDraft[] | undefined {
  if (s.habit.length !== STATE_LENGTH) upgrade(s);
  const out = tick(spec, s, ts, key, ctx.config);
  arm(s, ctx, ts);
  return out;
}

export type HabitConfigOf<C extends TObject> = Static<C> & HabitConfig;
