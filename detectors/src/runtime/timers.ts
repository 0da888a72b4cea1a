import type { KeyStore } from './store.ts';

/**
 * A lane's pending wakes: an indexed binary min-heap over (detector run, slot) ordered by
 * (ts, seq). Each key has at most one entry, its current wake: a later `wakeAt` moves the entry
 * (the last request wins, with a new seq), a dropped key takes its entry out. So the heap holds
 * exactly the live wakes — no stale copies, no compaction — and equal times fire in the order
 * they were asked for. The entries are four parallel typed arrays (no object per wake); each
 * slot's position is kept in its store's `queued` column so an entry can be found and moved.
 */
export class WakeQueue {
  private ts = new Float64Array(64);
  private seqs = new Float64Array(64);
  private runs = new Int32Array(64);
  private slots = new Int32Array(64);
  private n = 0;
  private seq = 0;
  private readonly stores: ReadonlyArray<KeyStore | undefined>;

  /** `stores`: the lane's, by run index, whose `queued` columns this heap maintains. */
  constructor(stores: ReadonlyArray<KeyStore | undefined>) {
    this.stores = stores;
  }

  get size(): number {
    return this.n;
  }

  /** Time of the earliest wake; +Infinity when none. */
  peekTs(): number {
    return this.n > 0 ? this.ts[0]! : Number.POSITIVE_INFINITY;
  }

  topRun(): number {
    return this.runs[0]!;
  }

  topSlot(): number {
    return this.slots[0]!;
  }

  /** Schedules (or moves) the wake of `slot` of run `run` to `ts`, after every wake asked for before. */
  set(run: number, slot: number, ts: number): void {
    const store = this.stores[run]!;
    const seq = this.seq++;
    let i = store.queued[slot]!;
    if (i < 0) {
      if (this.n === this.ts.length) this.grow();
      i = this.n++;
      this.runs[i] = run;
      this.slots[i] = slot;
      this.ts[i] = ts;
      this.seqs[i] = seq;
      this.up(i);
      return;
    }
    const earlier = ts < this.ts[i]!;
    this.ts[i] = ts;
    this.seqs[i] = seq;
    if (earlier) this.up(i);
    else this.down(i);
  }

  /** Removes the earliest wake (the queue must not be empty). */
  pop(): void {
    this.removeAt(0);
  }

  /** Takes a slot's wake off the queue, if queued. */
  remove(run: number, slot: number): void {
    const i = this.stores[run]!.queued[slot]!;
    if (i >= 0) this.removeAt(i);
  }

  /** Every queued wake as [ts, seq, run, slot], in no particular order. */
  entries(): Array<[number, number, number, number]> {
    const out: Array<[number, number, number, number]> = [];
    for (let i = 0; i < this.n; i++) out.push([this.ts[i]!, this.seqs[i]!, this.runs[i]!, this.slots[i]!]);
    return out;
  }

  private removeAt(i: number): void {
    this.stores[this.runs[i]!]!.queued[this.slots[i]!] = -1;
    const last = --this.n;
    if (i === last) return;
    this.move(last, i);
    if (i > 0 && this.less(i, (i - 1) >> 1)) this.up(i);
    else this.down(i);
  }

  private less(a: number, b: number): boolean {
    const ta = this.ts[a]!;
    const tb = this.ts[b]!;
    return ta < tb || (ta === tb && this.seqs[a]! < this.seqs[b]!);
  }

  /** Copies entry `from` to position `to` and records the slot's new position. */
  private move(from: number, to: number): void {
    this.ts[to] = this.ts[from]!;
    this.seqs[to] = this.seqs[from]!;
    this.runs[to] = this.runs[from]!;
    this.slots[to] = this.slots[from]!;
    this.stores[this.runs[to]!]!.queued[this.slots[to]!] = to;
  }

  private up(i0: number): void {
    let i = i0;
    const ts = this.ts[i]!;
    const seq = this.seqs[i]!;
    const run = this.runs[i]!;
    const slot = this.slots[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const tp = this.ts[p]!;
      if (!(ts < tp || (ts === tp && seq < this.seqs[p]!))) break;
      this.move(p, i);
      i = p;
    }
    this.place(i, ts, seq, run, slot);
  }

  private down(i0: number): void {
    let i = i0;
    const ts = this.ts[i]!;
    const seq = this.seqs[i]!;
    const run = this.runs[i]!;
    const slot = this.slots[i]!;
    const n = this.n;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.less(r, l) ? r : l;
      const tc = this.ts[c]!;
      if (!(tc < ts || (tc === ts && this.seqs[c]! < seq))) break;
      this.move(c, i);
      i = c;
    }
    this.place(i, ts, seq, run, slot);
  }

  private place(i: number, ts: number, seq: number, run: number, slot: number): void {
    this.ts[i] = ts;
    this.seqs[i] = seq;
    this.runs[i] = run;
    this.slots[i] = slot;
    this.stores[run]!.queued[slot] = i;
  }

  private grow(): void {
    const n = this.ts.length * 2;
    const f = (a: Float64Array) => {
      const b = new Float64Array(n);
      b.set(a);
      return b;
    };
    const g = (a: Int32Array) => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    this.ts = f(this.ts);
    this.seqs = f(this.seqs);
    this.runs = g(this.runs);
    this.slots = g(this.slots);
  }
}
