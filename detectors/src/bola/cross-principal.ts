import { type ApiEvent, actorKey, type FindingEntity } from '@apiwatch/core';
import { Type as T } from '@sinclair/typebox';
import type { ObjectOwner } from '../baselines/index.ts';
import { defineDetector, type FindingDraft } from '../runtime/define.ts';
import { type EpisodeRef, episodeRef, fnv1a, is2xx, resolvedOf } from './common.ts';
import { isTenantParam } from './cross-tenant.ts';

export const CrossPrincipalConfig = T.Object(
  {
    ownerMinCalls: T.Integer({
      minimum: 2,
      default: 2,
      description:
        "Successful calls by the one principal (or tenant) using an object, in the baselines' history, before it is judged the owner's (the ownership baseline keeps objects with 2 or more). Two calls a day apart suffice because a finding also needs several such objects (minObjects).",
    }),
    ownerMinSpanSeconds: T.Integer({
      minimum: 0,
      default: 86_400,
      description:
        'Those calls must span at least this long: ownership is a habit over days, not one session or one burst (an enumerator reading every id once an hour is not their owner). The ownership baseline keeps objects spanning an hour or more.',
    }),
    minObjects: T.Integer({
      minimum: 1,
      maximum: 16,
      default: 2,
      description:
        'Distinct objects of others (ids with an established owner) one accessor must read or change within windowSeconds for a finding: one colleague opening one team document is normal, abuse reads several objects that are not theirs.',
    }),
    windowSeconds: T.Integer({
      minimum: 60,
      default: 3600,
      description: 'The window in which those objects of others must fall.',
    }),
    crossTenantAlone: T.Boolean({
      default: true,
      description:
        "One object whose owner is of another tenant than the accessor's token is a finding on its own (critical): colleagues share documents, other tenants do not.",
    }),
    quietSeconds: T.Integer({
      minimum: 60,
      default: 3600,
      description:
        "An episode (one accessor on others' objects) resolves after this long without a further access to an object of another.",
    }),
  },
  { additionalProperties: false },
);

/** Recent foreign accesses an accessor's state holds: a bound on memory whatever minObjects is. */
const MAX_RECENT = 16;

/**
 * Per accessor (actor key + principal; stage 1, where all of an accessor's calls meet on one
 * instance): its recent accesses to objects of others — a hash of the object (id name and value,
 * so a document and its download are one object) and the time — oldest first, at most
 * MAX_RECENT, none older than windowSeconds; and the open episode. Ownership is not kept here:
 * it is the baselines' (`ctx.baselines().objectOwner`, learned from the store; decision 0027).
 */
interface AccessorState {
  objs: number[];
  ts: number[];
  open: { last: number; calls: number; objects: number; ref: EpisodeRef } | null;
}

/**
 * An object key's state from before decision 0027, when this detector was object-keyed in the
 * second stage (packed as decision 0026 left it, or with `owner` an object before that). A
 * checkpoint may still hold some: they never see an event again (object keys are not actor
 * keys); an open episode is resolved once its quiet time is over, then they idle out.
 */
interface LegacyObjectState {
  owner: unknown;
  shared: boolean;
  open: { accessor: string; last: number; calls: number; ref: EpisodeRef } | null;
}

type State = AccessorState | LegacyObjectState;

const isLegacy = (s: State): s is LegacyObjectState => !('objs' in s);

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

const norm = (t: string) => t.trim().toLowerCase();

/**
 * `bola.cross_principal` (OWASP API1:2023): one accessor reads or changes successfully several
 * objects within a window — ids consistently tied to one other owner (a principal, or a tenant
 * on a tenant-scoped route) over days of the store's history — or one object of another tenant.
 * Objects more than one owner used are shared and never judged; workloads (service principals)
 * neither own nor judge; a call whose token tenant differs from the tenant in its path is
 * bola.cross_tenant's to judge.
 */
export const crossPrincipal = defineDetector({
  id: 'bola.cross_principal',
  title: "Access to another principal's object (BOLA)",
  owasp: 'API1:2023',
  nist: 'authorization',
  severity: 'high',
  configSchema: CrossPrincipalConfig,
  scope: 'actor',
  fingerprint: ['entity', 'route', 'extra'],
  keyBy(event) {
    if (!event.request.route || !is2xx(event.response.status)) return null;
    const who = principalOf(event);
    // A workload (an indexer, a backup agent, a BFF) reads many principals' objects by design,
    // and an object a service wrote for a user is still the user's: services neither own
    // objects nor make them shared (the ownership baseline leaves them out), and are not judged.
    if (who === null || who.startsWith('service:')) return null;
    if (!primaryObject(event)) return null;
    return `${actorKey(event)}\u0001${who}`;
  },
  init(): State {
    return { objs: [], ts: [], open: null };
  },
  // A state restored from before decision 0027 carries its old config (no windowSeconds).
  idleMs: (c) => Math.max(Number(c.windowSeconds) || 0, Number(c.quietSeconds) || 0, 3600) * 1000,
  sizeOf(s) {
    return isLegacy(s) ? 96 + (s.open ? 120 : 0) : 64 + s.objs.length * 16 + (s.open ? 160 : 0);
  },
  onEvent(s, event, ctx) {
    if (isLegacy(s)) return undefined;
    const cfg = ctx.config;
    const o = primaryObject(event)!;
    const route = event.request.route!;
    const own = ctx.baselines().objectOwner(route, o.name, o.value);
    if (own === null) return undefined;
    const who = principalOf(event)!;
    const pathTenant = scopeTenant(event);
    // Under a tenant-scoped route the object belongs to the tenant it lives under, whoever
    // reads it: colleagues of that tenant are team work, and a token of another tenant reaching
    // it through that tenant's path is bola.cross_tenant's (support staff, platform admins, or
    // an attack). Only the id moved under another tenant's path is a finding here.
    const ownerId = pathTenant !== null ? `tenant:${pathTenant}` : who;
    if (own.owner === ownerId) return undefined;
    if (own.calls < cfg.ownerMinCalls || own.last - own.first < cfg.ownerMinSpanSeconds * 1000)
      return undefined;

    // An object of another: remember it in the window (once), then judge the accessor.
    const ts = event.ts;
    const from = ts - cfg.windowSeconds * 1000;
    let drop = 0;
    while (drop < s.ts.length && s.ts[drop]! <= from) drop++;
    if (drop > 0) {
      s.objs.splice(0, drop);
      s.ts.splice(0, drop);
    }
    const h = fnv1a(`${o.name}\u0000${o.value}`);
    const at = s.objs.indexOf(h);
    if (at >= 0) {
      s.objs.splice(at, 1);
      s.ts.splice(at, 1);
    } else if (s.objs.length >= MAX_RECENT) {
      s.objs.shift();
      s.ts.shift();
    }
    s.objs.push(h);
    s.ts.push(ts);

    const open = s.open;
    if (open) {
      open.calls++;
      open.last = ts;
      if (at < 0) open.objects++;
      ctx.wakeAt(ts + cfg.quietSeconds * 1000);
      return undefined;
    }
    const crossTenant =
      own.ownerTenant !== null &&
      event.identity.tenant !== null &&
      norm(own.ownerTenant) !== norm(event.identity.tenant);
    const objects = s.objs.length;
    if (objects < cfg.minObjects && !(crossTenant && cfg.crossTenantAlone)) return undefined;
    const d = draft(event, route, o.name, own, who, crossTenant, objects, s.ts[0]!, cfg);
    s.open = { last: ts, calls: 1, objects, ref: episodeRef(d) };
    ctx.wakeAt(ts + cfg.quietSeconds * 1000);
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
    const e = open.ref.entity;
    const objects = 'objects' in open ? open.objects : open.calls;
    return [
      resolvedOf(open.ref, {
        endedAt: open.last,
        lastSeen: open.last,
        summary: `${e.kind} ${e.name ?? e.id} stopped using objects of others on ${open.ref.route} (${open.calls} calls, ${objects} objects).`,
        observed: objects,
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
  route: string,
  name: string,
  owner: ObjectOwner,
  who: string,
  crossTenant: boolean,
  objects: number,
  firstForeign: number,
  cfg: { minObjects: number; windowSeconds: number },
): FindingDraft {
  const entity = accessorEntity(who, event);
  const method = event.request.method;
  const write = WRITE_METHODS.has(method);
  const severity = crossTenant ? 'critical' : write ? 'high' : 'medium';
  const byTenant = owner.owner.startsWith('tenant:');
  const ownerName = byTenant
    ? `tenant ${owner.ownerTenant}`
    : owner.owner.slice(owner.owner.indexOf(':') + 1);
  const many = objects >= cfg.minObjects;
  const minutes = Math.max(1, Math.round((event.ts - firstForeign) / 60_000));
  const what =
    objects > 1
      ? `${objects} objects of others in ${minutes} min, the last ${name} on ${method} ${route} (${event.response.status}),`
      : `${name} on ${method} ${route} (${event.response.status})`;
  return {
    entity,
    route,
    method,
    tenant: event.identity.tenant,
    severity,
    confidence: Math.min(
      0.95,
      0.5 + 0.05 * Math.min(owner.calls, 6) + 0.05 * Math.min(objects - 1, 3) + (crossTenant ? 0.1 : 0),
    ),
    summary: `${entity.kind} ${entity.name ?? entity.id} ${write ? 'changed' : 'read'} ${what} that until now only ${ownerName}${owner.ownerTenant && !byTenant ? ` (tenant ${owner.ownerTenant})` : ''} used (${owner.calls} calls)${crossTenant ? ', across tenants' : ''}.`,
    firstSeen: firstForeign,
    lastSeen: event.ts,
    evidence: {
      observed: objects,
      baseline: owner.calls,
      threshold: many ? cfg.minObjects : 1,
      windowSeconds: cfg.windowSeconds,
      counts: { foreignObjects: objects, ownerCalls: owner.calls },
      sampleEventIds: [event.id],
      details: {
        object: name,
        // The id value is hashed out of the finding: the event id leads to it for those allowed to see it.
        owner: owner.owner,
        ownerTenant: owner.ownerTenant,
        accessor: who,
        accessorTenant: event.identity.tenant,
        ownerFirstSeen: owner.first,
        ownerLastSeen: owner.last,
        write,
        crossTenant,
        corroborated: many,
        clientIp: event.client.ip,
      },
    },
    recommendedAction: `Check whether ${entity.name ?? entity.id} may access objects of ${ownerName} on ${route}; if not, enforce ownership checks on the route and revoke ${entity.ref ? `credential ${entity.ref}` : "the accessor's credential"}.`,
    fingerprintExtra: owner.owner,
  };
}
