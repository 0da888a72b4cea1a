import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@apiwatch/core';
import { metrics } from '@apiwatch/core';
import type { createDecider } from '../actions/decision.ts';
import type { ResponseEngine } from '../actions/engine.ts';
import type { Delivery } from '../queue/delivery.ts';
import type { AlertRouter } from '../router/router.ts';
import {
  buildManagementApi,
  isManagementRoute,
  type ManagementStore,
  type SpecRegistry,
} from './management.ts';
import { ApiTokens } from './tokens.ts';

/**
 * The alert API: silences, the finding lifecycle (acknowledge, resolve), response actions
 * (approve, undo, breaker reset), dead letters (list, replay), and the gateway decision endpoint
 * under /decide. Bearer tokens map to roles (viewer < analyst < admin); the token's name is the
 * author of what it does (silences, approvals, undos). /decide and /healthz need no token: bind
 * the API where only gateways and operators reach it.
 */
export type ApiRole = 'viewer' | 'analyst' | 'admin';
const RANK: Record<ApiRole, number> = { viewer: 0, analyst: 1, admin: 2 };

export interface AlertApiOptions {
  host: string;
  port: number;
  tokens: ReadonlyArray<{ name: string; role: ApiRole; tokenSha256: string }>;
  router: AlertRouter;
  delivery: Delivery;
  engine: ResponseEngine | null;
  decider: ReturnType<typeof createDecider> | null;
  log: Logger;
  /** The store the management API reads findings and inventory from and audits into; null: none. */
  store?: ManagementStore | null;
  /** Uploaded OpenAPI specs (the ingest SpecCatalog); null: /api/v1/specs answers 503. */
  specs?: SpecRegistry | null;
  /** How often revocations made by other processes are re-read, ms. Default 10 000. */
  tokenRefreshMs?: number;
}

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  body: unknown;
  who: { name: string; role: ApiRole } | null;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
function fail(res: ServerResponse, status: number, code: string, message: string): void {
  send(res, status, { error: { code, message } });
}

export async function startAlertApi(
  o: AlertApiOptions,
): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  // One token list for both sets of handlers: a revoked token is refused by all of them.
  const tokens = new ApiTokens(o.tokens, o.store ?? null, o.log);
  await tokens.start(o.tokenRefreshMs ?? 10_000);

  type Handler = (c: Ctx, params: string[]) => Promise<void>;
  const routes: Array<[string, RegExp, ApiRole, Handler]> = [
    ['GET', /^\/api\/v1\/silences$/, 'viewer', async (c) => send(c.res, 200, await o.router.silences.list())],
    [
      'POST',
      /^\/api\/v1\/silences$/,
      'analyst',
      async (c) => {
        const b = (c.body ?? {}) as { matchers?: unknown; reason?: unknown; durationSeconds?: unknown };
        const r = await o.router.silences.create({
          matchers: Array.isArray(b.matchers) ? b.matchers.map(String) : [],
          reason: typeof b.reason === 'string' ? b.reason : '',
          durationSeconds: Number(b.durationSeconds),
          author: c.who!.name,
        });
        r.ok ? send(c.res, 201, r.value) : fail(c.res, 400, r.error.code, r.error.message);
      },
    ],
    [
      'DELETE',
      /^\/api\/v1\/silences\/([^/]+)$/,
      'analyst',
      async (c, [id]) => {
        const r = await o.router.silences.expire(id!, c.who!.name);
        r.ok ? send(c.res, 200, r.value) : fail(c.res, 404, r.error.code, r.error.message);
      },
    ],
    ['GET', /^\/api\/v1\/groups$/, 'viewer', async (c) => send(c.res, 200, await o.router.groups())],
    [
      'POST',
      /^\/api\/v1\/findings\/([^/]+)\/(ack|resolve)$/,
      'analyst',
      async (c, [fp, op]) => {
        const fingerprint = decodeURIComponent(fp!);
        const done =
          op === 'ack'
            ? await o.router.acknowledge(fingerprint, c.who!.name)
            : await o.router.resolve(fingerprint, c.who!.name);
        done
          ? send(c.res, 200, { fingerprint, lifecycle: await o.router.lifecycle(fingerprint) })
          : fail(c.res, 404, 'ALERT_FINDING_NOT_FOUND', `no open finding with fingerprint ${fingerprint}`);
      },
    ],
    ['GET', /^\/api\/v1\/actions$/, 'viewer', async (c) => send(c.res, 200, (await o.engine?.list()) ?? [])],
    [
      'POST',
      /^\/api\/v1\/actions\/breaker\/reset$/,
      'admin',
      async (c) => {
        await o.engine?.resetBreaker(c.who!.name);
        send(c.res, 200, { reset: true });
      },
    ],
    [
      'POST',
      /^\/api\/v1\/actions\/([^/]+)\/(approve|undo)$/,
      'analyst',
      async (c, [id, op]) => {
        if (!o.engine)
          return fail(c.res, 404, 'ALERT_ACTIONS_DISABLED', 'no response actions are configured');
        const r =
          op === 'approve' ? await o.engine.approve(id!, c.who!.name) : await o.engine.undo(id!, c.who!.name);
        if (!r) return fail(c.res, 404, 'ALERT_ACTION_NOT_FOUND', `no action ${id}`);
        const wanted = op === 'approve' ? 'queued' : 'restoring';
        r.status === wanted
          ? send(c.res, 202, r)
          : fail(c.res, 409, 'ALERT_ACTION_STATE', `action ${id} is ${r.status}: ${r.reason}`);
      },
    ],
    [
      'GET',
      /^\/api\/v1\/deliveries\/dead$/,
      'viewer',
      async (c) => send(c.res, 200, await o.delivery.deadLetters(500)),
    ],
    [
      'POST',
      /^\/api\/v1\/deliveries\/dead\/([^/]+)\/replay$/,
      'analyst',
      async (c, [id]) => {
        (await o.delivery.replay(decodeURIComponent(id!)))
          ? send(c.res, 202, { replayed: id })
          : fail(c.res, 404, 'ALERT_DEAD_LETTER_NOT_FOUND', `no dead letter ${id}`);
      },
    ],
  ];

  const legacy = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/decide' || path.startsWith('/decide/')) {
      if (!o.decider) return send(res, 200, { allow: true, reason: 'no response actions configured' });
      void o.decider.decide(req.headers).then((d) => {
        res.writeHead(d.allow ? 200 : 403, {
          'content-type': 'text/plain',
          'x-apiwatch-decision': d.allow ? 'allow' : 'deny',
        });
        res.end(d.allow ? '' : 'credential revoked\n');
      });
      return;
    }
    let raw = '';
    req.on('data', (c) => {
      raw += c;
      if (raw.length > 1_000_000) req.destroy();
    });
    req.on('end', () => {
      const route = routes.find(([m, re]) => m === req.method && re.test(path));
      if (!route)
        return fail(res, 404, 'ALERT_API_NOT_FOUND', `${req.method} ${path} is not an alert API route`);
      const auth = tokens.authenticate(req.headers.authorization);
      if (!auth.ok && auth.reason === 'unverified')
        return fail(
          res,
          503,
          'ALERT_API_UNAVAILABLE',
          'token revocations could not be read from the store yet',
        );
      if (!auth.ok && auth.reason === 'revoked')
        return fail(res, 401, 'ALERT_API_TOKEN_REVOKED', `token ${auth.id} (${auth.name}) was revoked`);
      const who = auth.ok ? { name: auth.name, role: auth.role } : null;
      if (!who) {
        return fail(
          res,
          401,
          'ALERT_API_UNAUTHENTICATED',
          tokens.size === 0
            ? 'no API tokens are configured (alert.api.tokens)'
            : 'send Authorization: Bearer <token>',
        );
      }
      if (RANK[who.role] < RANK[route[2]])
        return fail(
          res,
          403,
          'ALERT_API_FORBIDDEN',
          `${route[2]} role required, token ${who.name} is ${who.role}`,
        );
      let body: unknown = null;
      try {
        body = raw ? JSON.parse(raw) : null;
      } catch {
        return fail(res, 400, 'ALERT_API_INVALID_JSON', 'the request body is not JSON');
      }
      const params = route[1].exec(path)!.slice(1);
      route[3]({ req, res, body, who }, params).catch((e) => {
        o.log.error({ err: e, path }, 'alert API request failed.');
        fail(res, 500, 'ALERT_API_INTERNAL', (e as Error).message);
      });
    });
  };
  // One listener: the management API (Fastify, management.ts) answers its routes, the handlers
  // above the rest (/decide, groups, dead letters, breaker reset, the older /ack path).
  const app = await buildManagementApi({
    tokens: o.tokens,
    router: o.router,
    engine: o.engine,
    store: o.store ?? null,
    specs: o.specs ?? null,
    apiTokens: tokens,
    metrics,
    log: o.log,
    serverFactory: (handler) =>
      createServer((req, res) =>
        isManagementRoute(req.method ?? 'GET', (req.url ?? '/').split('?')[0]!)
          ? handler(req, res)
          : legacy(req, res),
      ),
  });
  await app.listen({ host: o.host, port: o.port });
  const server = app.server as Server;
  const url = `http://${o.host}:${(server.address() as AddressInfo).port}`;
  o.log.info({ url }, 'alert API listening (silences, acknowledgements, actions, dead letters, /decide).');
  return {
    url,
    server,
    close: async () => {
      tokens.close();
      await app.close();
    },
  };
}
