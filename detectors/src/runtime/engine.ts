import { deserialize, serialize } from 'node:v8';
import {
  type ApiEvent,
  actorKey,
  DetectBaselinesConfig,
  type DetectBaselinesConfigValue,
  type DetectConfigValue,
  type DetectorFamily,
  type Finding,
  memoActorKey,
} from '@apiwatch/core';
import { Value } from '@sinclair/typebox/value';
import { type BaselineFallbacks, BaselineSnapshot } from '../baselines/refresher.ts';
import { DETECTORS } from '../registry.ts';
import {
  type CompiledSuppression,
  compileSuppressions,
  type ResolvedDetector,
  resolveDetectors,
} from './config.ts';
import type { AnyDetector, DetectorContext, FindingDraft, KeyScope } from './define.ts';
import { buildFinding } from './envelope.ts';
import { ReorderBuffer } from './reorder.ts';
import { decodeState, encodeState } from './state-codec.ts';
import { KeyStore } from './store.ts';
import { WakeQueue } from './timers.ts';

/**
 * The detection runtime (contract in define.ts). Per partition it keeps a lane: a reorder
 * buffer (event-time order within `allowedLatenessMs`), a clock (the lane's watermark: the
 * latest event time released), a wake queue for `ctx.wakeAt` (timers.ts), and one bounded
 * state store per detector (store.ts: columns over slots, LRU by Map order). One lagging
 * partition therefore never makes another's events late, and a revoked partition's state is
 * dropped with its lane.
 *
 * Detectors with `scope: 'global'` key on something other than the actor (route, account,
 * tenant), so they need all events of a key in one place:
 * - `global: 'local'` (embedded, replay, one instance): every lane's released events also go
 *   through one global lane (its own reorder buffer and clock) where the global detectors run;
 * - `global: 'forward'` (the first stage of a distributed detect role): global detectors do not
 *   run here; each released event is handed to `forward(event, key)` once per distinct key a
 *   global detector gives it, for re-keying onto the stage-2 topic (docs/decisions/0012);
 * - `global: 'only'` (the second stage): only global detectors run, in per-partition lanes of
 *   the re-keyed topic, each on the events forwarded under its own key.
 */

export type GlobalMode = 'local' | 'forward' | 'only';

export interface EngineOptions {
  /** Default: the registry. */
  detectors?: readonly AnyDetector[];
  /** Current baseline snapshot; default an empty snapshot of the configured fallbacks. */
  baselines?: () => BaselineSnapshot;
  global?: GlobalMode;
  /**
   * `global: 'forward'`: receives each released event once per distinct global key, with the
   * partition (lane) it was released from.
   */
  forward?: (event: ApiEvent, key: string, partition: number) => void;
  /**
   * Called with each finding as it is emitted and the event that caused it: the event a
   * detector's onEvent returned it for, or the released event whose time fired the detector's
   * timer; null when wall-clock time did (tick's idle advance). Tracing continues the event's
   * trace with it (docs/telemetry.md); nothing else should depend on it.
   */
  onFinding?: (finding: Finding, cause: ApiEvent | null) => void;
}

/** Per-detector counters (metrics label `detector`). */
export interface DetectorStats {
  id: string;
  scope: KeyScope;
  enabled: boolean;
  /** Events the detector handled (keyBy gave a key). */
  events: number;
  /** Keys held now. */
  keys: number;
  /** Keys evicted at the cap (LRU). */
  evictions: number;
  /** Keys dropped after idleMs without events. */
  expired: number;
  findings: number;
  suppressed: number;
  errors: number;
  timers: number;
}

export interface EngineCounters {
  events: number;
  late: number;
  evicted: number;
  findings: number;
  suppressed: number;
}

interface Item {
  ts: number;
  seq: number;
  event: ApiEvent;
  /** `global: 'only'`: the key the event was forwarded under. */
  key: string | null;
}

interface Run {
  index: number;
  def: AnyDetector;
  family: DetectorFamily;
  resolved: ResolvedDetector;
  /** No overrides: every event sees `resolved.config`. */
  simple: boolean;
  stats: DetectorStats;
  totalKeys: number;
  /** Events keyed so far (drives the approximate LRU). */
  touches: number;
}

/** One key of a snapshot's store: key, encoded state, pending wake (NaN: none), last event time, config. */
type SnapshotEntry = [string, unknown, number, number, Record<string, unknown>];

class Lane {
  readonly id: number | 'global';
  readonly buffer: ReorderBuffer<Item>;
  clock = Number.NEGATIVE_INFINITY;
  /** By run index; a detector's store is created with its first key in the lane. */
  readonly stores: Array<KeyStore | undefined>;
  readonly timers: WakeQueue;
  /** Wall time of the last arrival, and its event time (idle watermark, live only). */
  lastArrivalWall = Number.NaN;
  lastArrivalTs = Number.NEGATIVE_INFINITY;

  constructor(id: number | 'global', lateness: number, runs: number) {
    this.id = id;
    this.buffer = new ReorderBuffer<Item>(lateness);
    this.stores = new Array<KeyStore | undefined>(runs).fill(undefined);
    this.timers = new WakeQueue(this.stores);
  }

  store(run: Run): KeyStore {
    let s = this.stores[run.index];
    if (!s) {
      s = new KeyStore(run.resolved.config);
      this.stores[run.index] = s;
    }
    return s;
  }
}

const SWEEP_EVERY = 1024;
/** Wakes per key in a drain to Infinity (a day of minute ticks): see advance(). */
const MAX_WAKES_TO_INFINITY = 1440;
const MAX_SWEEP = 512;
const RECENT_KEYS = 8;

export class DetectionEngine {
  readonly counters: EngineCounters = { events: 0, late: 0, evicted: 0, findings: 0, suppressed: 0 };
  readonly mode: GlobalMode;
  private readonly runs: Run[];
  private readonly actorRuns: Run[];
  private readonly globalRuns: Run[];
  private readonly lanes = new Map<number, Lane>();
  private globalLane: Lane | null;
  private readonly lateness: number;
  private readonly cap: number;
  private readonly lruSlack: number;
  private readonly idleWatermarkMs: number;
  private readonly suppressions: CompiledSuppression[];
  private readonly baselines: () => BaselineSnapshot;
  private readonly forward: ((event: ApiEvent, key: string, partition: number) => void) | undefined;
  private readonly out: Finding[] = [];
  private readonly onFinding: EngineOptions['onFinding'];
  /** The released event being run (EngineOptions.onFinding's cause). */
  private cause: ApiEvent | null = null;
  private released: Item[] = [];
  private readonly spareReleased: Item[][] = [];
  private seq = 0;
  private sweepCountdown = SWEEP_EVERY;
  /** The lane whose clock `ctx.now()` reads, and the key (run, slot) `ctx.wakeAt` schedules. */
  private curLane: Lane | null = null;
  private curRun: Run | null = null;
  private curStore: KeyStore | null = null;
  private curSlot = -1;
  /** The last RECENT_KEYS interned keys (intern()). */
  private readonly recentKeys: string[] = [];
  private recentAt = 0;
  private readonly ctx: DetectorContext<Record<string, unknown>> & { config: Record<string, unknown> };

  constructor(detect: DetectConfigValue, options: EngineOptions = {}) {
    this.mode = options.global ?? 'local';
    if (this.mode === 'forward' && !options.forward)
      throw new Error("DetectionEngine: global 'forward' needs a forward callback");
    this.forward = options.forward;
    this.onFinding = options.onFinding;
    this.lateness = detect.allowedLatenessMs;
    this.cap = detect.maxActors;
    this.lruSlack = Math.max(1, detect.maxActors >> 3);
    this.idleWatermarkMs = detect.idleWatermarkMs ?? 0;
    const registry = options.detectors ?? DETECTORS;
    const resolved = resolveDetectors(detect, registry);
    this.suppressions = compileSuppressions(detect.suppressions ?? []);
    this.runs = resolved.map((r, index) => ({
      index,
      def: r.detector,
      family: r.detector.id.slice(0, r.detector.id.indexOf('.')) as DetectorFamily,
      resolved: r,
      simple: r.overrides.length === 0,
      totalKeys: 0,
      touches: 0,
      stats: {
        id: r.detector.id,
        scope: r.detector.scope,
        enabled: r.enabled || r.overrides.some((o) => o.set.enabled === true),
        events: 0,
        keys: 0,
        evictions: 0,
        expired: 0,
        findings: 0,
        suppressed: 0,
        errors: 0,
        timers: 0,
      },
    }));
    const active = this.runs.filter((r) => r.stats.enabled);
    this.actorRuns = active.filter((r) => r.def.scope === 'actor');
    this.globalRuns = active.filter((r) => r.def.scope === 'global');
    this.globalLane = this.mode === 'local' ? new Lane('global', this.lateness, this.runs.length) : null;
    const empty = BaselineSnapshot.empty(
      fallbacksOf(detect),
      detect.baselines?.minWeeks ?? 2,
      detect.baselines?.minRequests ?? 1000,
    );
    this.baselines = options.baselines ?? (() => empty);
    const self = this;
    this.ctx = {
      config: {},
      now() {
        return self.curLane ? self.curLane.clock : Number.NEGATIVE_INFINITY;
      },
      baselines() {
        return self.baselines();
      },
      wakeAt(ts: number) {
        const lane = self.curLane;
        const store = self.curStore;
        if (!lane || !store || !Number.isFinite(ts)) return;
        const slot = self.curSlot;
        // The same wake again (detectors re-arm on every event) keeps its place in the order.
        const was = store.wake[slot]!;
        if (was === ts) return;
        if (Number.isNaN(was)) store.pending++;
        store.wake[slot] = ts;
        lane.timers.set(self.curRun!.index, slot, ts);
      },
    };
  }

  /** Ids of the detectors that run in this engine (enabled, and in this stage). */
  get detectorIds(): string[] {
    const runs =
      this.mode === 'only'
        ? this.globalRuns
        : this.mode === 'forward'
          ? this.actorRuns
          : [...this.actorRuns, ...this.globalRuns];
    return runs.sort((a, b) => a.index - b.index).map((r) => r.def.id);
  }

  /** True when some enabled detector is global-scoped (a distributed role needs stage 2). */
  get hasGlobal(): boolean {
    return this.globalRuns.length > 0;
  }

  get buffered(): number {
    let n = this.globalLane?.buffer.size ?? 0;
    for (const l of this.lanes.values()) n += l.buffer.size;
    return n;
  }

  /** The lane clock of a partition (its watermark), or -Infinity when unknown. */
  watermark(partition = 0): number {
    return this.lanes.get(partition)?.clock ?? Number.NEGATIVE_INFINITY;
  }

  /** The lowest watermark over the assigned partitions (what is settled everywhere). */
  lowWatermark(): number {
    let w = Number.POSITIVE_INFINITY;
    for (const l of this.lanes.values()) if (l.clock < w) w = l.clock;
    return w === Number.POSITIVE_INFINITY ? Number.NEGATIVE_INFINITY : w;
  }

  partitions(): number[] {
    return [...this.lanes.keys()].sort((a, b) => a - b);
  }

  /**
   * Adds an event of `partition`. `arrivedAt` (wall ms) enables tick(): live sources pass it,
   * replay does not. `key`: stage 2 only, the key the event was forwarded under.
   */
  push(event: ApiEvent, arrivedAt?: number, partition = 0, key: string | null = null): Finding[] {
    const lane = this.lane(partition);
    if (arrivedAt !== undefined) {
      lane.lastArrivalWall = arrivedAt;
      if (event.ts > lane.lastArrivalTs) lane.lastArrivalTs = event.ts;
    }
    lane.buffer.push({ ts: event.ts, seq: this.seq++, event, key }, this.released, arrivedAt);
    this.runLane(lane);
    return this.take();
  }

  /**
   * Live only: releases events held for allowedLatenessMs of wall-clock time and, for a lane
   * with no arrival for idleWatermarkMs, advances its clock by the wall time since its last
   * event, so open episodes resolve when traffic stops.
   */
  tick(now: number): Finding[] {
    for (const lane of this.lanes.values()) {
      lane.buffer.expire(now, this.released);
      this.runLane(lane);
      this.idleAdvance(lane, now);
    }
    if (this.globalLane) {
      this.globalLane.buffer.expire(now, this.released);
      this.runGlobal();
      this.idleAdvance(this.globalLane, now);
    }
    return this.take();
  }

  /**
   * Releases every buffered event (end of a replay). `untilTs`: also fire timers up to that
   * event time (default: the latest event time seen; Infinity closes every open episode).
   */
  drain(untilTs?: number): Finding[] {
    for (const lane of this.lanes.values()) {
      lane.buffer.drain(this.released);
      this.runLane(lane);
      if (untilTs !== undefined) this.advance(lane, untilTs);
    }
    if (this.globalLane) {
      this.globalLane.buffer.drain(this.released);
      this.runGlobal();
      if (untilTs !== undefined) this.advance(this.globalLane, untilTs);
    }
    return this.take();
  }

  /** Advances a partition's watermark with no event (e.g. a source says it has no more). */
  advanceTo(ts: number, partition = 0): Finding[] {
    const lane = this.lane(partition);
    lane.buffer.releaseUpTo(ts, this.released);
    this.runLane(lane);
    this.advance(lane, ts);
    if (this.globalLane) {
      this.globalLane.buffer.releaseUpTo(ts, this.released);
      this.runGlobal();
    }
    return this.take();
  }

  /** The partitions were taken away (rebalance): their lanes, states and timers are dropped. */
  revoke(partitions: readonly number[]): void {
    for (const p of partitions) {
      const lane = this.lanes.get(p);
      if (!lane) continue;
      this.dropKeys(lane);
      this.lanes.delete(p);
    }
  }

  /**
   * The whole state of a partition's lane (clock, held events, every detector's keys and pending
   * wakes) as bytes (v8 serialization: Maps, Sets and typed arrays in detector states survive).
   * Restoring it into a fresh engine with the same config and continuing with the events after
   * it gives exactly the findings an uninterrupted engine gives (decision 0013).
   */
  snapshot(partition: number | 'global' = 0): Buffer {
    const lane = partition === 'global' ? this.globalLane : this.lanes.get(partition);
    if (!lane) return serialize({ v: 1, empty: true });
    // The format is the one the entry-per-key runtime wrote (v1), so checkpoints taken before the
    // slot store restore unchanged (engine.test.ts, testdata/snapshot-v1-*.bin).
    const stores: Array<[string, SnapshotEntry[]]> = [];
    for (let index = 0; index < lane.stores.length; index++) {
      const store = lane.stores[index];
      if (!store) continue;
      const entries: SnapshotEntry[] = [];
      for (const [k, slot] of store.slots)
        entries.push([
          k,
          encodeState(store.states[slot]),
          store.wake[slot]!,
          store.lastTs[slot]!,
          store.config(slot),
        ]);
      stores.push([this.runs[index]!.def.id, entries]);
    }
    const live = lane.timers.entries().sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const timers: Array<[number, string, string]> = live.map(([ts, , run, slot]) => [
      ts,
      this.runs[run]!.def.id,
      lane.stores[run]!.keys[slot]!,
    ]);
    return serialize({
      v: 1,
      clock: lane.clock,
      lastArrivalTs: lane.lastArrivalTs,
      buffer: lane.buffer.exportState(),
      stores,
      timers,
    });
  }

  /** Replaces a partition's lane with a snapshot() (taken by an engine with the same detectors). */
  restore(partition: number | 'global', bytes: Buffer): void {
    if (partition === 'global') {
      if (!this.globalLane) throw new Error("restore('global') needs an engine with global: 'local'");
      this.dropKeys(this.globalLane);
      this.globalLane = new Lane('global', this.lateness, this.runs.length);
    } else this.revoke([partition]);
    const snap = deserialize(bytes) as {
      v: number;
      empty?: boolean;
      clock: number;
      lastArrivalTs: number;
      buffer: ReturnType<ReorderBuffer<Item>['exportState']>;
      stores: Array<[string, SnapshotEntry[]]>;
      timers: Array<[number, string, string]>;
    };
    if (snap.v !== 1) throw new Error(`detector snapshot version ${snap.v} is not supported`);
    if (snap.empty) return;
    const lane = partition === 'global' ? this.globalLane! : this.lane(partition);
    lane.clock = snap.clock;
    lane.lastArrivalTs = snap.lastArrivalTs;
    lane.buffer.importState(snap.buffer);
    for (const item of snap.buffer.items) if (item.seq >= this.seq) this.seq = item.seq + 1;
    const byId = new Map<string, Run>(this.runs.map((r) => [r.def.id, r]));
    for (const [id, entries] of snap.stores) {
      const run = byId.get(id);
      if (!run) continue;
      const store = lane.store(run);
      const configs = new ConfigInterner(run);
      for (const [key, state, wake, lastTs, config] of entries) {
        const slot = store.add(internKey(key), decodeState(state), configs.of(config), lastTs, 0);
        if (!Number.isNaN(wake)) {
          store.wake[slot] = wake;
          store.pending++;
        }
        run.totalKeys++;
      }
    }
    // A key whose wake has no timer here keeps it without firing (a key past its wakes in a
    // drain to Infinity), as it did before the snapshot.
    for (const [ts, id, key] of snap.timers) {
      const run = byId.get(id);
      const store = run ? lane.stores[run.index] : undefined;
      const slot = store?.slots.get(key);
      if (run && store && slot !== undefined && store.wake[slot] === ts && store.queued[slot]! < 0)
        lane.timers.set(run.index, slot, ts);
    }
  }

  /** Number of keys held over every detector. */
  stateSize(): number {
    return this.runs.reduce((n, r) => n + r.totalKeys, 0);
  }

  /** Per-detector counters (keys and timers are current). */
  stats(): DetectorStats[] {
    const timers = new Array<number>(this.runs.length).fill(0);
    for (const lane of this.allLanes())
      for (let index = 0; index < lane.stores.length; index++)
        timers[index]! += lane.stores[index]?.pending ?? 0;
    return this.runs.map((r) => ({ ...r.stats, keys: r.totalKeys, timers: timers[r.index]! }));
  }

  /**
   * Approximate bytes of detector state per detector: the detector's `sizeOf` over a sample of
   * up to `sample` keys, scaled to all keys, plus the runtime's per-key overhead
   * (RUNTIME_BYTES_PER_KEY) and the key string.
   */
  stateBytes(sample = 256): Map<string, number> {
    const out = new Map<string, number>();
    for (const r of this.runs) {
      let seen = 0;
      let bytes = 0;
      for (const lane of this.allLanes()) {
        const store = lane.stores[r.index];
        if (!store) continue;
        for (const [key, slot] of store.slots) {
          if (seen >= sample) break;
          bytes +=
            RUNTIME_BYTES_PER_KEY + key.length * 2 + (r.def.sizeOf ? r.def.sizeOf(store.states[slot]) : 64);
          seen++;
        }
      }
      out.set(r.def.id, seen === 0 ? 0 : (bytes / seen) * r.totalKeys);
    }
    return out;
  }

  /** Suppressions with their counters. */
  suppressionStats(): Array<{
    id: string;
    reason: string;
    expiresAtMs: number;
    suppressed: number;
    expiredMatches: number;
  }> {
    return this.suppressions.map((s) => ({
      id: s.id,
      reason: s.reason,
      expiresAtMs: s.expiresAtMs,
      suppressed: s.suppressed,
      expiredMatches: s.expiredMatches,
    }));
  }

  private *allLanes(): Iterable<Lane> {
    yield* this.lanes.values();
    if (this.globalLane) yield this.globalLane;
  }

  private lane(partition: number): Lane {
    let lane = this.lanes.get(partition);
    if (!lane) {
      lane = new Lane(partition, this.lateness, this.runs.length);
      this.lanes.set(partition, lane);
    }
    return lane;
  }

  private take(): Finding[] {
    this.counters.late = this.lateOf();
    if (this.out.length === 0) return [];
    const f = this.out.splice(0, this.out.length);
    return f;
  }

  private lateOf(): number {
    let n = this.globalLane?.buffer.late ?? 0;
    for (const l of this.lanes.values()) n += l.buffer.late;
    return n;
  }

  /** Runs the events a lane's buffer released. */
  private runLane(lane: Lane): void {
    if (this.released.length === 0) return;
    const items = this.takeReleased();
    for (const item of items) {
      this.counters.events++;
      this.cause = item.event;
      this.advance(lane, item.ts);
      memoActorKey(item.event);
      if (this.mode === 'only') {
        for (const run of this.globalRuns) this.handle(lane, run, item.event, item.key);
        continue;
      }
      const event = item.event;
      for (const run of this.actorRuns) this.handle(lane, run, event, null);
      if (this.mode === 'forward' && this.globalRuns.length > 0)
        this.forwardGlobal(event, lane.id === 'global' ? 0 : lane.id);
    }
    memoActorKey(null);
    this.cause = null;
    // Local mode: every released event also goes through the global lane.
    if (this.mode === 'local' && this.globalRuns.length > 0 && this.globalLane) {
      for (const item of items) this.globalLane.buffer.push(item, this.released);
      this.recycle(items);
      this.runGlobal();
    } else this.recycle(items);
  }

  /** The released events to run; `released` starts over with an array from the pool (no copy per push). */
  private takeReleased(): Item[] {
    const items = this.released;
    this.released = this.spareReleased.pop() ?? [];
    return items;
  }

  private recycle(items: Item[]): void {
    items.length = 0;
    this.spareReleased.push(items);
  }

  private runGlobal(): void {
    const lane = this.globalLane;
    if (!lane || this.released.length === 0) return;
    const items = this.takeReleased();
    for (const item of items) {
      this.cause = item.event;
      this.advance(lane, item.ts);
      memoActorKey(item.event);
      for (const run of this.globalRuns) this.handle(lane, run, item.event, null);
    }
    memoActorKey(null);
    this.cause = null;
    this.recycle(items);
  }

  private forwardGlobal(event: ApiEvent, partition: number): void {
    let sent: string[] | null = null;
    for (const run of this.globalRuns) {
      const cfg = run.simple
        ? run.resolved.config
        : run.resolved.configFor(this.maskOf(run, event, actorKey(event)));
      let key: string | null;
      try {
        key = run.def.keyBy(event, cfg);
      } catch {
        run.stats.errors++;
        continue;
      }
      if (key === null) continue;
      if (sent?.includes(key)) continue;
      if (sent === null) sent = [key];
      else sent.push(key);
      this.forward!(event, key, partition);
    }
  }

  private maskOf(run: Run, event: ApiEvent, actor: string): number {
    let mask = 0;
    const o = run.resolved.overrides;
    for (let i = 0; i < o.length; i++) if (o[i]!.test(event, actor)) mask |= 1 << i;
    return mask;
  }

  /** One event through one detector. Returns the actor key if it had to compute it. */
  private handle(lane: Lane, run: Run, event: ApiEvent, onlyKey: string | null): void {
    let config = run.resolved.config;
    if (!run.simple) {
      // actorKey is served from the one-event memo the loop arms (memoActorKey).
      const mask = this.maskOf(run, event, actorKey(event));
      if (!run.resolved.enabledFor(mask)) return;
      config = run.resolved.configFor(mask);
    } else if (!run.resolved.enabled) return;
    let key: string | null;
    try {
      key = run.def.keyBy(event, config);
    } catch {
      run.stats.errors++;
      return;
    }
    if (key === null || (onlyKey !== null && key !== onlyKey)) return;
    run.stats.events++;
    const store = lane.store(run);
    let slot = store.slots.get(key);
    if (slot === undefined) {
      let state: unknown;
      try {
        state = run.def.init(key, event);
      } catch {
        run.stats.errors++;
        return;
      }
      if (run.totalKeys >= this.cap) this.evict(lane, run);
      run.totalKeys++;
      key = this.intern(key);
      slot = store.add(key, state, config, event.ts, run.touches);
    } else {
      // Approximate LRU: a key moves to the young end only when it has aged by cap/8 touches,
      // so a hot key costs a Map delete+set once per cap/8 events instead of on every one.
      if (run.touches - store.touch[slot]! > this.lruSlack) store.touchKey(key, slot, run.touches);
      store.setConfig(slot, config);
      if (event.ts > store.lastTs[slot]!) store.lastTs[slot] = event.ts;
    }
    run.touches++;
    this.ctx.config = config;
    this.enter(lane, run, store, slot);
    let drafts: FindingDraft[] | undefined;
    try {
      drafts = run.def.onEvent(store.states[slot], event, this.ctx, key);
    } catch {
      run.stats.errors++;
    }
    this.curLane = null;
    this.curStore = null;
    if (drafts) for (const d of drafts) this.emit(run, d, lane.clock);
  }

  private enter(lane: Lane, run: Run, store: KeyStore, slot: number): void {
    this.curLane = lane;
    this.curRun = run;
    this.curStore = store;
    this.curSlot = slot;
  }

  /**
   * The interned copy of a new key (internKey). Interning costs ~1 µs, and the actor-scope
   * detectors mostly key a new actor by the same string, so the last few interned keys are
   * checked first: one internalization per new actor instead of one per detector.
   */
  private intern(key: string): string {
    const recent = this.recentKeys;
    for (let i = 0; i < recent.length; i++) if (recent[i] === key) return recent[i]!;
    const k = internKey(key);
    recent[this.recentAt] = k;
    this.recentAt = (this.recentAt + 1) % RECENT_KEYS;
    return k;
  }

  /** Drops the least recently touched key of a detector (the cap is per detector, over lanes). */
  private evict(lane: Lane, run: Run): void {
    let from = lane;
    if ((lane.stores[run.index]?.size ?? 0) === 0) {
      // Take from the lane holding the most keys.
      for (const l of this.allLanes())
        if ((l.stores[run.index]?.size ?? 0) > (from.stores[run.index]?.size ?? 0)) from = l;
    }
    const store = from.stores[run.index];
    const oldest = store?.slots.values().next();
    if (!store || !oldest || oldest.done) return;
    from.timers.remove(run.index, oldest.value);
    store.remove(oldest.value);
    run.totalKeys--;
    run.stats.evictions++;
    this.counters.evicted++;
  }

  /** A lane is dropped: its keys no longer count towards their detectors' caps. */
  private dropKeys(lane: Lane): void {
    for (let index = 0; index < lane.stores.length; index++)
      this.runs[index]!.totalKeys -= lane.stores[index]?.size ?? 0;
  }

  /** Moves a lane's clock to `ts`, firing the timers due on the way (in time order). */
  private advance(lane: Lane, ts: number): void {
    if (!(ts > lane.clock)) return;
    const timers = lane.timers;
    // drain(Infinity) closes every episode that can close; a detector that re-arms for as long
    // as its condition holds (volume.route_drop on a route that stays silent) would loop for
    // ever, so past the data each key gets at most MAX_WAKES_TO_INFINITY wakes.
    const toInfinity = ts === Number.POSITIVE_INFINITY ? new Map<string, number>() : null;
    while (timers.size > 0 && timers.peekTs() <= ts) {
      const wake = timers.peekTs();
      const index = timers.topRun();
      const slot = timers.topSlot();
      const run = this.runs[index]!;
      const store = lane.stores[index]!;
      if (toInfinity) {
        const id = `${index}:${slot}`;
        const n = (toInfinity.get(id) ?? 0) + 1;
        if (n > MAX_WAKES_TO_INFINITY) {
          // The key keeps its wake time with no timer (it was so before the slot store).
          timers.pop();
          continue;
        }
        toInfinity.set(id, n);
      }
      store.wake[slot] = Number.NaN;
      store.pending--;
      if (wake > lane.clock) lane.clock = wake;
      if (!run.def.onWatermark) {
        timers.pop();
        continue;
      }
      // The fired entry stays queued while the detector runs: a re-arm (most ticks schedule the
      // next one) moves it in place with its new time and seq, one sift instead of a pop and a
      // push; the heap holds the same (ts, seq) pairs either way, so the firing order is the same.
      this.ctx.config = store.config(slot);
      this.enter(lane, run, store, slot);
      let drafts: FindingDraft[] | undefined;
      try {
        drafts = run.def.onWatermark(store.states[slot], wake, this.ctx, store.keys[slot]!);
      } catch {
        run.stats.errors++;
      }
      this.curLane = null;
      this.curStore = null;
      if (Number.isNaN(store.wake[slot]!)) timers.remove(index, slot);
      if (drafts) for (const d of drafts) this.emit(run, d, lane.clock);
    }
    lane.clock = ts;
    if (--this.sweepCountdown <= 0) {
      this.sweepCountdown = SWEEP_EVERY;
      this.sweep(lane);
    }
  }

  /** Drops keys idle for their detector's idleMs (oldest first, a bounded amount per sweep). */
  private sweep(lane: Lane): void {
    for (let index = 0; index < lane.stores.length; index++) {
      const store = lane.stores[index];
      const run = this.runs[index]!;
      if (!store || !run.def.idleMs) continue;
      let budget = MAX_SWEEP;
      for (const slot of store.slots.values()) {
        if (--budget < 0) break;
        const idle = run.def.idleMs(store.config(slot) as never);
        if (!(lane.clock - store.lastTs[slot]! > idle)) break;
        if (!Number.isNaN(store.wake[slot]!)) continue;
        store.remove(slot);
        run.totalKeys--;
        run.stats.expired++;
      }
    }
  }

  private idleAdvance(lane: Lane, now: number): void {
    if (this.idleWatermarkMs <= 0 || lane.buffer.size > 0 || Number.isNaN(lane.lastArrivalWall)) return;
    const idleFor = now - lane.lastArrivalWall;
    if (idleFor < this.idleWatermarkMs) return;
    const target = lane.lastArrivalTs + (idleFor - this.idleWatermarkMs);
    if (target > lane.clock) this.advance(lane, target);
  }

  private emit(run: Run, draft: FindingDraft, now: number): void {
    const f = buildFinding(run.def, run.family, draft, now);
    for (const s of this.suppressions) {
      if (!s.matches(f)) continue;
      if (f.detectedAt <= s.expiresAtMs) {
        s.suppressed++;
        run.stats.suppressed++;
        this.counters.suppressed++;
        return;
      }
      s.expiredMatches++;
    }
    run.stats.findings++;
    this.counters.findings++;
    this.out.push(f);
    this.onFinding?.(f, this.cause);
  }
}

/**
 * Runtime bytes per stored key besides the key string and the state (stateBytes): the Map slot
 * and the store's columns (store.ts), measured with no-op detectors (decision 0026).
 */
const RUNTIME_BYTES_PER_KEY = 130;

/**
 * One frozen config object per distinct effective config of a detector when a snapshot is
 * restored: each key's config is serialized with it, and without this every restored key would
 * hold its own copy where the running engine shares one per override combination.
 */
class ConfigInterner {
  private readonly seen = new Map<string, Record<string, unknown>>();

  constructor(run: Run) {
    this.seen.set(serialize(run.resolved.config).toString('latin1'), run.resolved.config);
  }

  of(config: Record<string, unknown>): Record<string, unknown> {
    const id = serialize(config).toString('latin1');
    let c = this.seen.get(id);
    if (!c) {
      c = Object.freeze(config);
      this.seen.set(id, c);
    }
    return c;
  }
}

/**
 * The one copy of a key string the whole process shares. Each detector's keyBy builds its own
 * string (most of them the actor key), and a store that kept every copy would hold the same
 * 40–70 characters once per detector per actor. Using the string as a property name makes V8
 * internalize it (its string table is weak, so nothing is held once no store keeps the key), and
 * for-in hands back that internalized copy. Only called when a key is first stored.
 */
function internKey(key: string): string {
  for (const k in { [key]: 0 }) return k;
  return key;
}

/** The static baseline values from detect.baselines.fallback (the schema's defaults when absent). */
export function fallbacksOf(detect: Partial<Pick<DetectConfigValue, 'baselines'>>): BaselineFallbacks {
  const b = (detect.baselines ?? Value.Default(DetectBaselinesConfig, {})) as DetectBaselinesConfigValue;
  const f = b.fallback;
  return {
    seasonal: { requestsPerHour: { ...f.requestsPerHour }, actorsPerHour: { ...f.actorsPerHour } },
    objects: { ...f.objects },
    authFailureRate: f.authFailureRate,
  };
}
