import type { ApiEvent, FindingEntity } from '@apiwatch/core';
import { Type as T } from '@sinclair/typebox';
import { defineDetector, type FindingDraft } from '../runtime/define.ts';
import { type EpisodeRef, episodeRef, intern, is2xx, resolvedOf } from './common.ts';
import { isTenantParam } from './cross-tenant.ts';

export const CrossPrincipalConfig = T.Object(
  {
    ownerMinCalls: T.Integer({
      minimum: 1,
      default: 3,
      description:
        'Successful calls by the one principal (or tenant) using an object before it is learned as the owner.',
    }),
    ownerMinSpanSeconds: T.Integer({
      minimum: 0,
      default: 86_400,
      description:
        'Those calls must span at least this long: ownership is a habit over days, not one session or one burst (an enumerator reading every id once an hour is not their owner).',
    }),
    memoryDays: T.Integer({
      minimum: 1,
      maximum: 366,
      default: 35,
      description:
        'An object unused this long is forgotten (owner and sharing); re-learned from its next calls. Long enough that a rarely opened shared object is still known as shared.',
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

/**
 * Per object (route + id value, a non-actor key: the runtime's second stage brings every
 * principal's calls on it together): the one owner it is consistently tied to, or `shared` once
 * a second owner used it before the first was established (or after an episode ended), plus the
 * open episode. The owner is packed into the state (no object of its own) and its id and tenant
 * are interned: a principal owns many objects, and every object held its own copy of the same
 * `user:…` string (decision 0026). The runtime's per-detector cap bounds the number of objects
 * remembered (least recently used forgotten first).
 */
interface ObjectState {
  /** The owner: one principal (`user:…`, `credential:…`), or `tenant:…` on a tenant-scoped route; null before the first call. */
  owner: string | null;
  /** The owner's token tenant (a principal), or the tenant itself. */
  ownerTenant: string | null;
  /** The owner's successful calls on the object, and the first and last of them. */
  calls: number;
  first: number;
  last: number;
  /** Used by more than one owner outside an episode: not private, never judged again. */
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

/** The tenant a route addresses (`/tenants/{tenantId}/…` or `?tenant=`), normalised, or null. */
function scopeTenant(e: ApiEvent): string | null {
  const o = e.objects.find((x) => isTenantParam(x.name));
  return o ? o.value.trim().toLowerCase() : null;
}

const WRITE_METHODS = new Set(['PUT', 'PATCH', 'DELETE', 'POST']);

const established = (o: ObjectState, cfg: { ownerMinCalls: number; ownerMinSpanSeconds: number }) =>
  o.calls >= cfg.ownerMinCalls && o.last - o.first >= cfg.ownerMinSpanSeconds * 1000;

/**
 * `bola.cross_principal` (OWASP API1:2023): an object consistently tied to one owner — one
 * principal, or one tenant on a tenant-scoped route — over days, is then read or changed
 * successfully by another. Objects that more than one owner used are shared and never judged;
 * workloads (service principals) neither own nor judge; a call whose token tenant differs from
 * the tenant in its path is bola.cross_tenant's to judge.
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
    const who = principalOf(event);
    // A workload (an indexer, a backup agent, a BFF) reads many principals' objects by design,
    // and an object a service wrote for a user is still the user's: services neither own
    // objects nor make them shared, and are not judged.
    if (who === null || who.startsWith('service:')) return null;
    const o = primaryObject(event);
    if (!o) return null;
    return `${event.request.route}\u0000${o.name}\u0000${o.value}`;
  },
  init(): ObjectState {
    return { owner: null, ownerTenant: null, calls: 0, first: 0, last: 0, shared: false, open: null };
  },
  idleMs: (c) => c.memoryDays * 86_400_000,
  sizeOf(s) {
    return 96 + (s.open ? 120 : 0);
  },
  onEvent(s, event, ctx, key) {
    if (s.owner !== null && typeof s.owner === 'object') upgrade(s);
    const cfg = ctx.config;
    const who = principalOf(event)!;
    const pathTenant = scopeTenant(event);
    // Under a tenant-scoped route the object belongs to the tenant it lives under, whoever
    // reads it: colleagues of that tenant are team work, and a token of another tenant reaching
    // it through that tenant's path is bola.cross_tenant's (support staff, platform admins, or
    // an attack). Only the id moved under another tenant's path is a finding here.
    const ownerId = pathTenant !== null ? `tenant:${pathTenant}` : who;
    const open = s.open;
    if (open && open.accessor === who) {
      open.calls++;
      open.last = event.ts;
      ctx.wakeAt(event.ts + cfg.quietSeconds * 1000);
      return undefined;
    }
    if (s.shared) return undefined;
    if (s.owner === null) {
      s.owner = intern(ownerId.slice(0, 256));
      const tenant = pathTenant ?? event.identity.tenant;
      s.ownerTenant = tenant === null ? null : intern(tenant);
      s.calls = 1;
      s.first = event.ts;
      s.last = event.ts;
      return undefined;
    }
    if (s.owner === ownerId) {
      s.calls++;
      s.last = event.ts;
      return undefined;
    }
    // A second owner. Before the first was established the object was never private: shared.
    // During an episode with another accessor: one episode per object at a time.
    if (!established(s, cfg)) {
      s.shared = true;
      return undefined;
    }
    if (open) return undefined;
    const d = draft(event, key, s, who, accessorEntity(who, event));
    s.open = { accessor: who, last: event.ts, calls: 1, ref: episodeRef(d) };
    ctx.wakeAt(event.ts + cfg.quietSeconds * 1000);
    return [d];
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
    // Reported once; afterwards the object has two users and is no longer judged (an access
    // that was authorised — a hand-over, a delegation — must not re-fire every week).
    s.shared = true;
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

/** A state from a checkpoint taken before decision 0026's packing: `owner` was an object. */
function upgrade(s: ObjectState): void {
  const o = s.owner as unknown as {
    id: string;
    tenant: string | null;
    calls: number;
    first: number;
    last: number;
  };
  s.owner = intern(o.id);
  s.ownerTenant = o.tenant === null ? null : intern(o.tenant);
  s.calls = o.calls;
  s.first = o.first;
  s.last = o.last;
}

function accessorEntity(who: string, e: ApiEvent): FindingEntity {
  const colon = who.indexOf(':');
  const kind = who.slice(0, colon) as 'user' | 'service' | 'credential';
  const id = who.slice(colon + 1);
  const name = kind === 'credential' ? (e.identity.credential.ref ?? null) : id;
  return { kind, id, name, ref: e.identity.credential.ref };
}

/** The owner as the finding describes it. */
interface Owner {
  id: string;
  tenant: string | null;
  calls: number;
  first: number;
  last: number;
}

function draft(
  event: ApiEvent,
  key: string,
  s: ObjectState,
  who: string,
  entity: FindingEntity,
): FindingDraft {
  const owner: Owner = { id: s.owner!, tenant: s.ownerTenant, calls: s.calls, first: s.first, last: s.last };
  const [route = '', name = ''] = key.split('\u0000');
  const method = event.request.method;
  const write = WRITE_METHODS.has(method);
  const crossTenant =
    owner.tenant !== null &&
    event.identity.tenant !== null &&
    owner.tenant.trim().toLowerCase() !== event.identity.tenant.trim().toLowerCase();
  const severity = crossTenant ? 'critical' : write ? 'high' : 'medium';
  const byTenant = owner.id.startsWith('tenant:');
  const ownerName = byTenant ? `tenant ${owner.tenant}` : owner.id.slice(owner.id.indexOf(':') + 1);
  return {
    entity,
    route,
    method,
    tenant: event.identity.tenant,
    severity,
    confidence: Math.min(0.95, 0.55 + 0.05 * Math.min(owner.calls, 6) + (crossTenant ? 0.1 : 0)),
    summary: `${entity.kind} ${entity.name ?? entity.id} ${write ? 'changed' : 'read'} ${name} on ${method} ${route} (${method} ${event.response.status}) that until now only ${ownerName}${owner.tenant && !byTenant ? ` (tenant ${owner.tenant})` : ''} used (${owner.calls} calls).`,
    firstSeen: owner.first,
    lastSeen: event.ts,
    evidence: {
      observed: 1,
      baseline: owner.calls,
      threshold: 1,
      windowSeconds: Math.round((event.ts - owner.first) / 1000),
      counts: { ownerCalls: owner.calls },
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
