import type { Logger } from '@apiwatch/core';
import type { Notification } from '../receivers/types.ts';
import { Outbox, type OutboxJob } from './outbox.ts';
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

export interface MemoryQueueOptions {
  /**
   * Keep jobs in a file outbox (outbox.ts) so queued and retrying notifications survive a crash:
   * `enqueue()` resolves once the job is on disk, and `start()` resumes what was pending, with
   * its attempt count and due time. Omitted: jobs live in memory only.
   */
  outbox?: { path: string; fsync?: boolean };
}

/**
 * The embedded delivery queue: in-process, the same retry and backoff semantics as BullMQ, and
 * with an outbox the same durability (a job accepted is a job delivered, across restarts).
 */
export class MemoryQueue implements NotificationQueue {
  readonly kind = 'memory' as const;
  readonly counters: QueueCounters = { delivered: 0, retried: 0, failed: 0 };
  private readonly ready: Job[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly seen = new Set<string>();
  private active = 0;
  private deliver: Deliver | null = null;
  private idle: Array<() => void> = [];
  private settled: Array<() => void> = [];
  private readonly policy: RetryPolicy;
  private readonly log: Logger;
  private readonly options: MemoryQueueOptions;
  private outbox: Outbox | null = null;
  private opening: Promise<void> | null = null;

  constructor(policy: RetryPolicy, log: Logger, options: MemoryQueueOptions = {}) {
    this.policy = policy;
    this.log = log;
    this.options = options;
  }

  async start(deliver: Deliver): Promise<void> {
    await this.openOutbox();
    this.deliver = deliver;
    this.pump();
  }

  private openOutbox(): Promise<void> {
    const o = this.options.outbox;
    if (!o) return Promise.resolve();
    this.opening ??= (async () => {
      const { outbox, pending } = await Outbox.open({
        path: o.path,
        ...(o.fsync === undefined ? {} : { fsync: o.fsync }),
        log: this.log,
      });
      this.outbox = outbox;
      if (pending.length > 0) {
        this.log.info(
          { pending: pending.length, outbox: o.path },
          'delivery queue resumes notifications that were pending before the last stop.',
        );
      }
      const now = Date.now();
      for (const j of pending) {
        this.seen.add(j.n.id);
        this.schedule({ n: j.n, attemptsMade: j.attemptsMade }, Math.max(0, j.dueAt - now));
      }
    })();
    return this.opening;
  }

  async enqueue(n: Notification): Promise<void> {
    await this.openOutbox();
    if (this.seen.has(n.id) || this.outbox?.has(n.id)) return;
    this.seen.add(n.id);
    if (this.seen.size > 100_000) this.seen.delete(this.seen.values().next().value as string);
    const job: OutboxJob = { n, attemptsMade: 0, dueAt: Date.now() };
    await this.outbox?.add(job);
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
        if (this.active === 0) for (const resolve of this.settled.splice(0)) resolve();
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
      await this.record(() => this.outbox?.finish(job.n.id, 'delivered'));
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
      await this.record(() => this.outbox?.finish(job.n.id, 'failed'));
      return;
    }
    this.counters.retried++;
    const delay = backoffDelay(this.policy, job.attemptsMade, result.retryAfterMs);
    this.log.warn(
      { receiver: job.n.receiver, attempt: job.attemptsMade, delayMs: delay },
      `delivery failed, retrying: ${result.error}.`,
    );
    await this.record(() => this.outbox?.retry(job.n.id, job.attemptsMade, Date.now() + delay));
    this.schedule(job, delay);
  }

  /** Writes a job's progress; a failed write only means the attempt may be made again after a crash. */
  private async record(write: () => Promise<void> | undefined): Promise<void> {
    try {
      await write();
    } catch (e) {
      this.log.error({ err: e }, 'delivery queue outbox write failed; this notification may be sent again.');
    }
  }

  private schedule(job: Job, delay: number): void {
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

  /** Stops delivering; with an outbox, jobs still pending are resumed by the next start. */
  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.deliver = null;
    this.checkIdle();
    // Deliveries under way finish and record their outcome before the outbox closes.
    while (this.active > 0) await new Promise<void>((resolve) => this.settled.push(resolve));
    await this.outbox?.close();
    this.outbox = null;
    this.opening = null;
  }
}
