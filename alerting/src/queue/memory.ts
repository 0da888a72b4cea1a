import type { Logger } from '@apiwatch/core';
import type { Notification } from '../receivers/types.ts';
import {
  backoffDelay,
  type Deliver,
  type NotificationQueue,
  type QueueCounters,
  type RetryPolicy,
} from './types.ts';

interface Job {
  n: Notification;
  attemptsMade: number;
}

/** The embedded delivery queue: in-process, the same retry and backoff semantics as BullMQ. */
export class MemoryQueue implements NotificationQueue {
  readonly kind = 'memory' as const;
  readonly counters: QueueCounters = { delivered: 0, retried: 0, failed: 0 };
  private readonly ready: Job[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly seen = new Set<string>();
  private active = 0;
  private deliver: Deliver | null = null;
  private idle: Array<() => void> = [];
  private readonly policy: RetryPolicy;
  private readonly log: Logger;

  constructor(policy: RetryPolicy, log: Logger) {
    this.policy = policy;
    this.log = log;
  }

  async start(deliver: Deliver): Promise<void> {
    this.deliver = deliver;
    this.pump();
  }

  async enqueue(n: Notification): Promise<void> {
    if (this.seen.has(n.id)) return;
    this.seen.add(n.id);
    if (this.seen.size > 100_000) this.seen.delete(this.seen.values().next().value as string);
    this.ready.push({ n, attemptsMade: 0 });
    this.pump();
  }

  private pump(): void {
    if (!this.deliver) return;
    while (this.active < this.policy.concurrency && this.ready.length > 0) {
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
    let result: Awaited<ReturnType<Deliver>>;
    try {
      result = await this.deliver!(job.n);
    } catch (e) {
      result = { ok: false, retryable: true, status: null, error: (e as Error).message };
    }
    if (result.ok) {
      this.counters.delivered++;
      return;
    }
    if (!result.retryable || job.attemptsMade >= this.policy.attempts) {
      this.counters.failed++;
      this.log.error(
        {
          receiver: job.n.receiver,
          finding: job.n.finding.id,
          attempts: job.attemptsMade,
          status: result.status,
        },
        `notification not delivered: ${result.error}.`,
      );
      return;
    }
    this.counters.retried++;
    const delay = backoffDelay(this.policy, job.attemptsMade, result.retryAfterMs);
    this.log.warn(
      { receiver: job.n.receiver, attempt: job.attemptsMade, delayMs: delay },
      `delivery failed, retrying: ${result.error}.`,
    );
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.ready.push(job);
      this.pump();
    }, delay);
    this.timers.add(timer);
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
    this.deliver = null;
    this.checkIdle();
  }
}
