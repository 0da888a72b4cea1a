import type { Logger } from '@apiwatch/core';
import { type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Notification } from '../notification.ts';
import { DELIVERY_ERROR_CODES, type DeliveryErrorCode } from '../receivers/types.ts';
import { notificationValidator } from '../validate.ts';
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

class RetryableDeliveryError extends Error {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, retryAfterMs?: number) {
    super(message);
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * Delivery through BullMQ on Redis, one queue per receiver (so a slow or dead receiver only
 * backs up its own queue, and BullMQ's limiter is per receiver). Jobs survive a restart of
 * apiwatch, an outage of the receiver, and a restart of Redis when Redis persists (AOF).
 *
 * Idempotency: the job id is the notification id, and completed jobs are kept for the de-dup
 * window (`removeOnComplete.age`), so re-adding an id within the window is a no-op however many
 * other jobs ran meanwhile. Failed jobs are the dead-letter list (kept 30 days); `replay`
 * retries one with fresh attempts.
 */
export class BullmqQueue implements NotificationQueue {
  readonly kind = 'bullmq' as const;
  readonly counters: QueueCounters = { delivered: 0, retried: 0, failed: 0, duplicates: 0 };
  private readonly queue: Queue<Notification>;
  private worker: Worker<Notification> | null = null;
  private readonly connection: { url: string };
  readonly name: string;
  private readonly policy: RetryPolicy;
  private readonly log: Logger;

  constructor(redisUrl: string, name: string, policy: RetryPolicy, log: Logger) {
    this.connection = { url: redisUrl };
    this.name = name;
    this.policy = policy;
    this.log = log;
    this.queue = new Queue<Notification>(name, {
      connection: { ...this.connection, maxRetriesPerRequest: null },
      defaultJobOptions: {
        attempts: policy.attempts,
        backoff: { type: 'apiwatch' },
        removeOnComplete: { age: Math.ceil((policy.dedupWindowMs ?? DEFAULT_DEDUP_WINDOW_MS) / 1000) },
        removeOnFail: { age: 30 * 86_400 },
      },
    });
    this.queue.on('error', (e) => this.log.warn({ err: e, queue: name }, 'BullMQ queue connection error.'));
  }

  async start(deliver: Deliver, onAttempt?: AttemptObserver): Promise<void> {
    await this.queue.waitUntilReady();
    const rate = this.policy.rateLimitPerSecond ?? 0;
    this.worker = new Worker<Notification>(
      this.name,
      async (job: Job<Notification>) => {
        // Trust nothing read back from Redis: a job from another version or a bad write is dead-lettered.
        if (!notificationValidator.check(job.data)) {
          throw new UnrecoverableError(
            `ALERT_DELIVERY_INVALID_NOTIFICATION: ${notificationValidator.explain(job.data)}`,
          );
        }
        const started = Date.now();
        const result = await deliver(job.data);
        // attemptsMade counts the attempts that ended before this one.
        const attempt = job.attemptsMade + 1;
        const ts = Date.now();
        onAttempt?.({
          notification: job.data,
          attempt,
          outcome: result.ok
            ? 'delivered'
            : !result.retryable || attempt >= this.policy.attempts
              ? 'dead_lettered'
              : 'retried',
          result,
          ts,
          sendMs: ts - started,
        });
        if (result.ok) return { status: result.status };
        const message = `${result.code}: ${result.error}`;
        if (!result.retryable) throw new UnrecoverableError(message);
        throw new RetryableDeliveryError(message, result.retryAfterMs);
      },
      {
        connection: { ...this.connection, maxRetriesPerRequest: null },
        concurrency: this.policy.concurrency,
        ...(rate > 0
          ? {
              limiter:
                rate >= 1
                  ? { max: Math.round(rate), duration: 1000 }
                  : { max: 1, duration: Math.round(1000 / rate) },
            }
          : {}),
        settings: {
          backoffStrategy: (attemptsMade: number, _type?: string, err?: Error) =>
            backoffDelay(
              this.policy,
              attemptsMade,
              err instanceof RetryableDeliveryError ? err.retryAfterMs : undefined,
            ),
        },
      },
    );
    this.worker.on('completed', () => {
      this.counters.delivered++;
    });
    this.worker.on('failed', (job, err) => {
      if (!job) return;
      const final = err instanceof UnrecoverableError || job.attemptsMade >= this.policy.attempts;
      if (final) {
        this.counters.failed++;
        this.log.error(
          { receiver: job.data.receiver, notification: job.id, attempts: job.attemptsMade },
          `notification dead-lettered: ${err.message}.`,
        );
      } else {
        this.counters.retried++;
        this.log.warn(
          { receiver: job.data.receiver, attempt: job.attemptsMade },
          `delivery failed, retrying: ${err.message}.`,
        );
      }
    });
    this.worker.on('error', (e) =>
      this.log.warn({ err: e, queue: this.name }, 'BullMQ worker connection error.'),
    );
    await this.worker.waitUntilReady();
  }

  async enqueue(n: Notification): Promise<void> {
    const job = await this.queue.add('notify', n, { jobId: n.id });
    // BullMQ returns the existing job for a known id: count it as a duplicate.
    if (job.timestamp < n.queuedAt - 1) this.counters.duplicates++;
  }

  async deadLetters(limit = 100): Promise<DeadLetter[]> {
    const jobs = await this.queue.getFailed(0, limit - 1);
    return jobs.map((j) => {
      const reason = j.failedReason ?? '';
      const code = reason.split(':')[0] as DeliveryErrorCode;
      return {
        id: String(j.id),
        receiver: j.data.receiver,
        code: DELIVERY_ERROR_CODES.includes(code) ? code : 'ALERT_DELIVERY_NETWORK',
        error: reason,
        attempts: j.attemptsMade,
        failedAt: j.finishedOn ?? j.processedOn ?? j.timestamp,
        notification: j.data,
      };
    });
  }

  async replay(id: string): Promise<boolean> {
    const job = await this.queue.getJob(id);
    if (!job || !(await job.isFailed())) return false;
    await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
    return true;
  }

  async flush(): Promise<void> {
    for (;;) {
      const counts = await this.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'paused');
      if (Object.values(counts).every((c) => c === 0)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Removes the queue and its keys (tests). */
  async obliterate(): Promise<void> {
    await this.queue.obliterate({ force: true });
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
  }
}
