import { heapPop, heapPush } from './heap.ts';
/**
 * A min-heap of wake-ups ordered by (ts, seq): equal times fire in the order they were asked
 * for, so timers fire deterministically. Entries are not removed when a wake is replaced; the
 * engine checks each popped entry against the key's current wake (lazy deletion) and `compact()`
 * drops stale entries when they outnumber live ones. A timer is the caller's own object (the
 * heap sets its `seq`): one allocation per wake, not a wrapper around an item.
 */
export interface Timer {
  ts: number;
  seq: number;
}

export class TimerHeap<T extends Timer> {
  private heap: T[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  peek(): T | undefined {
    return this.heap[0];
  }

  push(timer: T): void {
    timer.seq = this.seq++;
    heapPush(this.heap, timer, less);
  }

  pop(): T | undefined {
    return this.heap.length > 0 ? heapPop(this.heap, less) : undefined;
  }

  /** Keeps only the entries `live` accepts (rebuilds the heap). */
  compact(live: (t: T) => boolean): void {
    const kept = this.heap.filter(live).sort((a, b) => (less(a, b) ? -1 : 1));
    this.heap = kept;
  }

  /** The entries, in no particular order. */
  entries(): readonly T[] {
    return this.heap;
  }

  clear(): void {
    this.heap = [];
  }
}

function less(a: Timer, b: Timer): boolean {
  return a.ts < b.ts || (a.ts === b.ts && a.seq < b.seq);
}
