import { deserialize, serialize } from 'node:v8';
import type { ApiEvent, Finding } from '@apiwatch/core';
import type { DetectionEngine } from './engine.ts';
import { heapPop, heapPush } from './heap.ts';

/**
 * The input side of the second detection stage (docs/decisions/0012). Stage 1 (each detect
 * instance, on the events partitions it owns) forwards every event a global detector keys,
 * re-keyed by that key, in the order its lane released them, then broadcasts a watermark mark
 * per source partition (its lane clock) to every stage-2 partition. Here, per stage-2 partition,
 * events wait until every source partition has got past them (min over sources of the latest
 * mark or forwarded event time) and are then released in (time, event id, key) order into an
 * engine running only the global detectors. The order therefore depends on event times and
 * ids only, not on which instance forwarded what when: one instance or several raise the same
 * findings.
 */
interface Pending {
  ts: number;
  id: string;
  key: string;
  event: ApiEvent;
}

class MergeLane {
  readonly marks: Float64Array;
  readonly heap: Pending[] = [];
  released = Number.NEGATIVE_INFINITY;
  /** (event id, key) of the records merged recently, oldest first, for the repeat check. */
  readonly recent = new Set<string>();

  constructor(sources: number) {
    this.marks = new Float64Array(sources).fill(Number.NEGATIVE_INFINITY);
  }

  low(): number {
    let m = Number.POSITIVE_INFINITY;
    for (const v of this.marks) if (v < m) m = v;
    return m;
  }
}

export class Stage2Merger {
  private readonly engine: DetectionEngine;
  private readonly sources: number;
  private readonly lanes = new Map<number, MergeLane>();
  /** Events that arrived behind the merged watermark (stage-1 late events): run at once. */
  late = 0;
  /** Records dropped as repeats of one already merged (a restarted stage 1 re-forwards). */
  duplicates = 0;
  /** Per stage-2 partition: what a restarted stage 1 re-forwards is at most its checkpoint interval. */
  private static readonly RECENT_CAP = 100_000;

  /** `sources`: partitions of the events topic (every one sends marks). */
  constructor(engine: DetectionEngine, sources: number) {
    if (engine.mode !== 'only') throw new Error("Stage2Merger needs an engine with global: 'only'");
    this.engine = engine;
    this.sources = sources;
  }

  get buffered(): number {
    let n = 0;
    for (const l of this.lanes.values()) n += l.heap.length;
    return n;
  }

  /** The merged watermark of a stage-2 partition (min over sources), -Infinity when a source is unknown. */
  watermark(partition: number): number {
    return this.lanes.get(partition)?.low() ?? Number.NEGATIVE_INFINITY;
  }

  event(partition: number, source: number, key: string, event: ApiEvent): Finding[] {
    const lane = this.lane(partition);
    const seen = `${event.id}\u0000${key}`;
    if (lane.recent.has(seen)) {
      this.duplicates++;
      return [];
    }
    lane.recent.add(seen);
    if (lane.recent.size > Stage2Merger.RECENT_CAP) lane.recent.delete(lane.recent.values().next().value!);
    if (source >= 0 && source < this.sources && event.ts > lane.marks[source]!) lane.marks[source] = event.ts;
    if (event.ts < lane.released) {
      this.late++;
      return this.engine.push(event, undefined, partition, key);
    }
    heapPush(lane.heap, { ts: event.ts, id: event.id, key, event }, before);
    return this.release(partition, lane);
  }

  mark(partition: number, source: number, ts: number): Finding[] {
    const lane = this.lane(partition);
    if (source < 0 || source >= this.sources || !(ts > lane.marks[source]!)) return [];
    lane.marks[source] = ts;
    return this.release(partition, lane);
  }

  /**
   * The whole state of a stage-2 partition — merge marks, held events, the repeat set and the
   * global detectors' lane — as bytes, for a checkpoint (decision 0013). Restoring it into a
   * fresh merger and continuing with the records after the offset it covers gives the findings
   * an uninterrupted stage 2 gives.
   */
  snapshot(partition: number): Buffer {
    const lane = this.lanes.get(partition);
    return serialize({
      v: 1,
      lane: lane
        ? { marks: [...lane.marks], heap: lane.heap, released: lane.released, recent: [...lane.recent] }
        : null,
      engine: this.engine.snapshot(partition),
    });
  }

  /** Replaces a stage-2 partition's state with a snapshot() of a merger over as many sources. */
  restore(partition: number, bytes: Buffer): void {
    const snap = deserialize(bytes) as {
      v: number;
      lane: { marks: number[]; heap: Pending[]; released: number; recent: string[] } | null;
      engine: Buffer;
    };
    if (snap.v !== 1) throw new Error(`stage-2 snapshot version ${snap.v} is not supported`);
    this.revoke([partition]);
    if (snap.lane) {
      if (snap.lane.marks.length !== this.sources)
        throw new Error(
          `stage-2 snapshot has ${snap.lane.marks.length} source partitions, the events topic ${this.sources}`,
        );
      const lane = this.lane(partition);
      lane.marks.set(snap.lane.marks);
      lane.released = snap.lane.released;
      // The heap array keeps its order: it was a valid heap when it was taken.
      for (const p of snap.lane.heap) lane.heap.push(p);
      for (const r of snap.lane.recent) lane.recent.add(r);
    }
    this.engine.restore(partition, Buffer.from(snap.engine));
  }

  /** Stage-2 partitions taken away: their buffered events and the engine lanes are dropped. */
  revoke(partitions: readonly number[]): void {
    for (const p of partitions) this.lanes.delete(p);
    this.engine.revoke(partitions);
  }

  private lane(partition: number): MergeLane {
    let lane = this.lanes.get(partition);
    if (!lane) {
      lane = new MergeLane(this.sources);
      this.lanes.set(partition, lane);
    }
    return lane;
  }

  private release(partition: number, lane: MergeLane): Finding[] {
    const low = lane.low();
    const out: Finding[] = [];
    // Strictly below: a source at mark W may still send events at exactly W.
    while (lane.heap.length > 0 && lane.heap[0]!.ts < low) {
      const p = heapPop(lane.heap, before);
      if (p.ts > lane.released) lane.released = p.ts;
      for (const f of this.engine.push(p.event, undefined, partition, p.key)) out.push(f);
    }
    if (Number.isFinite(low) && low - 1 > this.engine.watermark(partition)) {
      for (const f of this.engine.advanceTo(low - 1, partition)) out.push(f);
    }
    return out;
  }
}

function before(a: Pending, b: Pending): boolean {
  if (a.ts !== b.ts) return a.ts < b.ts;
  if (a.id !== b.id) return a.id < b.id;
  return a.key < b.key;
}
