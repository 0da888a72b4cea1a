import { type ApiEvent, actorKey, type FindingEntity } from '@apiwatch/core';
import { Type as T } from '@sinclair/typebox';
import { defineDetector, type FindingDraft } from '../runtime/define.ts';
import { actorFindingEntity, type EpisodeRef, episodeRef, is2xx, resolvedOf } from './common.ts';

export const CrossTenantConfig = T.Object(
  {
    exemptScopes: T.Array(T.String({ maxLength: 256 }), {
      default: ['platform:admin', 'tenants:all', 'support:impersonate'],
      maxItems: 64,
      description:
        'Token scopes that legitimately reach every tenant (platform admins, support): calls carrying one are not judged.',
    }),
    quietSeconds: T.Integer({
      minimum: 60,
      default: 3600,
      description:
        'An episode (one actor, one foreign tenant) resolves after this long without a further access.',
    }),
  },
  { additionalProperties: false },
);

/**
 * Parameter names that say "tenant" outright: compared with the token's tenant on first sight.
 * Other names that often carry a tenant (`account_id`, `customerId`, Twilio `AccountSid`) are
 * compared only once the actor's own calls showed that parameter equal to its token's tenant —
 * otherwise an API whose account ids are not tenant names would mismatch on every call.
 */
const TENANT_NAME =
  /^(tenant|tenants|org|orgs|organi[sz]ation|workspace|company)([-_]?(id|slug|name|key))?$|^(tenant|org|organi[sz]ation|workspace|company)(Id|ID|Slug|Name|Key)$/i;
const MAYBE_TENANT_NAME =
  /^(account|customer|client|team|realm|subscription)([-_]?(id|sid|slug))?$|^(account|customer|client|team|realm|subscription)(Id|ID|Sid|SID|Slug)$/;

export function isTenantParam(name: string): boolean {
  return TENANT_NAME.test(name);
}

const norm = (v: string) => v.trim().toLowerCase();

/**
 * Per actor: the parameter names seen equal to its token's tenant (learned tenant parameters,
 * at most 4) and the open episodes (at most 4 foreign tenants). ~300 B.
 */
interface TenantState {
  learned: string[];
  episodes: Array<{
    tenant: string;
    last: number;
    calls: number;
    ref: EpisodeRef;
  }>;
}

/**
 * `bola.cross_tenant` (OWASP API1:2023): the token's tenant differs from a tenant named in the
 * path or query, and the call succeeded (2xx).
 */
export const crossTenant = defineDetector({
  id: 'bola.cross_tenant',
  title: 'Cross-tenant access (BOLA)',
  owasp: 'API1:2023',
  nist: 'authorization',
  severity: 'critical',
  configSchema: CrossTenantConfig,
  scope: 'actor',
  fingerprint: ['entity', 'extra'],
  keyBy(event) {
    if (!event.identity.tenant || event.objects.length === 0) return null;
    if (event.identity.auth === 'failure') return null;
    return actorKey(event);
  },
  init(): TenantState {
    return { learned: [], episodes: [] };
  },
  idleMs: (c) => Math.max(c.quietSeconds * 1000, 7 * 86_400_000),
  sizeOf(s) {
    return 64 + s.learned.reduce((n, l) => n + 40 + l.length * 2, 0) + s.episodes.length * 200;
  },
  onEvent(s, event, ctx, key) {
    const own = norm(event.identity.tenant!);
    let foreign: { name: string; value: string; in: 'path' | 'query' } | null = null;
    for (const o of event.objects) {
      const strong = TENANT_NAME.test(o.name);
      const maybe = !strong && MAYBE_TENANT_NAME.test(o.name);
      if (!strong && !maybe) continue;
      if (norm(o.value) === own) {
        if (maybe && !s.learned.includes(o.name) && s.learned.length < 4)
          s.learned.push(o.name.slice(0, 128));
        continue;
      }
      if (strong || s.learned.includes(o.name)) {
        foreign = o;
        break;
      }
    }
    if (!foreign || !is2xx(event.response.status)) return undefined;
    if (event.identity.scopes.some((sc) => ctx.config.exemptScopes.includes(sc))) return undefined;
    const cfg = ctx.config;
    const other = foreign.value.slice(0, 256);
    ctx.wakeAt(event.ts + cfg.quietSeconds * 1000);
    const open = s.episodes.find((e) => e.tenant === norm(other));
    if (open) {
      open.calls++;
      open.last = event.ts;
      return undefined;
    }
    if (s.episodes.length >= 4) return undefined; // already reporting four foreign tenants
    const d = draft(event, actorFindingEntity(key, event), foreign, other);
    s.episodes.push({ tenant: norm(other), last: event.ts, calls: 1, ref: episodeRef(d) });
    return [d];
  },
  onWatermark(s, ts, ctx) {
    const quietMs = ctx.config.quietSeconds * 1000;
    const out: FindingDraft[] = [];
    s.episodes = s.episodes.filter((e) => {
      if (ts < e.last + quietMs) return true;
      out.push(
        resolvedOf(e.ref, {
          endedAt: e.last,
          lastSeen: e.last,
          summary: `${e.ref.entity.kind} ${e.ref.entity.name ?? e.ref.entity.id} stopped accessing tenant ${e.tenant} (${e.calls} successful calls).`,
          observed: e.calls,
          windowSeconds: ctx.config.quietSeconds,
          recommendedAction: 'Confirm the cross-tenant access was not authorised and close the incident.',
        }),
      );
      return false;
    });
    const next = Math.min(...s.episodes.map((e) => e.last + quietMs));
    if (Number.isFinite(next)) ctx.wakeAt(next);
    return out.length > 0 ? out : undefined;
  },
});

function draft(
  event: ApiEvent,
  entity: FindingEntity,
  param: { name: string; in: 'path' | 'query' },
  other: string,
): FindingDraft {
  const route = event.request.route ?? event.request.path;
  const method = event.request.method;
  const who = entity.name ?? entity.id;
  return {
    entity,
    route,
    method,
    tenant: event.identity.tenant,
    confidence: TENANT_NAME.test(param.name) ? 0.9 : 0.75,
    summary: `${entity.kind} ${who} of tenant ${event.identity.tenant} got ${event.response.status} on ${method} ${route} for tenant ${other} (${param.in} parameter ${param.name}).`,
    firstSeen: event.ts,
    lastSeen: event.ts,
    evidence: {
      observed: 1,
      baseline: null,
      threshold: 1,
      windowSeconds: 0,
      counts: { status: event.response.status },
      sampleEventIds: [event.id],
      details: {
        tokenTenant: event.identity.tenant,
        requestedTenant: other,
        parameter: param.name,
        in: param.in,
        scopes: event.identity.scopes.slice(0, 16),
        clientIp: event.client.ip,
      },
    },
    recommendedAction: `Check tenant isolation on ${method} ${route}: a ${event.identity.tenant} token must not reach ${other}. Revoke ${entity.ref ? `credential ${entity.ref}` : 'the credential'} if the access was not authorised; list routine cross-tenant principals in exemptScopes or a per-entity override.`,
    fingerprintExtra: other,
  };
}
