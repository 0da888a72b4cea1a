import type { KongRevokerConfigValue } from '@apiwatch/core';
import { type ActionResult, type ActionTarget, httpCall, type Revoker } from './types.ts';

/**
 * Kong Admin API. `acl-deny` (default, reversible): looks up the key-auth credential by its id
 * (`GET /key-auths/{ref}`), then adds its consumer to the deny group of the ACL plugin
 * (`POST /consumers/{consumer}/acls {group}`); restore deletes that ACL. `delete`: removes the
 * credential (`DELETE /key-auths/{ref}`) — irreversible, because apiwatch never holds the key.
 */
export function createKongRevoker(c: KongRevokerConfigValue, adminToken: string | null): Revoker {
  const base = c.adminUrl.replace(/\/$/, '');
  const headers: Record<string, string> = adminToken ? { 'kong-admin-token': adminToken } : {};
  return {
    id: c.id,
    kind: 'kong',
    reversible: c.method === 'acl-deny',
    async revoke(t: ActionTarget): Promise<ActionResult> {
      const ref = encodeURIComponent(t.ref);
      if (c.method === 'delete') {
        const r = await httpCall('DELETE', `${base}/key-auths/${ref}`, undefined, headers, c.timeoutMs);
        return r.ok ? { ok: true, status: r.status, details: { method: 'delete' } } : r;
      }
      const cred = await httpCall('GET', `${base}/key-auths/${ref}`, undefined, headers, c.timeoutMs);
      if (!cred.ok) return cred;
      const consumer = (cred.json as { consumer?: { id?: string } })?.consumer?.id;
      if (!consumer) {
        return {
          ok: false,
          code: 'ALERT_ACTION_NOT_FOUND',
          retryable: false,
          status: cred.status,
          error: `key-auth ${t.ref} has no consumer`,
        };
      }
      const acl = await httpCall(
        'POST',
        `${base}/consumers/${encodeURIComponent(consumer)}/acls`,
        JSON.stringify({ group: c.denyGroup, tags: ['apiwatch', `finding:${t.findingId}`.slice(0, 128)] }),
        headers,
        c.timeoutMs,
      );
      if (!acl.ok) return acl;
      return {
        ok: true,
        status: acl.status,
        details: { method: 'acl-deny', consumer, aclId: (acl.json as { id?: string })?.id ?? null },
      };
    },
    async restore(_t: ActionTarget, state: Record<string, unknown>): Promise<ActionResult> {
      if (c.method === 'delete') {
        return {
          ok: false,
          code: 'ALERT_ACTION_IRREVERSIBLE',
          retryable: false,
          status: null,
          error: 'a deleted Kong credential cannot be restored',
        };
      }
      const consumer = String(state.consumer ?? '');
      const aclId = String(state.aclId ?? c.denyGroup);
      const r = await httpCall(
        'DELETE',
        `${base}/consumers/${encodeURIComponent(consumer)}/acls/${encodeURIComponent(aclId)}`,
        undefined,
        headers,
        c.timeoutMs,
      );
      if (!r.ok && r.code === 'ALERT_ACTION_NOT_FOUND')
        return { ok: true, status: 404, details: { alreadyRestored: true } };
      return r.ok ? { ok: true, status: r.status, details: {} } : r;
    },
  };
}
