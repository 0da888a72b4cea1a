import { heapPop, heapPush } from './heap.ts';
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
    heapPush(this.heap, { ts, seq: this.seq++, item }, less);
  }

  pop(): Timer<T> | undefined {
    return this.heap.length > 0 ? heapPop(this.heap, less) : undefined;
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
