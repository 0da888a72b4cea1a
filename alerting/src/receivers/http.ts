import type { SendResult } from './types.ts';

/**
 * One POST with the receivers' shared classification: 2xx delivered; 408, 429 and 5xx
 * retryable (Retry-After honoured by the queue); other 4xx permanent; network errors and
 * timeouts retryable. `where` names the receiver in messages (never a secret URL).
 */
export async function postJson(
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
  where: string,
): Promise<SendResult> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'apiwatch/1', ...headers },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    const timeout = err.name === 'TimeoutError';
    return {
      ok: false,
      code: timeout ? 'ALERT_DELIVERY_TIMEOUT' : 'ALERT_DELIVERY_NETWORK',
      retryable: true,
      status: null,
      error: `${where}: ${timeout ? `no answer within ${timeoutMs} ms` : (err.cause?.code ?? err.message)}`,
    };
  }
  const text = await res.text().catch(() => '');
  if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status };
  const retryAfter = Number(res.headers.get('retry-after'));
  const code =
    res.status === 429
      ? 'ALERT_DELIVERY_RATE_LIMITED'
      : res.status === 408 || res.status >= 500
        ? 'ALERT_DELIVERY_SERVER_ERROR'
        : 'ALERT_DELIVERY_REJECTED';
  return {
    ok: false,
    code,
    retryable: code !== 'ALERT_DELIVERY_REJECTED',
    status: res.status,
    error: `${where} answered ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`,
    ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}),
  };
}
