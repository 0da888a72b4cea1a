import type { StateStore } from './types.ts';

/** The embedded state: process memory (gone on restart; use redis where that matters). */
export class MemoryStateStore implements StateStore {
  readonly kind = 'memory' as const;
  private readonly docs = new Map<string, Map<string, string>>();
  private readonly schedules = new Map<string, Map<string, number>>();
  private readonly windows = new Map<string, Map<string, number>>();

  private ns<V>(m: Map<string, Map<string, V>>, ns: string): Map<string, V> {
    let x = m.get(ns);
    if (!x) {
      x = new Map();
      m.set(ns, x);
    }
    return x;
  }

  async get<T>(ns: string, id: string): Promise<T | null> {
    const v = this.docs.get(ns)?.get(id);
    return v === undefined ? null : (JSON.parse(v) as T);
  }
  async put(ns: string, id: string, value: unknown): Promise<void> {
    // Stored as JSON so callers never share mutable objects with the store (as with Redis).
    this.ns(this.docs, ns).set(id, JSON.stringify(value));
  }
  async delete(ns: string, id: string): Promise<void> {
    this.docs.get(ns)?.delete(id);
  }
  async all<T>(ns: string): Promise<T[]> {
    return [...(this.docs.get(ns)?.values() ?? [])].map((v) => JSON.parse(v) as T);
  }
  async drop(ns: string): Promise<void> {
    this.docs.delete(ns);
  }
  async schedule(ns: string, id: string, atMs: number): Promise<void> {
    this.ns(this.schedules, ns).set(id, atMs);
  }
  async unschedule(ns: string, id: string): Promise<void> {
    this.schedules.get(ns)?.delete(id);
  }
  async due(ns: string, nowMs: number, limit: number): Promise<string[]> {
    return [...(this.schedules.get(ns) ?? new Map<string, number>())]
      .filter(([, at]) => at <= nowMs)
      .sort((a, b) => a[1] - b[1])
      .slice(0, limit)
      .map(([id]) => id);
  }
  async nextDue(ns: string): Promise<number | null> {
    let min: number | null = null;
    for (const at of this.schedules.get(ns)?.values() ?? []) if (min === null || at < min) min = at;
    return min;
  }
  async countInWindow(ns: string, eventId: string, nowMs: number, windowMs: number): Promise<number> {
    const w = this.ns(this.windows, ns);
    w.set(eventId, nowMs);
    return this.peekWindow(ns, nowMs, windowMs);
  }
  async peekWindow(ns: string, nowMs: number, windowMs: number): Promise<number> {
    const w = this.ns(this.windows, ns);
    for (const [id, at] of w) if (at <= nowMs - windowMs) w.delete(id);
    return w.size;
  }
  async close(): Promise<void> {}

  /** Everything, as plain data (the file store's snapshot). */
  snapshot(): MemorySnapshot {
    const dump = <V>(m: Map<string, Map<string, V>>) =>
      [...m].map(([ns, x]) => [ns, [...x]] as [string, Array<[string, V]>]);
    return { docs: dump(this.docs), schedules: dump(this.schedules), windows: dump(this.windows) };
  }

  restore(s: MemorySnapshot): void {
    const load = <V>(m: Map<string, Map<string, V>>, d: Array<[string, Array<[string, V]>]>) => {
      m.clear();
      for (const [ns, entries] of d) m.set(ns, new Map(entries));
    };
    load(this.docs, s.docs);
    load(this.schedules, s.schedules);
    load(this.windows, s.windows);
  }
}

export interface MemorySnapshot {
  docs: Array<[string, Array<[string, string]>]>;
  schedules: Array<[string, Array<[string, number]>]>;
  windows: Array<[string, Array<[string, number]>]>;
}
