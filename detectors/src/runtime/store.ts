/**
 * One detector's keys in one lane, as columns over slots: a key maps to a slot number, and the
 * state, effective config, last event time, LRU touch and pending wake of every key live in
 * arrays indexed by that slot. A key then costs its Map entry and a few array elements (~130 B
 * on Node's 8-byte pointers, with or without a wake) where an entry object per key, with its
 * boxed doubles and a timer object per wake plus its stale copies, cost 172–578 B (decision
 * 0026, "Applied: the runtime's own cost per key and per event").
 *
 * The Map's insertion order is the LRU order (oldest first): the engine re-inserts a key when it
 * has aged, evicts the first key at the cap, and the idle sweep walks from the front. Freed slots
 * are reused; the columns grow by doubling and never shrink (a lane's key count is bounded by
 * the cap).
 */
export class KeyStore {
  /** Key → slot, oldest touch first. */
  readonly slots = new Map<string, number>();
  /** Slot → key (the interned copy the Map holds). */
  keys: string[] = [];
  states: unknown[] = [];
  /**
   * Effective config per slot, allocated only once some key's differs from `defaultConfig` (an
   * override matched it, or a restored key kept an older config): most detectors never need it.
   */
  private configs: Array<Record<string, unknown> | undefined> | null = null;
  private readonly defaultConfig: Record<string, unknown>;
  /** Event time of the last event that touched the key. */
  lastTs: Float64Array;
  /** The run's touch counter when the key was last moved to the young end of the LRU order. */
  touch: Float64Array;
  /** Pending wake (event time, ms); NaN when none. */
  wake: Float64Array;
  /** Position of the slot's wake in its lane's WakeQueue; -1 when not queued. */
  queued: Int32Array;
  /** Keys with a pending wake (stats' `timers`). */
  pending = 0;
  private free: number[] = [];
  private used = 0;

  /** `defaultConfig`: the detector's config without overrides (what most keys see). */
  constructor(defaultConfig: Record<string, unknown>, capacity = 8) {
    this.defaultConfig = defaultConfig;
    this.lastTs = new Float64Array(capacity);
    this.touch = new Float64Array(capacity);
    this.wake = new Float64Array(capacity);
    this.queued = new Int32Array(capacity);
  }

  get size(): number {
    return this.slots.size;
  }

  /** Stores a new key (already interned, not present) and returns its slot. */
  add(key: string, state: unknown, config: Record<string, unknown>, ts: number, touch: number): number {
    let slot = this.free.pop();
    if (slot === undefined) {
      slot = this.used++;
      if (slot === this.wake.length) this.grow();
    }
    this.slots.set(key, slot);
    this.keys[slot] = key;
    this.states[slot] = state;
    this.setConfig(slot, config);
    this.lastTs[slot] = ts;
    this.touch[slot] = touch;
    this.wake[slot] = Number.NaN;
    this.queued[slot] = -1;
    return slot;
  }

  /** Drops a key's slot; the caller has taken its wake off the queue. */
  remove(slot: number): void {
    this.slots.delete(this.keys[slot]!);
    if (!Number.isNaN(this.wake[slot]!)) this.pending--;
    this.keys[slot] = '';
    this.states[slot] = undefined;
    if (this.configs) this.configs[slot] = undefined;
    this.wake[slot] = Number.NaN;
    this.free.push(slot);
  }

  /** The effective config the key last saw. */
  config(slot: number): Record<string, unknown> {
    return this.configs?.[slot] ?? this.defaultConfig;
  }

  setConfig(slot: number, config: Record<string, unknown>): void {
    if (this.configs) this.configs[slot] = config;
    else if (config !== this.defaultConfig) {
      this.configs = [];
      this.configs[slot] = config;
    }
  }

  /** Moves a key to the young end of the LRU order. */
  touchKey(key: string, slot: number, touch: number): void {
    this.slots.delete(key);
    this.slots.set(key, slot);
    this.touch[slot] = touch;
  }

  private grow(): void {
    const n = this.wake.length * 2;
    const widen = (a: Float64Array) => {
      const b = new Float64Array(n);
      b.set(a);
      return b;
    };
    this.lastTs = widen(this.lastTs);
    this.touch = widen(this.touch);
    this.wake = widen(this.wake);
    const q = new Int32Array(n);
    q.set(this.queued);
    this.queued = q;
  }
}
