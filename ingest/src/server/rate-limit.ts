/**
 * A token bucket per collector, in events: a collector may send `burstEvents` at once and
 * `eventsPerSecond` sustained. Over the limit the request is refused whole (429) with the seconds
 * until it would fit, so a well-behaved collector retries without losing anything.
 */
export class CollectorRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly rate: number;
  private readonly burst: number;

  constructor(eventsPerSecond: number, burstEvents: number) {
    this.rate = eventsPerSecond;
    this.burst = burstEvents;
  }

  /** Takes `events` tokens; returns 0 when allowed, else the seconds to wait (>= 1). */
  take(collector: string, events: number, now: number = Date.now()): number {
    if (this.rate <= 0) return 0;
    const b = this.buckets.get(collector) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.rate);
    b.at = now;
    this.buckets.set(collector, b);
    const need = Math.min(events, this.burst);
    if (b.tokens >= need) {
      b.tokens -= need;
      return 0;
    }
    return Math.max(1, Math.ceil((need - b.tokens) / this.rate));
  }
}

/** Thrown by a push endpoint's publish when the collector is over its limit: answered 429. */
export class CollectorRateLimitedError extends Error {
  readonly statusCode = 429;
  readonly code = 'INGEST_BACKPRESSURE';
  readonly retryAfterSeconds: number;
  constructor(collector: string, retryAfterSeconds: number) {
    super(`collector ${collector} is over ingest.rateLimit; retry after ${retryAfterSeconds} s`);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}
