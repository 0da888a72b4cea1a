import type { HttpRevokerConfigValue } from '@apiwatch/core';
import { type ActionResult, type ActionTarget, httpCall, type Revoker } from './types.ts';

/**
 * A generic HTTP hook: a templated request per action. `{{ref}}`, `{{entity.kind}}`,
 * `{{entity.id}}`, `{{entity.name}}`, `{{finding.id}}`, `{{action}}` are replaced — URL-encoded
 * in the URL, JSON-escaped (without quotes) in the body.
 */
export function renderTemplate(
  template: string,
  t: ActionTarget,
  action: string,
  encode: (s: string) => string,
): string {
  const values: Record<string, string> = {
    ref: t.ref,
    'entity.kind': t.entityKind,
    'entity.id': t.entityId,
    'entity.name': t.entityName ?? '',
    'finding.id': t.findingId,
    action,
  };
  return template.replace(/\{\{\s*([a-z.]+)\s*\}\}/g, (m, name: string) =>
    name in values ? encode(values[name]!) : m,
  );
}

const jsonEscape = (s: string) => JSON.stringify(s).slice(1, -1);

export function createHttpRevoker(c: HttpRevokerConfigValue, token: string | null): Revoker {
  const headers = { ...c.headers, ...(token ? { authorization: `Bearer ${token}` } : {}) };
  const call = async (
    spec: { method: string; url: string; body?: string | undefined },
    t: ActionTarget,
    action: string,
  ): Promise<ActionResult> => {
    const r = await httpCall(
      spec.method,
      renderTemplate(spec.url, t, action, encodeURIComponent),
      spec.body !== undefined ? renderTemplate(spec.body, t, action, jsonEscape) : undefined,
      headers,
      c.timeoutMs,
    );
    return r.ok ? { ok: true, status: r.status, details: {} } : r;
  };
  return {
    id: c.id,
    kind: 'http',
    reversible: c.restore !== undefined,
    revoke: (t) => call(c.revoke, t, 'revoke'),
    restore: (t) =>
      c.restore
        ? call(c.restore, t, 'restore')
        : Promise.resolve({
            ok: false,
            code: 'ALERT_ACTION_IRREVERSIBLE',
            retryable: false,
            status: null,
            error: `revoker ${c.id} has no restore request`,
          }),
  };
}
