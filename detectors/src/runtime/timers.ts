/**
 * A min-heap of wake-ups ordered by (ts, seq): equal times fire in the order they were asked
 * for, so timers fire deterministically. Entries are not removed when a wake is replaced; the
 * engine checks each popped entry against the key's current wake (lazy deletion) and `compact()`
 * drops stale entries when they outnumber live ones.
 */
export interface Timer<T> {
  ts: number;
  seq: number;
  item: T;
}

export class TimerHeap<T> {
  private heap: Timer<T>[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  peek(): Timer<T> | undefined {
    return this.heap[0];
  }

  push(ts: number, item: T): void {
    const t: Timer<T> = { ts, seq: this.seq++, item };
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(t, h[p]!)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = t;
  }

  pop(): Timer<T> | undefined {
    const h = this.heap;
    const top = h[0];
    if (!top) return undefined;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const r = l + 1;
        const c = r < h.length && less(h[r]!, h[l]!) ? r : l;
        if (!less(h[c]!, last)) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }

  /** Keeps only the entries `live` accepts (rebuilds the heap). */
  compact(live: (t: Timer<T>) => boolean): void {
    const kept = this.heap.filter(live).sort((a, b) => (less(a, b) ? -1 : 1));
    this.heap = kept;
  }

  /** The entries, in no particular order. */
  entries(): readonly Timer<T>[] {
    return this.heap;
  }

  clear(): void {
    this.heap = [];
  }
}

function less<T>(a: Timer<T>, b: Timer<T>): boolean {
  return a.ts < b.ts || (a.ts === b.ts && a.seq < b.seq);
}
