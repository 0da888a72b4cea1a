import type { Finding } from '@apiwatch/core';

/** What is delivered: the finding plus delivery metadata. Formatting per receiver happens in send(). */
export interface Notification {
  /** Stable per (receiver, finding): the idempotency key receivers see as webhook-id. */
  id: string;
  receiver: string;
  finding: Finding;
  /** Wall-clock time the notification was queued, ms epoch (for the event→notification latency). */
  queuedAt: number;
}

export type SendResult =
  | { ok: true; status: number }
  | { ok: false; retryable: boolean; status: number | null; error: string; retryAfterMs?: number };

/** A receiver formats and sends once; it never retries (the queue does). */
export interface Receiver {
  readonly id: string;
  readonly kind: string;
  send(notification: Notification): Promise<SendResult>;
}
