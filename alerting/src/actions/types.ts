/** What a revoker acts on: the finding's entity and its revocable handle. */
export interface ActionTarget {
  /** entity.ref: Kong credential id, AWS apiKeyId, JWT jti. */
  ref: string;
  entityKind: string;
  entityId: string;
  entityName: string | null;
  findingId: string;
}

export type ActionResult =
  | { ok: true; status: number; details: Record<string, unknown> }
  | { ok: false; code: ActionErrorCode; retryable: boolean; status: number | null; error: string };

export const ACTION_ERROR_CODES = [
  'ALERT_ACTION_GATEWAY_REJECTED',
  'ALERT_ACTION_GATEWAY_UNAVAILABLE',
  'ALERT_ACTION_NOT_FOUND',
  'ALERT_ACTION_IRREVERSIBLE',
] as const;
export type ActionErrorCode = (typeof ACTION_ERROR_CODES)[number];

/** A revoker disables a credential at a gateway and, when it can, restores it. It never retries. */
export interface Revoker {
  readonly id: string;
  readonly kind: string;
  /** False when restore is impossible (e.g. Kong delete): TTL and undo are refused up front. */
  readonly reversible: boolean;
  revoke(t: ActionTarget, state: Record<string, unknown>): Promise<ActionResult>;
  /** `state` is what revoke returned in details (e.g. the ACL id to delete). */
  restore(t: ActionTarget, state: Record<string, unknown>): Promise<ActionResult>;
}

export async function httpCall(
  method: string,
  url: string,
  body: string | undefined,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<
  | { ok: true; status: number; json: unknown }
  | { ok: false; code: ActionErrorCode; retryable: boolean; status: number | null; error: string }
> {
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    return {
      ok: false,
      code: 'ALERT_ACTION_GATEWAY_UNAVAILABLE',
      retryable: true,
      status: null,
      error: `${method} ${url}: ${(e as Error).message}`,
    };
  }
  const text = await res.text().catch(() => '');
  if (res.ok) {
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = text;
    }
    return { ok: true, status: res.status, json };
  }
  return {
    ok: false,
    code:
      res.status === 404
        ? 'ALERT_ACTION_NOT_FOUND'
        : res.status >= 500 || res.status === 429
          ? 'ALERT_ACTION_GATEWAY_UNAVAILABLE'
          : 'ALERT_ACTION_GATEWAY_REJECTED',
    retryable: res.status >= 500 || res.status === 429 || res.status === 408,
    status: res.status,
    error: `${method} ${url} answered ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`,
  };
}
