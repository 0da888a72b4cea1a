import type { WebhookReceiverConfigValue } from '@apiwatch/core';
import type { Notification, WebhookPayload } from '../notification.ts';
import { postJson } from './http.ts';
import { sign } from './signing.ts';
import type { Receiver, SendResult } from './types.ts';

/**
 * The generic webhook: POSTs `{type: "apiwatch.notification", timestamp, data: <Notification>}`
 * (docs/schemas/webhook-payload.schema.json), signed per Standard Webhooks with the notification
 * id as `webhook-id`, so a receiver de-duplicates retries on it.
 */
export function createWebhookReceiver(config: WebhookReceiverConfigValue, secret: string | null): Receiver {
  return {
    id: config.id,
    kind: 'webhook',
    send(n: Notification): Promise<SendResult> {
      const payload: WebhookPayload = {
        type: 'apiwatch.notification',
        timestamp: new Date(n.queuedAt).toISOString(),
        data: n,
      };
      const body = JSON.stringify(payload);
      const headers: Record<string, string> = secret
        ? { ...sign(secret, n.id, Math.floor(Date.now() / 1000), body) }
        : { 'webhook-id': n.id };
      return postJson(
        config.url,
        body,
        headers,
        config.timeoutMs,
        `webhook receiver ${config.id} (${config.url})`,
      );
    },
  };
}
