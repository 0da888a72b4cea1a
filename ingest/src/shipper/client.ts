import { ERROR_CODES, type ErrorCode, err, ok, type Result } from '@apiwatch/core';

/**
 * One POST to ingest and what its answer means, as a value: accepted (with the records ingest
 * rejected one by one), or a failure that says whether sending the same body again may work.
 * No retries here (shipper.ts owns the retry budget).
 */

export type IngestPath = '/v1/events' | '/v1/dlq';

export interface IngestAnswer {
  accepted: number;
  rejected: Array<{ index: number; code: string; reason: string }>;
}

export interface PostFailure {
  code: ErrorCode;
  retryable: boolean;
  /** What went wrong, for the log and the final error line: "ECONNREFUSED", "HTTP 503". */
  detail: string;
  /** The server's Retry-After, ms. */
  retryAfterMs?: number;
}

export interface IngestClientOptions {
  /** Ingest base URL, e.g. http://127.0.0.1:8080. */
  baseUrl: string;
  token: string;
  /** Per-request timeout, ms (default 30 s). */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export function createIngestClient(o: IngestClientOptions) {
  const base = o.baseUrl.replace(/\/+$/, '');
  const doFetch = o.fetch ?? fetch;
  return {
    baseUrl: base,
    async post(path: IngestPath, body: string): Promise<Result<IngestAnswer, PostFailure>> {
      let res: Response;
      let text: string;
      try {
        res = await doFetch(`${base}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-ndjson', authorization: `Bearer ${o.token}` },
          body,
          signal: AbortSignal.timeout(o.timeoutMs ?? 30_000),
        });
        text = await res.text();
      } catch (e) {
        const cause = (e as Error & { cause?: { code?: string; message?: string } }).cause;
        const detail =
          cause?.code ??
          ((e as Error).name === 'TimeoutError' ? 'timed out' : (cause?.message ?? (e as Error).message));
        return err({ code: 'COLLECT_INGEST_UNREACHABLE', retryable: true, detail });
      }
      if (res.status === 200 || res.status === 400) {
        let answer: Partial<IngestAnswer> | null = null;
        try {
          answer = JSON.parse(text) as Partial<IngestAnswer>;
        } catch {
          answer = null;
        }
        // 400 with per-record reasons: every record was refused for its content (not retryable).
        if (answer && (res.status === 200 || Array.isArray(answer.rejected))) {
          return ok({ accepted: answer.accepted ?? 0, rejected: answer.rejected ?? [] });
        }
      }
      if (res.status === 401 || res.status === 403) {
        return err({
          code: 'INGEST_UNAUTHENTICATED',
          retryable: false,
          detail: `ingest at ${base} refused the collector token (HTTP ${res.status})`,
        });
      }
      const retryAfter = Number(res.headers.get('retry-after'));
      const retryable = res.status === 408 || res.status === 429 || res.status >= 500;
      return err({
        code: retryable ? 'COLLECT_INGEST_UNREACHABLE' : (serverCode(text) ?? 'INGEST_EVENT_INVALID'),
        retryable,
        detail: `HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`,
        ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}),
      });
    },
  };
}

export type IngestClient = ReturnType<typeof createIngestClient>;

/** The code in ingest's `{"error": {"code": …}}` answer, when it is one of ours. */
function serverCode(text: string): ErrorCode | null {
  try {
    const code = (JSON.parse(text) as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'string' && code in ERROR_CODES ? (code as ErrorCode) : null;
  } catch {
    return null;
  }
}
