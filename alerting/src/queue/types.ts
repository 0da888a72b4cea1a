import type { Notification, SendResult } from '../receivers/types.ts';

export type Deliver = (n: Notification) => Promise<SendResult>;

export interface QueueCounters {
  delivered: number;
  retried: number;
  failed: number;
}

/**
 * Delivery with retries and exponential backoff. Both implementations share the semantics:
 * `attempts` tries, delay `backoffMs * 2^(attempt-1)` (or the receiver's Retry-After when longer),
 * permanent failures (non-retryable) stop at once. The notification id de-duplicates enqueues.
 */
export interface NotificationQueue {
  readonly kind: 'memory' | 'bullmq';
  readonly counters: QueueCounters;
  start(deliver: Deliver): Promise<void>;
  enqueue(n: Notification): Promise<void>;
  /** Resolves when nothing is pending or waiting for a retry. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface RetryPolicy {
  attempts: number;
  backoffMs: number;
  concurrency: number;
}

export function backoffDelay(policy: RetryPolicy, attemptsMade: number, retryAfterMs?: number): number {
  const exp = policy.backoffMs * 2 ** Math.max(0, attemptsMade - 1);
  return Math.max(exp, retryAfterMs ?? 0);
}
