import type { ApiEvent, FindingEntity } from '@apiwatch/core';
import { Type as T } from '@sinclair/typebox';
import { defineDetector, type FindingDraft } from '../runtime/define.ts';
import { type EpisodeRef, episodeRef, is2xx, resolvedOf } from './common.ts';
import { isTenantParam } from './cross-tenant.ts';

export const CrossPrincipalConfig = T.Object(
  {
    ownerMinCalls: T.Integer({
      minimum: 1,
      default: 3,
      description: 'Successful calls by one principal on an object before it is learned as the owner.',
    }),
    ownerMinSpanSeconds: T.Integer({
      minimum: 0,
      default: 600,
      description: 'Those calls must span at least this long (one burst does not make an owner).',
    }),
    maxOwners: T.Integer({
      minimum: 1,
      maximum: 8,
      default: 3,
      description:
        'Principals remembered per object. An object already used by this many principals is shared, not owned: it is never judged.',
    }),
    quietSeconds: T.Integer({
      minimum: 60,
      default: 3600,
      description:
        'An episode (one accessor on one object) resolves after this long without a further foreign access.',
    }),
  },
  { additionalProperties: false },
);

interface Principal {
  id: string;
  tenant: string | null;
  calls: number;
  first: number;
  last: number;
}

/**
 * Per object (route + id value, a non-actor key: the runtime's second stage brings every
 * principal's calls on it together): at most `maxOwners` principals with their call counts and
 * first/last success, plus the open episode. ~250 B; the runtime's per-detector cap bounds the
 * number of objects remembered (least recently used forgotten first).
 */
interface ObjectState {
  principals: Principal[];
  /** Set once more principals than maxOwners used the object: shared, never judged again. */
  shared: boolean;
  open: { accessor: string; last: number; calls: number; ref: EpisodeRef } | null;
}

/** The principal behind a call, when there is one a human can own objects as. */
export function principalOf(e: ApiEvent): string | null {
  const id = e.identity;
  if (id.auth !== 'success') return null;
  if (id.user) return `user:${id.user}`;
  if (id.service) return `service:${id.service}`;
  if (id.credential.fingerprint) return `credential:${id.credential.fingerprint}`;
  return null;
}

/**
 * The object a call is about: its last path id (the resource addressed), else its first query
 * id. Tenant parameters are never the object (tenant isolation is bola.cross_tenant's).
 */
function primaryObject(e: ApiEvent): { name: string; value: string } | null {
  let pick: { name: string; value: string } | null = null;
  for (const o of e.objects) if (o.in === 'path' && !isTenantParam(o.name)) pick = o;
  return pick ?? e.objects.find((o) => o.in === 'query' && !isTenantParam(o.name)) ?? null;
}

/** A route addressed under a tenant (`/tenants/{tenantId}/…` or `?tenant=`): its objects belong to the tenant. */
function tenantScoped(e: ApiEvent): boolean {
  return e.objects.some((o) => isTenantParam(o.name));
}

const WRITE_METHODS = new Set(['PUT', 'PATCH', 'DELETE', 'POST']);

/**
 * `bola.cross_principal` (OWASP API1:2023): an object learned as belonging to one principal
 * (several successful calls over time, by it alone) is then read or changed successfully by
 * another principal. Shared objects (more principals than `maxOwners`) are never judged.
 */
export const crossPrincipal = defineDetector({
  id: 'bola.cross_principal',
  title: "Access to another principal's object (BOLA)",
  owasp: 'API1:2023',
  nist: 'authorization',
  severity: 'high',
  configSchema: CrossPrincipalConfig,
  scope: 'global',
  fingerprint: ['entity', 'route', 'extra'],
  keyBy(event) {
    if (!event.request.route || !is2xx(event.response.status)) return null;
    if (principalOf(event) === null) return null;
    const o = primaryObject(event);
    if (!o) return null;
    return `${event.request.route}\u0000${o.name}\u0000${o.value}`;
  },
  init(): ObjectState {
    return { principals: [], shared: false, open: null };
  },
  // Owner memory: an object unused for a week is forgotten (re-learned from its owner's next calls).
  idleMs: () => 7 * 86_400_000,
  sizeOf(s) {
    return 64 + s.principals.reduce((n, p) => n + 64 + p.id.length * 2, 0) + (s.open ? 120 : 0);
  },
  onEvent(s, event, ctx, key) {
    if (s.shared) return undefined;
    const cfg = ctx.config;
    const who = principalOf(event)!;
    const tenant = event.identity.tenant;
    const known = s.principals.find((p) => p.id === who);
    const owner = s.principals.find(
      (p) =>
        p.id !== who && p.calls >= cfg.ownerMinCalls && p.last - p.first >= cfg.ownerMinSpanSeconds * 1000,
    );
    // The accessor is established itself (it owned the object before the other): not foreign.
    const accessorEstablished =
      known !== undefined &&
      known.calls >= cfg.ownerMinCalls &&
      known.last - known.first >= cfg.ownerMinSpanSeconds * 1000;
    const out: FindingDraft[] = [];
    // Under a tenant-scoped route (tenant in the path or the query), a colleague of the same
    // tenant using the object is team work.
    const teamAccess =
      owner !== undefined && tenantScoped(event) && owner.tenant !== null && owner.tenant === tenant;
    // A workload (an indexer, a backup agent, a BFF) reads many principals' objects by design,
    // and an object a service wrote for a user is still the user's: services are not judged
    // against principals, nor principals against services.
    const betweenUsers =
      owner !== undefined && !owner.id.startsWith('service:') && !who.startsWith('service:');
    if (owner && betweenUsers && !accessorEstablished && !teamAccess) {
      if (s.open && s.open.accessor === who) {
        s.open.calls++;
        s.open.last = event.ts;
      } else if (!s.open) {
        const d = draft(event, key, owner, who, accessorEntity(who, event), known?.calls ?? 0);
        s.open = { accessor: who, last: event.ts, calls: 1, ref: episodeRef(d) };
        out.push(d);
      }
      ctx.wakeAt(event.ts + cfg.quietSeconds * 1000);
    }
    if (known) {
      known.calls++;
      known.last = event.ts;
    } else if (s.principals.length < cfg.maxOwners) {
      s.principals.push({ id: who.slice(0, 256), tenant, calls: 1, first: event.ts, last: event.ts });
    } else {
      s.shared = true;
      s.principals.length = 0;
    }
    return out.length > 0 ? out : undefined;
  },
  onWatermark(s, ts, ctx) {
    const open = s.open;
    if (!open) return undefined;
    const quietMs = ctx.config.quietSeconds * 1000;
    if (ts < open.last + quietMs) {
      ctx.wakeAt(open.last + quietMs);
      return undefined;
    }
    s.open = null;
    const e = open.ref.entity;
    return [
      resolvedOf(open.ref, {
        endedAt: open.last,
        lastSeen: open.last,
        summary: `${e.kind} ${e.name ?? e.id} stopped using another principal's ${open.ref.fingerprintExtra ?? 'object'} on ${open.ref.route} (${open.calls} calls).`,
        observed: open.calls,
        windowSeconds: ctx.config.quietSeconds,
        recommendedAction: 'Confirm the access was not authorised and close the incident.',
      }),
    ];
  },
});

function accessorEntity(who: string, e: ApiEvent): FindingEntity {
  const colon = who.indexOf(':');
  const kind = who.slice(0, colon) as 'user' | 'service' | 'credential';
  const id = who.slice(colon + 1);
  const name = kind === 'credential' ? (e.identity.credential.ref ?? null) : id;
  return { kind, id, name, ref: e.identity.credential.ref };
}

function draft(
  event: ApiEvent,
  key: string,
  owner: Principal,
  who: string,
  entity: FindingEntity,
  priorCalls: number,
): FindingDraft {
  const [route = '', name = ''] = key.split('\u0000');
  const method = event.request.method;
  const write = WRITE_METHODS.has(method);
  const crossTenant =
    owner.tenant !== null && event.identity.tenant !== null && owner.tenant !== event.identity.tenant;
  const severity = crossTenant ? 'critical' : write ? 'high' : 'medium';
  const ownerName = owner.id.slice(owner.id.indexOf(':') + 1);
  return {
    entity,
    route,
    method,
    tenant: event.identity.tenant,
    severity,
    confidence: Math.min(0.95, 0.55 + 0.05 * Math.min(owner.calls, 6) + (crossTenant ? 0.1 : 0)),
    summary: `${entity.kind} ${entity.name ?? entity.id} ${write ? 'changed' : 'read'} ${name} on ${method} ${route} (${method} ${event.response.status}) that until now only ${ownerName}${owner.tenant ? ` (tenant ${owner.tenant})` : ''} used (${owner.calls} calls).`,
    firstSeen: owner.first,
    lastSeen: event.ts,
    evidence: {
      observed: 1,
      baseline: owner.calls,
      threshold: 1,
      windowSeconds: Math.round((event.ts - owner.first) / 1000),
      counts: { ownerCalls: owner.calls, accessorPriorCalls: priorCalls },
      sampleEventIds: [event.id],
      details: {
        object: name,
        // The id value is hashed out of the finding: the event id leads to it for those allowed to see it.
        owner: owner.id,
        ownerTenant: owner.tenant,
        accessor: who,
        accessorTenant: event.identity.tenant,
        ownerFirstSeen: owner.first,
        ownerLastSeen: owner.last,
        write,
        crossTenant,
        clientIp: event.client.ip,
      },
    },
    recommendedAction: `Check whether ${entity.name ?? entity.id} may access objects of ${ownerName} on ${route}; if not, enforce ownership checks on the route and revoke ${entity.ref ? `credential ${entity.ref}` : "the accessor's credential"}.`,
    fingerprintExtra: name,
  };
}
