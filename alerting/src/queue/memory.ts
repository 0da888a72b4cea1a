import type { Logger } from '@apiwatch/core';
import type { Notification } from '../notification.ts';
import type { SendResult } from '../receivers/types.ts';
import { notificationValidator } from '../validate.ts';
import { Outbox, type OutboxJob } from './outbox.ts';
import {
  type AttemptObserver,
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

export interface MemoryQueueOptions {
  /**
   * Keep jobs in a file outbox (outbox.ts) so queued and retrying notifications survive a crash:
   * `enqueue()` resolves once the job is on disk, and `start()` resumes what was pending, with
   * its attempt count and due time. Omitted: jobs live in memory only.
   */
  outbox?: { path: string; fsync?: boolean };
}

/**
 * The embedded delivery queue for one receiver: in-process, the same semantics as BullMQ
 * (types.ts) — capped exponential backoff with jitter, permanent failures dead-lettered at once,
 * ids remembered for the de-dup window, a token-bucket rate limit — and with an outbox the same
 * durability (a job accepted is a job delivered, across restarts). Dead letters are kept in
 * memory (listed and replayed while the process lives).
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
  private onAttempt: AttemptObserver | null = null;
  private idle: Array<() => void> = [];
  private settled: Array<() => void> = [];
  private readonly policy: RetryPolicy;
  private readonly log: Logger;
  private readonly options: MemoryQueueOptions;
  private outbox: Outbox | null = null;
  private opening: Promise<void> | null = null;
  private tokens: number;
  private lastRefill = Date.now();
  private rateTimer: NodeJS.Timeout | null = null;

  constructor(policy: RetryPolicy, log: Logger, options: MemoryQueueOptions = {}) {
    this.policy = policy;
    this.log = log;
    this.options = options;
    this.tokens = Math.max(1, policy.rateLimitPerSecond ?? 0);
  }

  async start(deliver: Deliver, onAttempt?: AttemptObserver): Promise<void> {
    await this.openOutbox();
    this.onAttempt = onAttempt ?? null;
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
        // Jobs written by another version are not trusted: dead-lettered, never sent half-formed.
        if (!notificationValidator.check(j.n)) {
          const id = String((j.n as { id?: unknown })?.id ?? 'unknown');
          this.log.error(
            { notification: id, reason: notificationValidator.explain(j.n) },
            'outbox job is not a valid notification; dead-lettered (ALERT_DELIVERY_INVALID_NOTIFICATION).',
          );
          await this.record(() => this.outbox?.finish(id, 'failed'));
          continue;
        }
        this.remember(j.n.id, now);
        this.schedule({ n: j.n, attemptsMade: j.attemptsMade }, Math.max(0, j.dueAt - now));
      }
    })();
    return this.opening;
  }

  private remember(id: string, now: number): void {
    this.seen.set(id, now + (this.policy.dedupWindowMs ?? DEFAULT_DEDUP_WINDOW_MS));
  }

  async enqueue(n: Notification): Promise<void> {
    await this.openOutbox();
    const now = Date.now();
    for (const [id, until] of this.seen) {
      if (until > now) break;
      this.seen.delete(id);
    }
    if (this.seen.has(n.id) || this.outbox?.has(n.id)) {
      this.counters.duplicates++;
      return;
    }
    this.remember(n.id, now);
    const job: OutboxJob = { n, attemptsMade: 0, dueAt: now };
    await this.outbox?.add(job);
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
        if (this.active === 0) for (const resolve of this.settled.splice(0)) resolve();
        this.pump();
        this.checkIdle();
      });
    }
  }

  private async run(job: Job): Promise<void> {
    job.attemptsMade++;
    let result: SendResult;
    const started = Date.now();
    const report = (outcome: 'delivered' | 'retried' | 'dead_lettered') => {
      const ts = Date.now();
      this.onAttempt?.({
        notification: job.n,
        attempt: job.attemptsMade,
        outcome,
        result,
        ts,
        sendMs: ts - started,
      });
    };
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
      report('delivered');
      await this.record(() => this.outbox?.finish(job.n.id, 'delivered'));
      return;
    }
    if (!result.retryable || job.attemptsMade >= this.policy.attempts) {
      this.counters.failed++;
      report('dead_lettered');
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
      await this.record(() => this.outbox?.finish(job.n.id, 'failed'));
      return;
    }
    this.counters.retried++;
    report('retried');
    const delay = backoffDelay(this.policy, job.attemptsMade, result.retryAfterMs);
    this.log.warn(
      { receiver: job.n.receiver, attempt: job.attemptsMade, delayMs: delay, code: result.code },
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

  async deadLetters(limit = 100): Promise<DeadLetter[]> {
    return [...this.dead.values()].slice(-limit);
  }

  async replay(id: string): Promise<boolean> {
    const d = this.dead.get(id);
    if (!d) return false;
    this.dead.delete(id);
    // Back in the outbox as a new pending job (the failed one was finished there).
    await this.record(() => this.outbox?.add({ n: d.notification, attemptsMade: 0, dueAt: Date.now() }));
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

  /** Stops delivering; with an outbox, jobs still pending are resumed by the next start. */
  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.rateTimer) clearTimeout(this.rateTimer);
    this.deliver = null;
    this.checkIdle();
    // Deliveries under way finish and record their outcome before the outbox closes.
    while (this.active > 0) await new Promise<void>((resolve) => this.settled.push(resolve));
    await this.outbox?.close();
    this.outbox = null;
    this.opening = null;
  }
}
