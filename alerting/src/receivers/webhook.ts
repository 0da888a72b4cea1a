import type { WebhookReceiverConfig } from '@apiwatch/core';
import { sign } from './signing.ts';
import type { Notification, Receiver, SendResult } from './types.ts';

/**
 * A generic webhook: POSTs the finding as JSON, signed per Standard Webhooks. 2xx is delivered;
 * 408, 429 and 5xx are retryable (Retry-After is honoured by the queue); other 4xx are permanent.
 */
export function createWebhookReceiver(config: WebhookReceiverConfig, secret: string | null): Receiver {
  return {
    id: config.id,
    kind: 'webhook',
    async send(n: Notification): Promise<SendResult> {
      const body = JSON.stringify({
        type: 'apiwatch.finding',
        timestamp: new Date(n.queuedAt).toISOString(),
        data: n.finding,
      });
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'user-agent': 'apiwatch-webhook/1',
      };
      if (secret) Object.assign(headers, sign(secret, n.id, Math.floor(Date.now() / 1000), body));
      else headers['webhook-id'] = n.id;
      let res: Response;
      try {
        res = await fetch(config.url, {
          method: 'POST',
          headers,
          body,
          redirect: 'manual',
          signal: AbortSignal.timeout(config.timeoutMs),
        });
      } catch (e) {
        const cause = (e as Error & { cause?: { code?: string } }).cause?.code ?? (e as Error).name;
        return { ok: false, retryable: true, status: null, error: `${config.url}: ${cause}` };
      }
      await res.body?.cancel().catch(() => {});
      if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status };
      const retryable = res.status === 408 || res.status === 429 || res.status >= 500;
      const retryAfter = Number(res.headers.get('retry-after'));
      return {
        ok: false,
        retryable,
        status: res.status,
        error: `${config.url} answered ${res.status}`,
        ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}),
      };
    },
  };
}
