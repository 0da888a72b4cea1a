import { heapPop, heapPush } from './heap.ts';
/**
 * Orders events by event time within `allowedLatenessMs` (a watermark = newest event time minus
 * the lateness). Events at or before the watermark are released in time order; an event that
 * arrives behind the watermark is released at once and counted as late. Determinism of this
 * order is what makes `apiwatch replay` of a day's logs give that day's live findings.
 *
 * Live, the event-time watermark alone would hold an event until a later one arrives, and logs
 * with one-second timestamps would add up to a second. `expire(now)` bounds that: an event held
 * for allowedLatenessMs of wall-clock time is released, with everything older in event time.
 * Replay never calls it, so replay stays purely event-time.
 */
/** Items with equal times keep their arrival order when they carry a `seq` (a stable release). */
export class ReorderBuffer<
  E extends { readonly ts: number; readonly seq?: number } = { readonly ts: number; readonly seq?: number },
> {
  private readonly heap: E[] = [];
  /** Arrival (wall ms) and event time of held events, in arrival order, for expire(). */
  private readonly arrivals: Array<{ at: number; ts: number }> = [];
  private arrivalsHead = 0;
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

  /** Adds an event; appends the events the watermark now releases to `out`, oldest first. */
  push(event: E, out: E[], arrivedAt?: number): void {
    if (event.ts < this.released) {
      this.late++;
      out.push(event);
      return;
    }
    this.insert(event);
    if (arrivedAt !== undefined) this.arrivals.push({ at: arrivedAt, ts: event.ts });
    if (event.ts > this.maxTs) this.maxTs = event.ts;
    this.releaseUntil(this.watermark, out);
  }

  /** What a snapshot needs: the held events (heap order) and the release state. */
  exportState(): { items: E[]; maxTs: number; released: number; late: number } {
    return { items: [...this.heap], maxTs: this.maxTs, released: this.released, late: this.late };
  }

  /** Restores exportState() into an empty buffer (wall-clock arrivals are not kept). */
  importState(s: { items: E[]; maxTs: number; released: number; late: number }): void {
    this.heap.length = 0;
    for (const e of s.items) this.heap.push(e);
    this.maxTs = s.maxTs;
    this.released = s.released;
    this.late = s.late;
  }

  /** Releases the events at or before `limit` (a source-declared watermark). */
  releaseUpTo(limit: number, out: E[]): void {
    this.releaseUntil(limit, out);
  }

  /** Releases everything (end of input). */
  drain(out: E[]): void {
    this.releaseUntil(Number.POSITIVE_INFINITY, out);
    this.arrivals.length = 0;
    this.arrivalsHead = 0;
  }

  /** Releases events held longer than the lateness in wall-clock time, and all older in event time. */
  expire(now: number, out: E[]): void {
    let limit = Number.NEGATIVE_INFINITY;
    const cutoff = now - this.lateness;
    while (this.arrivalsHead < this.arrivals.length && this.arrivals[this.arrivalsHead]!.at <= cutoff) {
      const a = this.arrivals[this.arrivalsHead++]!;
      if (a.ts > limit) limit = a.ts;
    }
    if (this.arrivalsHead > 4096 && this.arrivalsHead * 2 > this.arrivals.length) {
      this.arrivals.splice(0, this.arrivalsHead);
      this.arrivalsHead = 0;
    }
    if (limit > Number.NEGATIVE_INFINITY) this.releaseUntil(limit, out);
  }

  private releaseUntil(limit: number, out: E[]): void {
    while (this.heap.length > 0 && this.heap[0]!.ts <= limit) {
      const e = this.pop();
      if (e.ts > this.released) this.released = e.ts;
      out.push(e);
    }
  }

  private insert(e: E): void {
    heapPush(this.heap, e, before);
  }

  private pop(): E {
    return heapPop(this.heap, before);
  }
}

function before(a: { ts: number; seq?: number }, b: { ts: number; seq?: number }): boolean {
  return a.ts < b.ts || (a.ts === b.ts && (a.seq ?? 0) < (b.seq ?? 0));
}
