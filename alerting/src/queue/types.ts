import type { Notification } from '../notification.ts';
import type { DeliveryErrorCode, SendResult } from '../receivers/types.ts';

export type Deliver = (n: Notification) => Promise<SendResult>;

/**
 * What the queue decided after one send: delivered, retried (a retryable failure with attempts
 * left) or dead_lettered (a permanent failure, or the last attempt). Both queues report every
 * attempt through `start(deliver, onAttempt)`; the delivery log (records.ts) stores them.
 */
export interface DeliveryAttempt {
  notification: Notification;
  /** 1 for the first attempt (a replayed dead letter starts again at 1). */
  attempt: number;
  outcome: 'delivered' | 'retried' | 'dead_lettered';
  result: SendResult;
  /** When the receiver answered, ms epoch. */
  ts: number;
  /** How long the send took, ms. */
  sendMs: number;
}
export type AttemptObserver = (a: DeliveryAttempt) => void;

export interface QueueCounters {
  delivered: number;
  retried: number;
  /** Dead-lettered: a permanent error or attempts exhausted. */
  failed: number;
  /** Enqueues dropped because the id was already queued or sent within the de-dup window. */
  duplicates: number;
}

/** A notification that was not delivered, kept until replayed (or aged out). */
export interface DeadLetter {
  id: string;
  receiver: string;
  code: DeliveryErrorCode;
  error: string;
  attempts: number;
  failedAt: number;
  notification: Notification;
}

/**
 * Delivery with retries, for one receiver. Both implementations (in-process, BullMQ) share the
 * semantics: `attempts` tries; delay `backoffMs · 2^(attempt−1)` capped at `maxBackoffMs`,
 * shortened by up to `jitterRatio` at random, or the receiver's Retry-After when longer;
 * permanent failures (non-retryable) stop at once; failures that end go to the dead-letter list,
 * from which `replay` re-queues them; the notification id de-duplicates enqueues for the whole
 * `dedupWindowMs` (not "the last N jobs"); at most `rateLimitPerSecond` sends per second.
 */
export interface NotificationQueue {
  readonly kind: 'memory' | 'bullmq';
  readonly counters: QueueCounters;
  /** Starts sending; `onAttempt` hears the outcome of every attempt (it must not throw). */
  start(deliver: Deliver, onAttempt?: AttemptObserver): Promise<void>;
  enqueue(n: Notification): Promise<void>;
  /** Resolves when nothing is pending or waiting for a retry. */
  flush(): Promise<void>;
  close(): Promise<void>;
  deadLetters(limit?: number): Promise<DeadLetter[]>;
  /** Re-queues a dead letter with fresh attempts; false when there is no such dead letter. */
  replay(id: string): Promise<boolean>;
}

export interface RetryPolicy {
  attempts: number;
  backoffMs: number;
  concurrency: number;
  /** Longest delay, ms. Default: unbounded. */
  maxBackoffMs?: number;
  /** Each delay is shortened by a random share up to this ratio (0–1). Default 0. */
  jitterRatio?: number;
  /** Sends per second; 0 or unset: unlimited. */
  rateLimitPerSecond?: number;
  /** How long an id is remembered, ms. Default 24 h. */
  dedupWindowMs?: number;
}

export function backoffDelay(
  policy: RetryPolicy,
  attemptsMade: number,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  const exp = Math.min(
    policy.backoffMs * 2 ** Math.max(0, attemptsMade - 1),
    policy.maxBackoffMs ?? Infinity,
  );
  const jittered = exp * (1 - (policy.jitterRatio ?? 0) * random());
  return Math.round(Math.max(jittered, retryAfterMs ?? 0));
}

export const DEFAULT_DEDUP_WINDOW_MS = 86_400_000;
