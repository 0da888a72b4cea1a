/**
 * The shape shared by the actor-keyed volume detectors (actor_spike, exfiltration, scraping):
 * one measure per event, summed over five event-time minutes, judged once per minute tick against
 * the actor's own daily peaks (actor-habit.ts). Episodes open on the first window above the
 * threshold and resolve after a quiet period below it.
 */
import { type ApiEvent, actorKey, type FindingEntity } from '@apiwatch/core';
import type { Static, TObject } from '@sinclair/typebox';
import {
  actorFindingEntity,
  type EpisodeRef,
  episodeRef,
  MINUTE_MS,
  resolvedOf,
  TopK,
} from '../bola/common.ts';
import type { DetectorContext, FindingDraft } from '../runtime/define.ts';
import {
  type ActorHabit,
  addToHabit,
  advanceHabit,
  HABIT_BYTES,
  type HabitJudgement,
  type HabitLimits,
  type HabitRule,
  habitFrom,
  habitHour,
  habitMinute,
  judgeHabit,
  newHabit,
  windowSum,
} from './actor-habit.ts';

export interface HabitState {
  habit: ActorHabit;
  routes: TopK;
  /**
   * Sample event ids, kept only while the five-minute window is at least half the threshold of
   * the last judgement (`bar`; before the first one, of the lower of floor and coldFloor) or an
   * episode is open: an actor well inside its habit holds none.
   */
  samples: string[];
  /** The threshold of the last judgement this hour (0 before it; absent in older checkpoints). */
  bar?: number;
  open: boolean;
  episodeStart: number;
  lastAbove: number;
  peakObserved: number;
  /** The actor as the last measured call named it (entity name and revocable ref). */
  entity: FindingEntity | null;
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
    habit: newHabit(),
    routes: new TopK(3),
    samples: [],
    bar: 0,
    open: false,
    episodeStart: 0,
    lastAbove: 0,
    peakObserved: 0,
    entity: null,
    tenant: null,
    clientIp: null,
    userAgent: null,
    ref: null,
    recent: null,
  };
}

export function habitSize(s: HabitState): number {
  return (
    HABIT_BYTES +
    s.routes.bytes +
    s.samples.length * 60 +
    (s.open ? 200 : 0) +
    (s.recent ? s.recent.byteLength + 8 : 0)
  );
}

/**
 * The threshold the next window is likely to face: the last judged one, before the first the
 * lowest any window can face (every threshold is at least floor or coldFloor).
 */
const sampleBar = (s: HabitState, cfg: HabitLimits) => s.bar || Math.min(cfg.floor, cfg.coldFloor);

/** Judges the window that ended with the minute before `ts`, then moves the habit to `ts`. */
function tick<C extends HabitConfig>(
  spec: HabitSpec<C>,
  s: HabitState,
  ts: number,
  key: string,
  cfg: C,
): FindingDraft[] {
  const out: FindingDraft[] = [];
  const h = s.habit;
  const entity = s.entity;
  const minute = habitMinute(h);
  if (minute >= 0 && Math.floor(ts / MINUTE_MS) > minute && entity) {
    const j = judgeHabit(h, cfg, key.startsWith('ip:'), spec.rule);
    s.bar = j.threshold;
    if (j.observed > 0 && j.observed >= j.threshold) {
      s.lastAbove = minute * MINUTE_MS + MINUTE_MS - 1;
      s.peakObserved = Math.max(s.peakObserved, j.observed);
      if (!s.open) {
        s.open = true;
        s.episodeStart = Math.max(0, (minute - 4) * MINUTE_MS);
        const d = spec.draft(s, entity, j, cfg);
        s.ref = episodeRef(d);
        out.push(d);
      }
    }
  }
  if (s.open && s.ref && ts >= s.lastAbove + cfg.quietSeconds * 1000) {
    s.open = false;
    out.push(
      resolvedOf(s.ref, {
        endedAt: s.lastAbove,
        lastSeen: s.lastAbove,
        summary: spec.resolvedSummary(s.ref.entity, s),
        observed: s.peakObserved,
        windowSeconds: 300,
      }),
    );
    s.ref = null;
    s.peakObserved = 0;
    s.samples = [];
    s.routes.clear();
  }
  const hour = habitHour(h);
  advanceHabit(h, ts, !s.open);
  // A new hour (or day) can lower the threshold (today's peak joins the habit, the day's user
  // agents start afresh); within an hour it only rises. Until the next judgement the bar is the
  // lowest any window can face.
  if (habitHour(h) !== hour) s.bar = 0;
  if (s.samples.length > 0 && !s.open && windowSum(h) < sampleBar(s, cfg) / 2) s.samples = [];
  return out;
}

function arm<C extends HabitConfig>(s: HabitState, ctx: DetectorContext<C>, now: number): void {
  const cfg = ctx.config;
  // Hot (half the floor in the window): judge at the next minute even if no event comes.
  if (windowSum(s.habit) >= cfg.floor / 2) ctx.wakeAt((Math.floor(now / MINUTE_MS) + 1) * MINUTE_MS);
  else if (s.open) ctx.wakeAt(s.lastAbove + cfg.quietSeconds * 1000);
}

export function habitOnEvent<C extends HabitConfig>(
  spec: HabitSpec<C>,
  s: HabitState,
  event: ApiEvent,
  ctx: DetectorContext<C>,
  key: string,
): FindingDraft[] | undefined {
  if (!(s.habit instanceof Float64Array)) s.habit = habitFrom(s.habit);
  const value = spec.measure(event, ctx.config, s);
  const out = tick(spec, s, event.ts, key, ctx.config);
  if (value > 0) {
    addToHabit(s.habit, event.ts, value, event.client.userAgent);
    if (!s.open || !s.entity) s.entity = actorFindingEntity(key, event);
    s.tenant = event.identity.tenant;
    s.clientIp = event.client.ip;
    s.userAgent = event.client.userAgent;
    s.routes.add(`${event.request.method} ${event.request.route ?? event.request.path}`);
    if (s.open || windowSum(s.habit) >= sampleBar(s, ctx.config) / 2) {
      if (s.samples.length < 10) s.samples.push(event.id);
      else if (!s.open) s.samples[(event.ts >>> 0) % 10] = event.id;
    }
  }
  arm(s, ctx, event.ts);
  return out.length > 0 ? out : undefined;
}

export function habitOnWatermark<C extends HabitConfig>(
  spec: HabitSpec<C>,
  s: HabitState,
  ts: number,
  ctx: DetectorContext<C>,
  key: string,
): FindingDraft[] | undefined {
  if (!(s.habit instanceof Float64Array)) s.habit = habitFrom(s.habit);
  const out = tick(spec, s, ts, key, ctx.config);
  arm(s, ctx, ts);
  return out.length > 0 ? out : undefined;
}

export type HabitConfigOf<C extends TObject> = Static<C> & HabitConfig;
