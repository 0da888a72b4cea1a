import type { Logger } from '@apiwatch/core';
import { type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Notification } from '../receivers/types.ts';
import {
  backoffDelay,
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
 * Delivery through BullMQ on Redis: notifications survive a restart of apiwatch or an outage of
 * the receiver. The job id is the notification id, so a re-consumed finding is not sent twice.
 */
export class BullmqQueue implements NotificationQueue {
  readonly kind = 'bullmq' as const;
  readonly counters: QueueCounters = { delivered: 0, retried: 0, failed: 0 };
  private readonly queue: Queue;
  private worker: Worker | null = null;
  private readonly connection: { url: string };
  private readonly name: string;
  private readonly policy: RetryPolicy;
  private readonly log: Logger;

  constructor(redisUrl: string, name: string, policy: RetryPolicy, log: Logger) {
    this.connection = { url: redisUrl };
    this.name = name;
    this.policy = policy;
    this.log = log;
    this.queue = new Queue(name, {
      connection: { ...this.connection, maxRetriesPerRequest: null },
      defaultJobOptions: {
        attempts: policy.attempts,
        backoff: { type: 'apiwatch' },
        removeOnComplete: { count: 1000 },
        removeOnFail: { count: 10_000 },
      },
    });
  }

  async start(deliver: Deliver): Promise<void> {
    await this.queue.waitUntilReady();
    this.worker = new Worker(
      this.name,
      async (job: Job<Notification>) => {
        const result = await deliver(job.data);
        if (result.ok) return { status: result.status };
        if (!result.retryable) throw new UnrecoverableError(result.error);
        throw new RetryableDeliveryError(result.error, result.retryAfterMs);
      },
      {
        connection: { ...this.connection, maxRetriesPerRequest: null },
        concurrency: this.policy.concurrency,
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
          { receiver: job.data.receiver, attempts: job.attemptsMade },
          `notification not delivered: ${err.message}.`,
        );
      } else {
        this.counters.retried++;
        this.log.warn(
          { receiver: job.data.receiver, attempt: job.attemptsMade },
          `delivery failed, retrying: ${err.message}.`,
        );
      }
    });
    this.worker.on('error', (e) => this.log.error({ err: e }, 'BullMQ worker error.'));
    await this.worker.waitUntilReady();
  }

  async enqueue(n: Notification): Promise<void> {
    await this.queue.add('notify', n, { jobId: n.id });
  }

  async flush(): Promise<void> {
    for (;;) {
      const counts = await this.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      if (Object.values(counts).every((c) => c === 0)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
  }
}
