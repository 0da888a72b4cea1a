/**
 * A client of the alert API (server.ts) for the CLI and scripts. Errors come back as values
 * with the server's stable code, or ALERT_API_UNREACHABLE when nothing answers.
 */
export type ApiResult<T> =
  | { ok: true; status: number; value: T }
  | { ok: false; status: number | null; code: string; message: string };

export class AlertApiClient {
  private readonly url: string;
  private readonly token: string | null;

  constructor(url: string, token: string | null) {
    this.url = url.replace(/\/$/, '');
    this.token = token;
  }

  /** `body` is sent as JSON; `raw` sends a document as is (a spec upload: JSON or YAML text). */
  async call<T>(
    method: string,
    path: string,
    body?: unknown,
    raw?: { text: string; contentType: string },
  ): Promise<ApiResult<T>> {
    let res: Response;
    const contentType = raw ? raw.contentType : body !== undefined ? 'application/json' : null;
    try {
      res = await fetch(`${this.url}${path}`, {
        method,
        headers: {
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
          ...(contentType ? { 'content-type': contentType } : {}),
        },
        body: raw ? raw.text : body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(raw ? 60_000 : 10_000),
      });
    } catch (e) {
      const cause = (e as Error & { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
      return {
        ok: false,
        status: null,
        code: 'ALERT_API_UNREACHABLE',
        message: `${this.url}: ${cause} (is the alert role running with alert.api.enabled?)`,
      };
    }
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = text;
    }
    if (res.ok) return { ok: true, status: res.status, value: json as T };
    const err = (json as { error?: { code?: string; message?: string } })?.error;
    return {
      ok: false,
      status: res.status,
      code: err?.code ?? 'ALERT_API_ERROR',
      message: err?.message ?? `HTTP ${res.status}`,
    };
  }
}
