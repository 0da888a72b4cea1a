import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type AppendLog, type Logger, openAppendLog } from '@apiwatch/core';
import { type MemorySnapshot, MemoryStateStore } from './memory.ts';
import type { StateStore } from './types.ts';

/**
 * The embedded state that survives a restart: the in-process store, plus every change appended
 * to a journal (core's append log: framed, CRC-checked, group-committed with fdatasync) and
 * replayed on open. Changes are appended without waiting; `sync()` — which the router calls
 * once per finding and per flush, before the bus offset is committed — waits until they are on
 * disk, so one fsync covers all the writes of one finding. Past `compactAfterRecords` the journal
 * continues in a new generation file that starts with a snapshot; the old one is then removed.
 */
type Change =
  | { o: 'put'; ns: string; id: string; v: unknown }
  | { o: 'del'; ns: string; id: string }
  | { o: 'drop'; ns: string }
  | { o: 'sch'; ns: string; id: string; at: number }
  | { o: 'unsch'; ns: string; id: string }
  | { o: 'win'; ns: string; id: string; at: number; w: number }
  | { o: 'peek'; ns: string; at: number; w: number }
  | { o: 'snap'; s: MemorySnapshot };

export class FileStateStore implements StateStore {
  readonly kind = 'file' as const;
  private readonly inner = new MemoryStateStore();
  private log: AppendLog | null = null;
  private pending: Array<Promise<void>> = [];
  private failed: Error | null = null;
  private records = 0;
  private generation = 0;
  private compacting: Promise<void> | null = null;
  private readonly dir: string;
  private readonly fsync: boolean;
  private readonly compactAfter: number;
  private readonly logger: Logger;

  constructor(o: { dir: string; fsync?: boolean; compactAfterRecords?: number; log: Logger }) {
    this.dir = o.dir;
    this.fsync = o.fsync ?? true;
    this.compactAfter = o.compactAfterRecords ?? 200_000;
    this.logger = o.log;
  }

  /** Replays the journal; must finish before the store is used. */
  async open(): Promise<void> {
    if (this.log) return;
    const o = { dir: this.dir, log: this.logger };
    let gens: number[] = [];
    try {
      gens = readdirSync(o.dir)
        .map((f) => /^state-(\d+)\.log$/.exec(f)?.[1])
        .filter((g): g is string => g !== undefined)
        .map(Number)
        .sort((a, b) => a - b);
    } catch {
      // a new directory
    }
    for (const g of gens.slice(0, -1)) {
      const r = await openAppendLog(join(o.dir, `state-${g}.log`), { fsync: this.fsync });
      for (const f of r.frames) this.apply(JSON.parse(f.toString()) as Change);
      await r.log.close();
    }
    this.generation = gens.at(-1) ?? 0;
    const last = await openAppendLog(join(o.dir, `state-${this.generation}.log`), { fsync: this.fsync });
    for (const f of last.frames) this.apply(JSON.parse(f.toString()) as Change);
    if (last.truncatedBytes > 0)
      o.log.warn(
        { dir: o.dir, truncatedBytes: last.truncatedBytes },
        'alert state journal had a torn tail (a crash); cut there.',
      );
    this.log = last.log;
    this.records = last.frames.length;
    if (gens.length > 1 || this.records > this.compactAfter) await this.compact();
  }

  private apply(c: Change): void {
    // The inner store's methods are synchronous underneath; their promises resolve at once.
    const i = this.inner;
    switch (c.o) {
      case 'put':
        void i.put(c.ns, c.id, c.v);
        break;
      case 'del':
        void i.delete(c.ns, c.id);
        break;
      case 'drop':
        void i.drop(c.ns);
        break;
      case 'sch':
        void i.schedule(c.ns, c.id, c.at);
        break;
      case 'unsch':
        void i.unschedule(c.ns, c.id);
        break;
      case 'win':
        void i.countInWindow(c.ns, c.id, c.at, c.w);
        break;
      case 'peek':
        void i.peekWindow(c.ns, c.at, c.w);
        break;
      case 'snap':
        i.restore(c.s);
        break;
    }
  }

  private write(c: Change): void {
    this.apply(c);
    if (!this.log) throw new Error('alert state journal is closed');
    this.records++;
    this.pending.push(
      this.log.append(JSON.stringify(c)).catch((e: Error) => {
        this.failed ??= e;
      }),
    );
  }

  /** Resolves once every change so far is on disk; rejects if one could not be written. */
  async sync(): Promise<void> {
    const p = this.pending;
    this.pending = [];
    await Promise.all(p);
    if (this.failed) {
      const e = this.failed;
      this.failed = null;
      throw e;
    }
    if (this.records > this.compactAfter && !this.compacting) {
      this.compacting = this.compact().finally(() => {
        this.compacting = null;
      });
      await this.compacting;
    }
  }

  private async compact(): Promise<void> {
    const log = this.log!;
    const old = this.generation;
    this.generation++;
    const rolled = log.roll(join(this.dir, `state-${this.generation}.log`));
    // Appended right after the roll, before anything else: the new file starts with the snapshot.
    const snap = log.append(JSON.stringify({ o: 'snap', s: this.inner.snapshot() } satisfies Change));
    await rolled;
    await snap;
    this.records = 1;
    for (let g = 0; g <= old; g++) rmSync(join(this.dir, `state-${g}.log`), { force: true });
    this.logger.info({ dir: this.dir, generation: this.generation }, 'alert state journal compacted.');
  }

  get<T>(ns: string, id: string): Promise<T | null> {
    return this.inner.get<T>(ns, id);
  }
  all<T>(ns: string): Promise<T[]> {
    return this.inner.all<T>(ns);
  }
  due(ns: string, nowMs: number, limit: number): Promise<string[]> {
    return this.inner.due(ns, nowMs, limit);
  }
  nextDue(ns: string): Promise<number | null> {
    return this.inner.nextDue(ns);
  }
  async put(ns: string, id: string, value: unknown): Promise<void> {
    this.write({ o: 'put', ns, id, v: value });
  }
  async delete(ns: string, id: string): Promise<void> {
    this.write({ o: 'del', ns, id });
  }
  async drop(ns: string): Promise<void> {
    this.write({ o: 'drop', ns });
  }
  async schedule(ns: string, id: string, atMs: number): Promise<void> {
    this.write({ o: 'sch', ns, id, at: atMs });
  }
  async unschedule(ns: string, id: string): Promise<void> {
    this.write({ o: 'unsch', ns, id });
  }
  async countInWindow(ns: string, eventId: string, nowMs: number, windowMs: number): Promise<number> {
    this.write({ o: 'win', ns, id: eventId, at: nowMs, w: windowMs });
    return this.inner.peekWindow(ns, nowMs, windowMs);
  }
  peekWindow(ns: string, nowMs: number, windowMs: number): Promise<number> {
    return this.inner.peekWindow(ns, nowMs, windowMs);
  }
  async close(): Promise<void> {
    await this.sync().catch((e) =>
      this.logger.error({ err: e }, 'alert state journal: last changes not written.'),
    );
    await this.log?.close();
    this.log = null;
  }
}
