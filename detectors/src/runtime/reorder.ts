import type { ApiEvent } from '@apiwatch/core';

/**
 * Orders events by event time within `allowedLatenessMs` (a watermark = newest event time minus
 * the lateness). Events at or before the watermark are released in time order; an event that
 * arrives behind the watermark is released at once and counted as late. Determinism of this
 * order is what makes `apiwatch replay` of a day's logs give that day's live findings.
 */
export class ReorderBuffer {
  private readonly heap: ApiEvent[] = [];
  private maxTs = Number.NEGATIVE_INFINITY;
  private released = Number.NEGATIVE_INFINITY;
  private readonly lateness: number;
  late = 0;

  constructor(allowedLatenessMs: number) {
    this.lateness = allowedLatenessMs;
  }

  get size(): number {
    return this.heap.length;
  }

  get watermark(): number {
    return this.maxTs - this.lateness;
  }

  /** Adds an event; returns the events the watermark now releases, oldest first. */
  push(event: ApiEvent, out: ApiEvent[]): void {
    if (event.ts < this.released) {
      this.late++;
      out.push(event);
      return;
    }
    this.insert(event);
    if (event.ts > this.maxTs) this.maxTs = event.ts;
    this.releaseUntil(this.watermark, out);
  }

  /** Releases everything (end of input, or the source went idle). */
  drain(out: ApiEvent[]): void {
    this.releaseUntil(Number.POSITIVE_INFINITY, out);
  }

  private releaseUntil(limit: number, out: ApiEvent[]): void {
    while (this.heap.length > 0 && this.heap[0]!.ts <= limit) {
      const e = this.pop();
      if (e.ts > this.released) this.released = e.ts;
      out.push(e);
    }
  }

  private insert(e: ApiEvent): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.ts <= e.ts) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }

  private pop(): ApiEvent {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const r = l + 1;
        const c = r < h.length && h[r]!.ts < h[l]!.ts ? r : l;
        if (h[c]!.ts >= last.ts) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}
