import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type {
  Finding,
  Logger,
  NotificationDeliveryRecord,
  ResponseActionAudit,
  TokenRevocation,
} from '@apiwatch/core';
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { parse as parseYaml } from 'yaml';
import type { ResponseEngine } from '../actions/engine.ts';
import type { AlertRouter } from '../router/router.ts';
import { checkOpenApiDocument } from './spec-validate.ts';
import { ApiTokens } from './tokens.ts';

/**
 * The management API (Fastify): findings (list with filters and cursor pagination, get,
 * acknowledge, resolve, comment), the endpoint inventory, silences (the alert router's), response
 * actions (list, approve, undo: the ResponseEngine's), /healthz, /readyz, Prometheus /metrics and
 * the OpenAPI 3.1 document at /openapi.json, generated from the same TypeBox schemas Fastify
 * validates requests with. Bearer tokens (kept as SHA-256, alert.api.tokens) map to roles viewer <
 * analyst < admin; every mutation, allowed or denied, is an audit row in response_actions_audit
 * (initiated_by = the token's name, action = what, reason = why, ts = when). Admins upload
 * OpenAPI specs (the ingest route stage loads them: SpecRegistry) and list and revoke tokens
 * (a revoked token is refused with 401: tokens.ts). docs/api.md.
 */
export type ApiRole = 'viewer' | 'analyst' | 'admin';
const RANK: Record<ApiRole, number> = { viewer: 0, analyst: 1, admin: 2 };

/** What the API needs of the store: reads, audit rows, token revocations, delivery records. */
export interface ManagementStore {
  query<T = Record<string, unknown>>(sql: string, params?: Record<string, unknown>): Promise<T[]>;
  insertAudit(rows: readonly ResponseActionAudit[]): Promise<void>;
  insertTokenRevocations(rows: readonly TokenRevocation[]): Promise<void>;
  insertDeliveries(rows: readonly NotificationDeliveryRecord[]): Promise<void>;
}

/** An uploaded spec as listed. */
export interface SpecListing {
  name: string;
  title: string;
  version: string;
  openapi: string;
  operations: number;
  uploadedBy: string;
  uploadedAt: number;
  sha256: string;
  bytes: number;
}

/**
 * Where uploaded specs go and how the route stage hears of them: the ingest SpecCatalog
 * (ingest/src/routes/catalog.ts), built by the CLI over the store.
 */
export interface SpecRegistry {
  list(): Promise<SpecListing[]>;
  upload(u: {
    name: string;
    text: string;
    document: unknown;
    openapi: string;
    uploadedBy: string;
  }): Promise<
    | { ok: true; spec: SpecListing; replaced: boolean; unchanged: boolean }
    | { ok: false; status: 400 | 422 | 503; code: string; message: string }
  >;
}

/** Largest spec upload, bytes (Stripe's full spec is ~7 MB of JSON). */
export const MAX_SPEC_BYTES = 16 * 1024 * 1024;
const SPEC_MEDIA_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];

export interface ManagementOptions {
  tokens: ReadonlyArray<{ name: string; role: ApiRole; tokenSha256: string }>;
  router: AlertRouter | null;
  engine: ResponseEngine | null;
  store: ManagementStore | null;
  /** Uploaded OpenAPI specs (POST/GET /api/v1/specs); null: not served here (404 with a code). */
  specs?: SpecRegistry | null;
  /** The token list shared with the alert API's other handlers; default: one built from `tokens`. */
  apiTokens?: ApiTokens;
  /** The process's Prometheus registry (core metrics). */
  metrics: { render(): Promise<string> };
  log: Logger;
  /** Lets the caller share one listener with other handlers (the alert API's /decide). */
  serverFactory?: (handler: (req: IncomingMessage, res: ServerResponse) => void) => Server;
}

const ErrorBody = Type.Object(
  { error: Type.Object({ code: Type.String(), message: Type.String(), retryable: Type.Boolean() }) },
  { $id: 'Error' },
);
const Id = Type.Object({ id: Type.String({ minLength: 1, maxLength: 512 }) });
const Severity = Type.Union(['info', 'low', 'medium', 'high', 'critical'].map((s) => Type.Literal(s)));
const FindingsQuery = Type.Object(
  {
    detector: Type.Optional(
      Type.String({ maxLength: 128, description: 'Detector id, e.g. auth.brute_force.' }),
    ),
    family: Type.Optional(Type.String({ maxLength: 64 })),
    status: Type.Optional(Type.Union([Type.Literal('firing'), Type.Literal('resolved')])),
    severity: Type.Optional(Severity),
    entity: Type.Optional(
      Type.String({ maxLength: 512, description: 'Entity id, name or ref; or <kind>:<id|name>.' }),
    ),
    since: Type.Optional(
      Type.String({ description: 'ISO 8601 time or epoch milliseconds; default the last 7 days.' }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
    cursor: Type.Optional(Type.String({ maxLength: 1024, description: 'nextCursor of the previous page.' })),
  },
  { additionalProperties: false },
);
const AnyObject = Type.Object({}, { additionalProperties: true });
const FindingsPage = Type.Object({
  items: Type.Array(AnyObject),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});
const Why = Type.Object(
  { reason: Type.Optional(Type.String({ maxLength: 4000 })) },
  { additionalProperties: false },
);
const Comment = Type.Object(
  { text: Type.String({ minLength: 1, maxLength: 4000 }) },
  { additionalProperties: false },
);
const Lifecycle = Type.Object(
  {
    fingerprint: Type.String(),
    findingId: Type.Union([Type.String(), Type.Null()]),
    lifecycle: Type.Unknown(),
  },
  { additionalProperties: true },
);
const SilenceIn = Type.Object({
  matchers: Type.Array(Type.String({ maxLength: 512 }), { maxItems: 32 }),
  reason: Type.String({ maxLength: 4000 }),
  durationSeconds: Type.Number({ exclusiveMinimum: 0 }),
});
const InventoryQuery = Type.Object(
  {
    tenant: Type.Optional(Type.String({ maxLength: 128 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, default: 1000 })),
  },
  { additionalProperties: false },
);

const SpecQuery = Type.Object(
  {
    name: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$',
        description: "The spec's name (re-uploading a name replaces it); default: info.title, slugged.",
      }),
    ),
  },
  { additionalProperties: false },
);
const SpecSummary = Type.Object({
  name: Type.String(),
  title: Type.String(),
  version: Type.String(),
  openapi: Type.String(),
  operations: Type.Integer(),
  uploadedBy: Type.String(),
  uploadedAt: Type.Integer({ description: 'ms epoch' }),
  sha256: Type.String(),
  bytes: Type.Integer(),
});
const SpecUploaded = Type.Object({
  spec: SpecSummary,
  replaced: Type.Boolean({ description: 'An earlier document of this name was replaced.' }),
  unchanged: Type.Boolean({ description: 'The same bytes were already the current document.' }),
});
const TokenView = Type.Object({
  id: Type.String({ description: 'tok_ + the first 12 hex digits of the SHA-256.' }),
  name: Type.String(),
  role: Type.String(),
  revoked: Type.Boolean(),
  revokedAt: Type.Union([Type.Integer(), Type.Null()]),
  revokedBy: Type.Union([Type.String(), Type.Null()]),
  reason: Type.Union([Type.String(), Type.Null()]),
});
const TokenKey = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 128, description: 'Token id (tok_…) or its name.' }),
});

interface RouteDef {
  method: 'GET' | 'POST' | 'DELETE';
  url: string;
  role: ApiRole | null;
  summary: string;
  tag: string;
  params?: TSchema;
  querystring?: TSchema;
  body?: TSchema;
  /** The audit action, when the URL does not say it (default: tag + last path segment). */
  action?: string;
  /** A document body (JSON or YAML) read as text, up to maxBytes, instead of a `body` schema. */
  document?: { maxBytes: number; description: string };
  ok: { status: number; schema?: TSchema; text?: boolean };
  handler: (req: FastifyRequest, reply: FastifyReply, who: Who | null) => Promise<unknown>;
}
interface Who {
  name: string;
  role: ApiRole;
}

class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly retryable: boolean;
  constructor(status: number, code: string, message: string, retryable = false) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryable = retryable;
  }
}

/** Paths (method + path) this API answers; the alert API's remaining handlers take the rest. */
export function isManagementRoute(method: string, path: string): boolean {
  return MANAGED.some(([m, re]) => m === method && re.test(path));
}
const MANAGED: Array<[string, RegExp]> = [
  ['GET', /^\/(openapi\.json|healthz|readyz|metrics)$/],
  ['GET', /^\/api\/v1\/findings(\/[^/]+)?$/],
  ['POST', /^\/api\/v1\/findings\/[^/]+\/(acknowledge|resolve|comment)$/],
  ['GET', /^\/api\/v1\/(inventory|silences|actions)$/],
  ['POST', /^\/api\/v1\/silences$/],
  ['DELETE', /^\/api\/v1\/silences\/[^/]+$/],
  ['POST', /^\/api\/v1\/actions\/(?!breaker\/)[^/]+\/(approve|undo)$/],
  ['GET', /^\/api\/v1\/(specs|tokens)$/],
  ['POST', /^\/api\/v1\/specs$/],
  ['POST', /^\/api\/v1\/tokens\/[^/]+\/revoke$/],
];

const encodeCursor = (ms: number, id: string) => Buffer.from(JSON.stringify([ms, id])).toString('base64url');
function decodeCursor(c: string): [number, string] {
  try {
    const v = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && Number.isSafeInteger(v[0]) && typeof v[1] === 'string') return [v[0], v[1]];
  } catch {}
  throw new ApiError(400, 'ALERT_API_INVALID_CURSOR', 'cursor is not a nextCursor this API returned');
}
function parseSince(s: string | undefined): number {
  if (s === undefined) return Date.now() - 7 * 86_400_000;
  const ms = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
  if (!Number.isFinite(ms))
    throw new ApiError(400, 'ALERT_API_INVALID_SINCE', `since=${s} is neither an ISO 8601 time nor epoch ms`);
  return ms;
}

export async function buildManagementApi(o: ManagementOptions): Promise<FastifyInstance> {
  const ownTokens = o.apiTokens === undefined;
  const tokens = o.apiTokens ?? new ApiTokens(o.tokens, o.store, o.log);
  if (ownTokens) await tokens.start();
  const needSpecs = (): SpecRegistry => {
    if (!o.specs)
      throw new ApiError(
        503,
        'ALERT_API_NO_STORE',
        'this process has no store to keep uploaded specs in (specs are served where the store is)',
        true,
      );
    return o.specs;
  };
  const needStore = (): ManagementStore => {
    if (!o.store)
      throw new ApiError(503, 'ALERT_API_NO_STORE', 'this process has no store to read findings from', true);
    return o.store;
  };
  const audit = async (row: Partial<ResponseActionAudit> & { action: string; initiatedBy: string }) => {
    const full: ResponseActionAudit = {
      ts: Date.now(),
      actionId: randomUUID(),
      mode: 'manual',
      outcome: 'executed',
      targetKind: 'finding',
      targetRef: '',
      gateway: '',
      findingId: '',
      findingFingerprint: '',
      detector: '',
      reason: '',
      responseStatus: 200,
      details: {},
      ...row,
    };
    o.log.info(
      { action: full.action, outcome: full.outcome, by: full.initiatedBy, target: full.targetRef },
      'management API mutation audited.',
    );
    if (!o.store) return;
    try {
      await o.store.insertAudit([full]);
    } catch (e) {
      o.log.error({ err: e, action: full.action }, 'management API could not write an audit row.');
    }
  };
  /** A finding by id or fingerprint: the newest update of the newest episode. */
  const findFinding = async (key: string): Promise<Finding | null> => {
    const rows = await needStore().query<{ body: string }>(
      `SELECT body FROM findings FINAL WHERE id = {k:String} OR fingerprint = {k:String}
       ORDER BY detected_at DESC LIMIT 1`,
      { k: key },
    );
    return rows[0] ? (JSON.parse(rows[0].body) as Finding) : null;
  };
  const lifecycleChange = (op: 'acknowledge' | 'resolve'): RouteDef['handler'] => {
    return async (req, reply, who) => {
      const { id } = req.params as Static<typeof Id>;
      const reason = (req.body as Static<typeof Why> | undefined)?.reason ?? '';
      const f = o.store ? await findFinding(id) : null;
      const fingerprint = f?.fingerprint ?? id;
      const done = o.router
        ? op === 'acknowledge'
          ? await o.router.acknowledge(fingerprint, who!.name)
          : await o.router.resolve(fingerprint, who!.name)
        : false;
      if (!f && !done)
        throw new ApiError(404, 'ALERT_FINDING_NOT_FOUND', `no finding with id or fingerprint ${id}`);
      await audit({
        action: `finding.${op}`,
        initiatedBy: who!.name,
        targetRef: f?.id ?? fingerprint,
        findingId: f?.id ?? '',
        findingFingerprint: fingerprint,
        detector: f?.detector ?? '',
        reason,
        details: { role: who!.role, routerOpen: done },
      });
      reply.code(200);
      return {
        fingerprint,
        findingId: f?.id ?? null,
        lifecycle: o.router ? await o.router.lifecycle(fingerprint) : null,
      };
    };
  };

  const routes: RouteDef[] = [
    {
      method: 'GET',
      url: '/healthz',
      role: null,
      summary: 'Liveness: the process answers.',
      tag: 'health',
      ok: { status: 200, schema: Type.Object({ ok: Type.Boolean() }) },
      handler: async () => ({ ok: true }),
    },
    {
      method: 'GET',
      url: '/readyz',
      role: null,
      summary: 'Readiness: the store answers a query (503 when it does not).',
      tag: 'health',
      ok: { status: 200, schema: Type.Object({ ok: Type.Boolean(), store: Type.String() }) },
      handler: async (_req, reply) => {
        if (!o.store) return { ok: true, store: 'none' };
        try {
          await o.store.query('SELECT 1 AS one');
          return { ok: true, store: 'ok' };
        } catch (e) {
          reply.code(503);
          return { ok: false, store: (e as Error).message };
        }
      },
    },
    {
      method: 'GET',
      url: '/metrics',
      role: null,
      summary: 'Prometheus metrics of this process (text exposition format 0.0.4).',
      tag: 'health',
      ok: { status: 200, text: true },
      handler: async (_req, reply) => {
        reply.type('text/plain; version=0.0.4');
        return o.metrics.render();
      },
    },
    {
      method: 'GET',
      url: '/api/v1/findings',
      role: 'viewer',
      summary: 'Findings, newest first, filtered; follow nextCursor for the next page.',
      tag: 'findings',
      querystring: FindingsQuery,
      ok: { status: 200, schema: FindingsPage },
      handler: async (req) => {
        const q = req.query as Static<typeof FindingsQuery>;
        const where = ['detected_at >= fromUnixTimestamp64Milli({since:Int64})'];
        const params: Record<string, unknown> = { since: parseSince(q.since), limit: (q.limit ?? 100) + 1 };
        for (const k of ['detector', 'family', 'status', 'severity'] as const) {
          if (q[k] !== undefined) {
            where.push(`${k} = {${k}:String}`);
            params[k] = q[k];
          }
        }
        if (q.entity !== undefined) {
          const m = /^(credential|user|service|ip|endpoint|tenant):(.+)$/.exec(q.entity);
          if (m) {
            where.push(
              'entity_kind = {ek:String} AND (entity_id = {eid:String} OR entity_name = {eid:String})',
            );
            params.ek = m[1];
            params.eid = m[2];
          } else {
            where.push(
              '(entity_id = {eid:String} OR entity_name = {eid:String} OR entity_ref = {eid:String})',
            );
            params.eid = q.entity;
          }
        }
        if (q.cursor !== undefined) {
          const [ms, id] = decodeCursor(q.cursor);
          where.push(
            '(toUnixTimestamp64Milli(detected_at) < {cms:Int64} OR (toUnixTimestamp64Milli(detected_at) = {cms:Int64} AND id < {cid:String}))',
          );
          params.cms = ms;
          params.cid = id;
        }
        const rows = await needStore().query<{ id: string; ms: string; body: string }>(
          `SELECT id, toUnixTimestamp64Milli(detected_at) AS ms, body FROM findings FINAL
           WHERE ${where.join(' AND ')} ORDER BY detected_at DESC, id DESC LIMIT {limit:UInt32}`,
          params,
        );
        const limit = q.limit ?? 100;
        const page = rows.slice(0, limit);
        const last = page.at(-1);
        return {
          items: page.map((r) => JSON.parse(r.body) as unknown),
          nextCursor: rows.length > limit && last ? encodeCursor(Number(last.ms), last.id) : null,
        };
      },
    },
    {
      method: 'GET',
      url: '/api/v1/findings/:id',
      role: 'viewer',
      summary: 'One finding by id (or fingerprint: its newest episode).',
      tag: 'findings',
      params: Id,
      ok: { status: 200, schema: AnyObject },
      handler: async (req) => {
        const { id } = req.params as Static<typeof Id>;
        const f = await findFinding(id);
        if (!f) throw new ApiError(404, 'ALERT_FINDING_NOT_FOUND', `no finding with id or fingerprint ${id}`);
        return f;
      },
    },
    {
      method: 'POST',
      url: '/api/v1/findings/:id/acknowledge',
      role: 'analyst',
      summary: 'Acknowledge a finding (stops re-notification of its group); audited.',
      tag: 'findings',
      params: Id,
      body: Why,
      ok: { status: 200, schema: Lifecycle },
      handler: lifecycleChange('acknowledge'),
    },
    {
      method: 'POST',
      url: '/api/v1/findings/:id/resolve',
      role: 'analyst',
      summary: 'Resolve a finding by hand; audited.',
      tag: 'findings',
      params: Id,
      body: Why,
      ok: { status: 200, schema: Lifecycle },
      handler: lifecycleChange('resolve'),
    },
    {
      method: 'POST',
      url: '/api/v1/findings/:id/comment',
      role: 'analyst',
      summary: 'Comment on a finding; the comment is an audit row (action finding.comment).',
      tag: 'findings',
      params: Id,
      body: Comment,
      ok: { status: 201, schema: Type.Object({ findingId: Type.String(), commentId: Type.String() }) },
      handler: async (req, reply, who) => {
        const { id } = req.params as Static<typeof Id>;
        const f = await findFinding(id);
        if (!f) throw new ApiError(404, 'ALERT_FINDING_NOT_FOUND', `no finding with id or fingerprint ${id}`);
        const commentId = randomUUID();
        await audit({
          actionId: commentId,
          action: 'finding.comment',
          initiatedBy: who!.name,
          targetRef: f.id,
          findingId: f.id,
          findingFingerprint: f.fingerprint,
          detector: f.detector,
          reason: (req.body as Static<typeof Comment>).text,
          responseStatus: 201,
          details: { role: who!.role },
        });
        reply.code(201);
        return { findingId: f.id, commentId };
      },
    },
    {
      method: 'GET',
      url: '/api/v1/inventory',
      role: 'viewer',
      summary: 'Endpoints seen in traffic (endpoint_inventory), most requested first.',
      tag: 'inventory',
      querystring: InventoryQuery,
      ok: { status: 200, schema: Type.Array(AnyObject) },
      handler: async (req) => {
        const q = req.query as Static<typeof InventoryQuery>;
        return needStore().query(
          `SELECT tenant, host, method, route, toUnixTimestamp64Milli(min(first_seen)) AS firstSeenMs,
                  toUnixTimestamp64Milli(max(last_seen)) AS lastSeenMs, sum(requests) AS requests,
                  sum(errors) AS errors, sum(auth_failures) AS authFailures, any(sample_path) AS samplePath,
                  argMaxMerge(spec_status) AS specStatus
           FROM endpoint_inventory ${q.tenant !== undefined ? 'WHERE tenant = {tenant:String}' : ''}
           GROUP BY tenant, host, method, route ORDER BY requests DESC, route LIMIT {limit:UInt32}`,
          { tenant: q.tenant ?? '', limit: q.limit ?? 1000 },
        );
      },
    },
    {
      method: 'GET',
      url: '/api/v1/silences',
      role: 'viewer',
      summary: 'Silences (active and expired).',
      tag: 'silences',
      ok: { status: 200, schema: Type.Array(AnyObject) },
      handler: async () => (o.router ? await o.router.silences.list() : []),
    },
    {
      method: 'POST',
      url: '/api/v1/silences',
      role: 'analyst',
      summary: 'Create a silence (author = the token name); audited.',
      tag: 'silences',
      body: SilenceIn,
      ok: { status: 201, schema: AnyObject },
      handler: async (req, reply, who) => {
        if (!o.router) throw new ApiError(404, 'ALERT_API_NO_ROUTER', 'no alert router in this process');
        const b = req.body as Static<typeof SilenceIn>;
        const r = await o.router.silences.create({ ...b, author: who!.name });
        if (!r.ok) throw new ApiError(400, r.error.code, r.error.message);
        await audit({
          action: 'silence.create',
          initiatedBy: who!.name,
          targetKind: 'silence',
          targetRef: r.value.id,
          reason: b.reason,
          responseStatus: 201,
          details: { matchers: b.matchers, durationSeconds: b.durationSeconds },
        });
        reply.code(201);
        return r.value;
      },
    },
    {
      method: 'DELETE',
      url: '/api/v1/silences/:id',
      role: 'analyst',
      summary: 'Expire a silence; audited.',
      tag: 'silences',
      params: Id,
      ok: { status: 200, schema: AnyObject },
      handler: async (req, _reply, who) => {
        if (!o.router) throw new ApiError(404, 'ALERT_API_NO_ROUTER', 'no alert router in this process');
        const { id } = req.params as Static<typeof Id>;
        const r = await o.router.silences.expire(id, who!.name);
        if (!r.ok) throw new ApiError(404, r.error.code, r.error.message);
        await audit({
          action: 'silence.expire',
          initiatedBy: who!.name,
          targetKind: 'silence',
          targetRef: id,
        });
        return r.value;
      },
    },
    {
      method: 'GET',
      url: '/api/v1/actions',
      role: 'viewer',
      summary: 'Response actions (revocations) and their state.',
      tag: 'actions',
      ok: { status: 200, schema: Type.Array(AnyObject) },
      handler: async () => (await o.engine?.list()) ?? [],
    },
    ...(['approve', 'undo'] as const).map(
      (op): RouteDef => ({
        method: 'POST',
        url: `/api/v1/actions/:id/${op}`,
        role: 'analyst',
        summary:
          op === 'approve'
            ? 'Approve a pending response action (the engine queues it); audited by the engine.'
            : 'Undo an executed response action (the engine restores it); audited by the engine.',
        tag: 'actions',
        params: Id,
        ok: { status: 202, schema: AnyObject },
        handler: async (req, reply, who) => {
          if (!o.engine)
            throw new ApiError(404, 'ALERT_ACTIONS_DISABLED', 'no response actions are configured');
          const { id } = req.params as Static<typeof Id>;
          const r =
            op === 'approve' ? await o.engine.approve(id, who!.name) : await o.engine.undo(id, who!.name);
          if (!r) throw new ApiError(404, 'ALERT_ACTION_NOT_FOUND', `no action ${id}`);
          const wanted = op === 'approve' ? 'queued' : 'restoring';
          if (r.status !== wanted)
            throw new ApiError(409, 'ALERT_ACTION_STATE', `action ${id} is ${r.status}: ${r.reason}`);
          reply.code(202);
          return r;
        },
      }),
    ),
    {
      method: 'GET',
      url: '/api/v1/specs',
      role: 'viewer',
      summary: 'Uploaded OpenAPI specs the route stage uses (beside ingest.specs), by name.',
      tag: 'specs',
      ok: { status: 200, schema: Type.Array(SpecSummary) },
      handler: async () => needSpecs().list(),
    },
    {
      method: 'POST',
      url: '/api/v1/specs',
      role: 'admin',
      summary:
        'Upload an OpenAPI 3.0/3.1 document (JSON or YAML): validated against the official schema, stored, and loaded by the ingest route stage (route templates, spec conformance); audited.',
      tag: 'specs',
      action: 'spec.upload',
      querystring: SpecQuery,
      document: {
        maxBytes: MAX_SPEC_BYTES,
        description: 'The OpenAPI document, as application/json or application/yaml.',
      },
      ok: { status: 201, schema: SpecUploaded },
      handler: async (req, reply, who) => {
        const registry = needSpecs();
        const text = (req as FastifyRequest & { documentText?: string }).documentText ?? '';
        const document = req.body;
        const q = req.query as Static<typeof SpecQuery>;
        const refuse = async (status: number, code: string, message: string, name: string) => {
          await audit({
            action: 'spec.upload',
            outcome: 'failed',
            initiatedBy: who!.name,
            targetKind: 'spec',
            targetRef: name,
            reason: message,
            responseStatus: status,
            details: { code, bytes: Buffer.byteLength(text), role: who!.role },
          });
          throw new ApiError(status, code, message);
        };
        if (text.trim() === '' || document == null)
          return refuse(
            400,
            'ALERT_SPEC_EMPTY',
            'the request body is empty: send the OpenAPI document',
            q.name ?? '',
          );
        const check = checkOpenApiDocument(document);
        if (!check.ok)
          return refuse(
            check.code === 'ALERT_SPEC_INVALID' ? 422 : 400,
            check.code,
            check.message,
            q.name ?? '',
          );
        const name = q.name ?? slug((document as { info?: { title?: unknown } }).info?.title);
        if (!name)
          return refuse(
            400,
            'ALERT_SPEC_NAME_REQUIRED',
            'info.title gives no name (letters or digits): pass ?name=<name>',
            '',
          );
        const r = await registry.upload({
          name,
          text,
          document,
          openapi: check.openapi,
          uploadedBy: who!.name,
        });
        if (!r.ok) return refuse(r.status, r.code, r.message, name);
        await audit({
          action: 'spec.upload',
          initiatedBy: who!.name,
          targetKind: 'spec',
          targetRef: name,
          reason: `${r.spec.title}@${r.spec.version}`,
          responseStatus: 201,
          details: {
            sha256: r.spec.sha256,
            operations: r.spec.operations,
            bytes: r.spec.bytes,
            openapi: r.spec.openapi,
            replaced: r.replaced,
            unchanged: r.unchanged,
            role: who!.role,
          },
        });
        reply.code(201);
        return { spec: r.spec, replaced: r.replaced, unchanged: r.unchanged };
      },
    },
    {
      method: 'GET',
      url: '/api/v1/tokens',
      role: 'admin',
      summary:
        'The API tokens (alert.api.tokens): id, name, role, and whether and by whom revoked. Never the token.',
      tag: 'tokens',
      ok: { status: 200, schema: Type.Array(TokenView) },
      handler: async () => tokens.list(),
    },
    {
      method: 'POST',
      url: '/api/v1/tokens/:id/revoke',
      role: 'admin',
      summary:
        'Revoke a token by id (tok_…) or name: refused (401) from then on, in every process serving the API; audited.',
      tag: 'tokens',
      params: TokenKey,
      body: Why,
      ok: { status: 200, schema: TokenView },
      handler: async (req, _reply, who) => {
        const { id } = req.params as Static<typeof TokenKey>;
        const reason = (req.body as Static<typeof Why> | undefined)?.reason ?? '';
        const r = await tokens.revoke(id, who!.name, reason);
        await audit({
          action: 'token.revoke',
          outcome: r.ok ? 'executed' : 'failed',
          initiatedBy: who!.name,
          targetKind: 'token',
          targetRef: r.ok ? r.token.id : id,
          reason: r.ok ? reason : r.message,
          responseStatus: r.ok ? 200 : r.status,
          details: r.ok ? { name: r.token.name, role: r.token.role } : { code: r.code },
        });
        if (!r.ok) throw new ApiError(r.status, r.code, r.message, r.status === 503);
        return r.token;
      },
    },
  ];

  const app = Fastify({
    logger: false,
    bodyLimit: 1_000_000,
    ...(o.serverFactory ? { serverFactory: o.serverFactory } : {}),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: true } },
  });
  app.addSchema(ErrorBody);
  const fail = (reply: FastifyReply, status: number, code: string, message: string, retryable = false) =>
    reply.code(status).type('application/json').send({ error: { code, message, retryable } });

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof ApiError) return fail(reply, err.status, err.code, err.message, err.retryable);
    const e = err as Error & {
      validation?: unknown;
      validationContext?: string;
      statusCode?: number;
      code?: string;
    };
    if (e.validation)
      return fail(
        reply,
        400,
        'ALERT_API_INVALID_REQUEST',
        `${e.validationContext ?? 'request'}: ${e.message}`,
      );
    const documentRoute = routes.find(
      (r) => r.document && r.url === req.routeOptions.url && r.method === req.method,
    );
    if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
      return fail(
        reply,
        415,
        'ALERT_API_UNSUPPORTED_MEDIA_TYPE',
        documentRoute
          ? `send the document as application/json or ${SPEC_MEDIA_TYPES[0]}`
          : 'send the body as application/json',
      );
    if (documentRoute && (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || e.statusCode === 413))
      return fail(
        reply,
        413,
        'ALERT_SPEC_TOO_LARGE',
        `the document is larger than ${documentRoute.document!.maxBytes} bytes`,
      );
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500)
      return fail(
        reply,
        e.statusCode,
        e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || /JSON/i.test(e.message)
          ? 'ALERT_API_INVALID_JSON'
          : 'ALERT_API_BAD_REQUEST',
        e.message,
      );
    o.log.error({ err, path: req.url }, 'management API request failed.');
    return fail(reply, 503, 'ALERT_API_UNAVAILABLE', `the request could not be served: ${e.message}`, true);
  });
  app.setNotFoundHandler((req, reply) =>
    fail(reply, 404, 'ALERT_API_NOT_FOUND', `${req.method} ${req.url.split('?')[0]} is not an API route`),
  );
  // An empty POST with a JSON content type is a body of nothing, not an error. Document routes
  // (spec upload) keep the text as sent: it is what is stored and checksummed.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const s = String(body);
    (req as FastifyRequest & { documentText?: string }).documentText = s;
    if (s.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(s));
    } catch {
      done(Object.assign(new Error('the request body is not JSON'), { statusCode: 400 }), undefined);
    }
  });
  // Bodies are JSON (or a YAML document): Fastify's default text/plain parser would hand a
  // handler a bare string.
  app.removeContentTypeParser('text/plain');
  // YAML only where a document is expected; elsewhere it is an unsupported media type.
  app.addContentTypeParser(SPEC_MEDIA_TYPES, { parseAs: 'string' }, (req, body, done) => {
    const route = routes.find((r) => r.document && r.url === req.routeOptions.url);
    if (!route)
      return done(
        Object.assign(new Error('unsupported media type'), { code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' }),
        undefined,
      );
    const s = String(body);
    (req as FastifyRequest & { documentText?: string }).documentText = s;
    if (s.trim() === '') return done(null, undefined);
    try {
      // Aliases bounded: a "billion laughs" document is refused, not expanded.
      done(null, parseYaml(s, { maxAliasCount: 1000 }));
    } catch (e) {
      done(
        new ApiError(400, 'ALERT_SPEC_UNPARSABLE', `the document is not valid YAML: ${(e as Error).message}`),
        undefined,
      );
    }
  });

  for (const r of routes) {
    const schema: Record<string, unknown> = {};
    if (r.params) schema.params = r.params;
    if (r.querystring) schema.querystring = r.querystring;
    if (r.body) schema.body = r.body;
    app.route({
      ...(r.document ? { bodyLimit: r.document.maxBytes } : {}),
      // No body is an empty one: the schema then says what is missing.
      preValidation: async (req) => {
        if (r.body && req.body == null) req.body = {};
      },
      method: r.method,
      url: r.url,
      schema,
      // Authenticated before the body is validated: a viewer learns 403, not the body's shape.
      onRequest: async (req, reply) => {
        if (!r.role) return;
        const auth = tokens.authenticate(req.headers.authorization);
        const who: Who | null = auth.ok ? { name: auth.name, role: auth.role } : null;
        const mutation = r.method !== 'GET';
        const denied = async (status: number, code: string, message: string) => {
          if (mutation)
            await audit({
              action: auditAction(r),
              outcome: 'denied',
              initiatedBy: who?.name ?? (!auth.ok && auth.reason === 'revoked' ? auth.name : 'anonymous'),
              targetKind: r.tag === 'findings' ? 'finding' : r.tag,
              targetRef: (req.params as { id?: string }).id ?? '',
              reason: message,
              responseStatus: status,
              details: { method: r.method, route: r.url, role: who?.role ?? null },
            });
          return fail(reply, status, code, message);
        };
        if (!auth.ok && auth.reason === 'unverified')
          return fail(
            reply,
            503,
            'ALERT_API_UNAVAILABLE',
            'token revocations could not be read from the store yet; retry shortly',
            true,
          );
        if (!auth.ok && auth.reason === 'revoked')
          return denied(
            401,
            'ALERT_API_TOKEN_REVOKED',
            `token ${auth.id} (${auth.name}) was revoked; use another token`,
          );
        if (!who)
          return denied(
            401,
            'ALERT_API_UNAUTHENTICATED',
            tokens.size === 0
              ? 'no API tokens are configured (alert.api.tokens)'
              : 'send Authorization: Bearer <token>',
          );
        if (RANK[who.role] < RANK[r.role])
          return denied(
            403,
            'ALERT_API_FORBIDDEN',
            `${r.role} role required, token ${who.name} is ${who.role}`,
          );
        (req as FastifyRequest & { who?: Who }).who = who;
      },
      handler: async (req, reply) =>
        r.handler(req, reply, (req as FastifyRequest & { who?: Who }).who ?? null),
    });
  }

  const document = openApiDocument(routes);
  app.get('/openapi.json', async () => document);
  if (ownTokens) app.addHook('onClose', async () => tokens.close());
  return app;
}

/** A spec name from info.title: `Pet Store API` → `pet-store-api`; '' when nothing is left. */
function slug(title: unknown): string {
  if (typeof title !== 'string') return '';
  return title
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+|-+$/g, '')
    .slice(0, 64)
    .replace(/-+$/, '');
}

/** finding.acknowledge, silence.create, silence.expire, action.approve, spec.upload … */
function auditAction(r: RouteDef): string {
  if (r.action) return r.action;
  const last = r.url.split('/').at(-1) ?? '';
  const verb = last.startsWith(':') || last === r.tag ? (r.method === 'DELETE' ? 'expire' : 'create') : last;
  return `${r.tag.replace(/s$/, '')}.${verb}`;
}

/** The OpenAPI 3.1 document, from the routes' own TypeBox schemas (JSON Schema 2020-12 compatible). */
function openApiDocument(routes: readonly RouteDef[]): Record<string, unknown> {
  const json = (s: TSchema): unknown => JSON.parse(JSON.stringify(s));
  const err = {
    description: 'Error',
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  };
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.url.replace(/:([A-Za-z_]+)/g, '{$1}');
    const parameters: unknown[] = [];
    for (const [where, s] of [
      ['path', r.params],
      ['query', r.querystring],
    ] as const) {
      if (!s) continue;
      const props = (s as unknown as { properties: Record<string, TSchema> }).properties;
      const required = new Set((s as { required?: string[] }).required ?? []);
      for (const [name, p] of Object.entries(props))
        parameters.push({
          name,
          in: where,
          required: where === 'path' || required.has(name),
          ...(p.description ? { description: p.description } : {}),
          schema: json(p),
        });
    }
    const responses: Record<string, unknown> = {
      [String(r.ok.status)]: r.ok.text
        ? { description: 'OK', content: { 'text/plain': { schema: { type: 'string' } } } }
        : {
            description: 'OK',
            content: { 'application/json': { schema: r.ok.schema ? json(r.ok.schema) : {} } },
          },
    };
    if (r.role) Object.assign(responses, { '400': err, '401': err, '403': err, '404': err });
    if (r.document) Object.assign(responses, { '409': err, '413': err, '415': err, '422': err, '503': err });
    if (r.tag === 'tokens' && r.method === 'POST') Object.assign(responses, { '409': err, '503': err });
    const op: Record<string, unknown> = {
      operationId: `${r.method.toLowerCase()}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      summary: r.summary,
      tags: [r.tag],
      ...(parameters.length ? { parameters } : {}),
      ...(r.document
        ? {
            requestBody: {
              required: true,
              description: r.document.description,
              content: Object.fromEntries(
                ['application/json', ...SPEC_MEDIA_TYPES].map((t) => [t, { schema: { type: 'object' } }]),
              ),
            },
          }
        : {}),
      ...(r.body
        ? {
            requestBody: {
              required: r.tag !== 'findings' || r.url.endsWith('/comment'),
              content: { 'application/json': { schema: json(r.body) } },
            },
          }
        : {}),
      responses,
      security: r.role ? [{ bearer: [] }] : [],
      ...(r.role ? { 'x-apiwatch-role': r.role } : {}),
    };
    paths[path] = { ...(paths[path] ?? {}), [r.method.toLowerCase()]: op };
  }
  paths['/openapi.json'] = {
    get: {
      operationId: 'getOpenapiJson',
      summary: 'This document.',
      tags: ['health'],
      security: [],
      responses: {
        '200': { description: 'OK', content: { 'application/json': { schema: { type: 'object' } } } },
      },
    },
  };
  const { $id: _id, ...errSchema } = json(ErrorBody) as Record<string, unknown>;
  return {
    openapi: '3.1.0',
    info: {
      title: 'apiwatch management API',
      version: '1',
      description:
        'Findings, inventory, silences, response actions, OpenAPI specs, API tokens, health and metrics. docs/api.md.',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    paths,
    components: {
      schemas: { Error: errSchema },
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'alert.api.tokens (SHA-256 kept)' },
      },
    },
  };
}
