import type { Logger } from '@apiwatch/core';
import type { Notification } from '../notification.ts';
import type { SendResult } from '../receivers/types.ts';
import {
  backoffDelay,
  DEFAULT_DEDUP_WINDOW_MS,
  type DeadLetter,
  type Deliver,
  type NotificationQueue,
  type QueueCounters,
  type RetryPolicy,
} from './types.ts';

interface Job {
  n: Notification;
  attemptsMade: number;
}

/**
 * The embedded delivery queue: in-process, the same semantics as BullMQ (types.ts): retries with
 * capped exponential backoff and jitter, permanent failures dead-lettered at once, ids remembered
 * for the de-dup window, a token-bucket rate limit. It lives as long as the process.
 */
export class MemoryQueue implements NotificationQueue {
  readonly kind = 'memory' as const;
  readonly counters: QueueCounters = { delivered: 0, retried: 0, failed: 0, duplicates: 0 };
  private readonly ready: Job[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  /** id → when it may be accepted again (ms). Insertion order = expiry order (one window). */
  private readonly seen = new Map<string, number>();
  private readonly dead = new Map<string, DeadLetter>();
  private active = 0;
  private deliver: Deliver | null = null;
  private idle: Array<() => void> = [];
  private readonly policy: RetryPolicy;
  private readonly log: Logger;
  private tokens: number;
  private lastRefill = Date.now();
  private rateTimer: NodeJS.Timeout | null = null;

  constructor(policy: RetryPolicy, log: Logger) {
    this.policy = policy;
    this.log = log;
    this.tokens = Math.max(1, policy.rateLimitPerSecond ?? 0);
  }

  async start(deliver: Deliver): Promise<void> {
    this.deliver = deliver;
    this.pump();
  }

  async enqueue(n: Notification): Promise<void> {
    const now = Date.now();
    for (const [id, until] of this.seen) {
      if (until > now) break;
      this.seen.delete(id);
    }
    if (this.seen.has(n.id)) {
      this.counters.duplicates++;
      return;
    }
    this.seen.set(n.id, now + (this.policy.dedupWindowMs ?? DEFAULT_DEDUP_WINDOW_MS));
    this.ready.push({ n, attemptsMade: 0 });
    this.pump();
  }

  /** Takes a send token (rate limit); false when none is left and a refill is scheduled. */
  private takeToken(): boolean {
    const rate = this.policy.rateLimitPerSecond ?? 0;
    if (rate <= 0) return true;
    const now = Date.now();
    this.tokens = Math.min(Math.max(1, rate), this.tokens + ((now - this.lastRefill) / 1000) * rate);
    this.lastRefill = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    if (!this.rateTimer) {
      this.rateTimer = setTimeout(
        () => {
          this.rateTimer = null;
          this.pump();
        },
        Math.ceil(((1 - this.tokens) / rate) * 1000),
      );
    }
    return false;
  }

  private pump(): void {
    if (!this.deliver) return;
    while (this.active < this.policy.concurrency && this.ready.length > 0) {
      if (!this.takeToken()) return;
      const job = this.ready.shift()!;
      this.active++;
      void this.run(job).finally(() => {
        this.active--;
        this.pump();
        this.checkIdle();
      });
    }
  }

  private async run(job: Job): Promise<void> {
    job.attemptsMade++;
    let result: SendResult;
    try {
      result = await this.deliver!(job.n);
    } catch (e) {
      result = {
        ok: false,
        code: 'ALERT_DELIVERY_NETWORK',
        retryable: true,
        status: null,
        error: (e as Error).message,
      };
    }
    if (result.ok) {
      this.counters.delivered++;
      return;
    }
    if (!result.retryable || job.attemptsMade >= this.policy.attempts) {
      this.counters.failed++;
      this.dead.set(job.n.id, {
        id: job.n.id,
        receiver: job.n.receiver,
        code: result.code,
        error: result.error,
        attempts: job.attemptsMade,
        failedAt: Date.now(),
        notification: job.n,
      });
      this.log.error(
        { receiver: job.n.receiver, notification: job.n.id, attempts: job.attemptsMade, code: result.code },
        `notification dead-lettered: ${result.error}.`,
      );
      return;
    }
    this.counters.retried++;
    const delay = backoffDelay(this.policy, job.attemptsMade, result.retryAfterMs);
    this.log.warn(
      { receiver: job.n.receiver, attempt: job.attemptsMade, delayMs: delay, code: result.code },
      `delivery failed, retrying: ${result.error}.`,
    );
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.ready.push(job);
      this.pump();
    }, delay);
    this.timers.add(timer);
  }

  async deadLetters(limit = 100): Promise<DeadLetter[]> {
    return [...this.dead.values()].slice(-limit);
  }

  async replay(id: string): Promise<boolean> {
    const d = this.dead.get(id);
    if (!d) return false;
    this.dead.delete(id);
    this.ready.push({ n: d.notification, attemptsMade: 0 });
    this.pump();
    return true;
  }

  private checkIdle(): void {
    if (this.active === 0 && this.ready.length === 0 && this.timers.size === 0) {
      for (const resolve of this.idle.splice(0)) resolve();
    }
  }

  flush(): Promise<void> {
    if (this.active === 0 && this.ready.length === 0 && this.timers.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.rateTimer) clearTimeout(this.rateTimer);
    this.deliver = null;
    this.checkIdle();
  }
}
