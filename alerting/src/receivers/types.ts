import type { Notification } from '../notification.ts';

export type { Notification } from '../notification.ts';

/** Stable codes of a failed delivery (docs/errors.md). */
export const DELIVERY_ERROR_CODES = [
  'ALERT_DELIVERY_TIMEOUT',
  'ALERT_DELIVERY_NETWORK',
  'ALERT_DELIVERY_SERVER_ERROR',
  'ALERT_DELIVERY_RATE_LIMITED',
  'ALERT_DELIVERY_REJECTED',
  'ALERT_DELIVERY_RECEIVER_UNKNOWN',
  'ALERT_DELIVERY_INVALID_NOTIFICATION',
] as const;
export type DeliveryErrorCode = (typeof DELIVERY_ERROR_CODES)[number];

export type SendResult =
  | { ok: true; status: number }
  | {
      ok: false;
      code: DeliveryErrorCode;
      retryable: boolean;
      status: number | null;
      error: string;
      retryAfterMs?: number;
    };

/** A receiver formats and sends once; it never retries (the queue does). */
export interface Receiver {
  readonly id: string;
  readonly kind: string;
  send(notification: Notification): Promise<SendResult>;
}
