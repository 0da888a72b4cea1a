import type { Rng } from '../random.ts';
import { type Call, DAY, Emitter, HOUR, localActivity, MINUTE, weekday } from './emitter.ts';
import {
  CARRIERS,
  cloudAddress,
  HOSTS,
  type Partner,
  type Population,
  type Tenant,
  type User,
} from './population.ts';
import type { WireAuth } from './request.ts';
import { machineToken, userToken } from './tokens.ts';

/**
 * Benign traffic over the whole corpus: users in sessions (log in, then browse their own objects
 * and their team's, page through lists, search, download, now and then mistype a path or a
 * password), partners on API keys, services and batch jobs on machine tokens. It carries the
 * hard negatives every detector must live with (docs/eval.md): an office of hundreds of users
 * behind one NAT address with their typos, phones behind carrier NAT, nightly batch jobs reading
 * every invoice in sequence, a steady indexer and a nightly backup moving a lot of bytes, a fleet
 * replaying a revoked key, support staff working in every tenant, Monday surges, and a release
 * in the last week that adds a route.
 */

export interface BenignOptions {
  start: number;
  days: number;
  /** When the 1.4 release (GET /v1/tenants/{tenantId}/dashboards) starts getting traffic. */
  releaseAt: number;
  scale: number;
}

const DEMO_ISS = 'https://idp.demo.example/';
const DEMO = HOSTS.demo;
const CRAPI = HOSTS.crapi;
const VAMPI = HOSTS.vampi;
const PETSTORE = HOSTS.petstore;
const B2B = HOSTS.b2b;

const SEARCH_WORDS = [
  'invoice',
  'contract',
  'q3 report',
  'roadmap',
  'budget',
  'onboarding',
  'nda',
  'design',
  'minutes',
  'offer',
  'audit',
  'policy',
];
const TYPO_PATHS = [
  '/v1/documnets',
  '/v1/project',
  '/v1/serach',
  '/v1/invoice',
  '/v1/tenant',
  '/v1/orders/',
  '/v1/me/',
  '/v2/documents',
  '/v1/doc',
  '/favicon.ico',
];

function sessionAddress(rng: Rng, u: User, ts: number): string {
  if (u.carrier !== null && rng.chance(0.75)) {
    const c = CARRIERS[u.carrier]!;
    return `${c.prefix}.${10 + rng.int(0, c.size - 1)}`;
  }
  const local = ts + u.tz * HOUR;
  const hour = new Date(local).getUTCHours();
  if (u.inOffice && weekday(local) < 5 && hour >= 8 && hour < 18 && u.tenant?.officeIp)
    return u.tenant.officeIp;
  return u.homeIp;
}

const hourWeights = new Map<string, Array<[number, number]>>();

function sessionStart(rng: Rng, dayStart: number, tz: number): number {
  // Pick an hour by the local rhythm, then a minute.
  const key = `${dayStart}/${tz}`;
  let weights = hourWeights.get(key);
  if (!weights) {
    weights = [];
    for (let h = 0; h < 24; h++) weights.push([h, localActivity(dayStart + h * HOUR, tz)]);
    if (hourWeights.size > 10_000) hourWeights.clear();
    hourWeights.set(key, weights);
  }
  const h = rng.weighted(weights);
  return dayStart + h * HOUR + rng.float() * HOUR;
}

export function generateBenign(rng: Rng, pop: Population, o: BenignOptions): Emitter {
  const em = new Emitter(rng.fork('benign-requests'));
  const r = rng.fork('benign');
  for (let d = 0; d < o.days; d++) {
    const dayStart = o.start + d * DAY;
    const dr = r.fork(`day-${d}`);
    for (const u of pop.users) {
      // Sessions per day follow the user's own habit and the day of the week in their timezone.
      const noon = dayStart + (12 - u.tz) * HOUR;
      const dow = weekday(noon);
      const mean = u.activity * (dow >= 5 ? 0.12 : dow === 0 ? 1.2 : 1);
      const sessions = dr.poisson(mean);
      for (let s = 0; s < sessions; s++) {
        const t0 = sessionStart(dr, dayStart - u.tz * HOUR, u.tz);
        if (u.api === 'demo') demoSession(em, dr, pop, u, t0, o);
        else if (u.api === 'crapi') crapiSession(em, dr, pop, u, t0);
        else vampiSession(em, dr, pop, u, t0);
      }
    }
    for (const p of pop.partners) partnerDay(em, dr.fork(p.name), p, dayStart, o);
    servicesDay(em, dr.fork('services'), pop, dayStart, d, o);
  }
  return em;
}

/** Password grant with Basic credentials; a mistyped password first now and then. */
function demoLogin(em: Emitter, r: Rng, u: User, ts: number, ip: string): number {
  let t = ts;
  if (r.chance(u.typoRate)) {
    em.add({
      ts: t,
      host: DEMO,
      method: 'POST',
      template: '/v1/oauth/token',
      path: '/v1/oauth/token',
      status: 401,
      clientIp: ip,
      ua: u.ua,
      auth: { kind: 'basic', user: u.login, password: 'typo' },
    });
    t += 4000 + r.exp(8000);
    if (r.chance(0.15)) {
      em.add({
        ts: t,
        host: DEMO,
        method: 'POST',
        template: '/v1/oauth/token',
        path: '/v1/oauth/token',
        status: 401,
        clientIp: ip,
        ua: u.ua,
        auth: { kind: 'basic', user: u.login, password: 'typo2' },
      });
      t += 5000 + r.exp(10000);
    }
  }
  em.add({
    ts: t,
    host: DEMO,
    method: 'POST',
    template: '/v1/oauth/token',
    path: '/v1/oauth/token',
    status: 200,
    clientIp: ip,
    ua: u.ua,
    auth: { kind: 'basic', user: u.login, password: 'correct' },
    respBytes: 1100,
  });
  return t;
}

export function demoToken(r: Rng, u: User, ts: number): WireAuth {
  return {
    kind: 'jwt',
    token: userToken(r, {
      iss: DEMO_ISS,
      sub: u.sub,
      tenant: u.tenant?.id ?? null,
      scopes: u.scopes,
      clientId: u.clientId,
      iat: ts,
    }),
  };
}

function demoSession(em: Emitter, r: Rng, pop: Population, u: User, t0: number, o: BenignOptions): void {
  const ip = sessionAddress(r, u, t0);
  let t = demoLogin(em, r, u, t0, ip);
  const auth = demoToken(r, u, t);
  const calls = 1 + r.poisson(u.intensity);
  const tenant = u.tenant!;
  const base = { host: DEMO, clientIp: ip, ua: u.ua, auth };
  for (let i = 0; i < calls; i++) {
    t += 1000 + r.exp(25_000);
    if (r.chance(0.004)) {
      const p = r.pick(TYPO_PATHS);
      em.add({ ...base, ts: t, method: 'GET', template: p, path: p, status: 404 });
      continue;
    }
    if (u.role === 'support') {
      supportCall(em, r, pop, base, t);
      continue;
    }
    em.add({ ...base, ts: t, ...demoAction(r, u, tenant, t >= o.releaseAt) });
  }
}

type Action = Omit<Call, 'ts' | 'host' | 'clientIp' | 'ua' | 'auth'>;

function demoAction(r: Rng, u: User, tenant: Tenant, released: boolean): Action {
  const has = (s: string) => u.scopes.includes(s);
  const t = tenant.id;
  const choices: Array<[() => Action, number]> = [
    [() => ({ method: 'GET', template: '/v1/me', path: '/v1/me', status: 200 }), 0.05],
    [
      () => ({
        method: 'GET',
        template: '/v1/tenants/{tenantId}/projects',
        path: `/v1/tenants/${t}/projects`,
        query: `page=${r.chance(0.8) ? 1 : r.int(2, 4)}&limit=20`,
        status: 200,
        respBytes: Math.round(r.logNormal(9000, 0.4)),
      }),
      0.12,
    ],
    [
      () => ({
        method: 'GET',
        template: '/v1/tenants/{tenantId}/projects/{projectId}',
        path: `/v1/tenants/${t}/projects/${tenant.projects[r.zipf(tenant.projects.length, 0.8)]}`,
        status: 200,
      }),
      0.15,
    ],
    [
      () =>
        has('projects:write')
          ? {
              method: 'PUT',
              template: '/v1/tenants/{tenantId}/projects/{projectId}',
              path: `/v1/tenants/${t}/projects/${r.pick(tenant.projects)}`,
              status: 200,
            }
          : { method: 'GET', template: '/v1/me', path: '/v1/me', status: 200 },
      0.03,
    ],
    [
      () => ({
        method: 'GET',
        template: '/v1/documents',
        path: '/v1/documents',
        query: 'page=1&limit=50',
        status: 200,
        respBytes: Math.round(r.logNormal(12000, 0.4)),
      }),
      0.08,
    ],
    [
      () => {
        const own = r.chance(0.85) || tenant.sharedDocs.length === 0;
        const id = own ? u.docs[r.zipf(u.docs.length, 0.6)]! : r.pick(tenant.sharedDocs);
        return {
          method: 'GET',
          template: '/v1/documents/{documentId}',
          path: `/v1/documents/${id}`,
          status: r.chance(0.01) ? 404 : 200,
        };
      },
      0.15,
    ],
    [
      () => ({
        method: 'GET',
        template: '/v1/documents/{documentId}/download',
        path: `/v1/documents/${r.pick(u.docs)}/download`,
        status: 200,
        respBytes: Math.round(r.logNormal(250_000, 1)),
        latencyMs: Math.round(r.logNormal(180, 0.5)),
      }),
      0.04,
    ],
    [
      () => ({
        method: 'GET',
        template: '/v1/search',
        path: '/v1/search',
        query: `q=${encodeURIComponent(r.pick(SEARCH_WORDS))}&page=${r.chance(0.75) ? 1 : 2}`,
        status: 200,
        respBytes: Math.round(r.logNormal(6000, 0.5)),
      }),
      0.08,
    ],
    [
      () => ({
        method: 'GET',
        template: '/v1/orders',
        path: '/v1/orders',
        query: `status=${r.pick(['open', 'shipped', 'closed'])}`,
        status: 200,
      }),
      0.05,
    ],
    [
      () => ({
        method: 'GET',
        template: '/v1/orders/{orderId}',
        path: `/v1/orders/${tenant.firstInvoice * 3 + r.int(0, 400)}`,
        status: 200,
      }),
      0.05,
    ],
  ];
  if (has('billing:read')) {
    choices.push(
      [
        () => ({
          method: 'GET',
          template: '/v1/tenants/{tenantId}/invoices',
          path: `/v1/tenants/${t}/invoices`,
          query: 'page=1&limit=25',
          status: 200,
          respBytes: Math.round(r.logNormal(8000, 0.4)),
        }),
        0.05,
      ],
      [
        () => ({
          method: 'GET',
          template: '/v1/tenants/{tenantId}/invoices/{invoiceId}',
          path: `/v1/tenants/${t}/invoices/${tenant.firstInvoice + tenant.invoices - 1 - r.zipf(tenant.invoices, 1)}`,
          status: 200,
        }),
        0.06,
      ],
      [
        () => ({
          method: 'GET',
          template: '/v1/invoices/lookup',
          path: '/v1/invoices/lookup',
          query: `invoice_id=${tenant.firstInvoice + tenant.invoices - 1 - r.zipf(tenant.invoices, 1)}`,
          status: 200,
        }),
        0.02,
      ],
    );
  }
  if (has('reports:read')) {
    choices.push([
      () => ({
        method: 'GET',
        template: '/v1/reports/export',
        path: '/v1/reports/export',
        query: 'from=2026-01-01&to=2026-01-31',
        status: 200,
        respBytes: Math.round(r.logNormal(2_000_000, 0.6)),
        latencyMs: Math.round(r.logNormal(3500, 0.4)),
      }),
      0.01,
    ]);
  }
  if (has('admin')) {
    choices.push(
      [
        () => ({
          method: 'GET',
          template: '/v1/tenants/{tenantId}/users',
          path: `/v1/tenants/${t}/users`,
          status: 200,
          respBytes: Math.round(r.logNormal(15000, 0.3)),
        }),
        0.04,
      ],
      [
        () => ({
          method: 'GET',
          template: '/v1/admin/audit-log',
          path: '/v1/admin/audit-log',
          query: 'page=1',
          status: 200,
        }),
        0.03,
      ],
    );
  }
  if (released) {
    choices.push([
      () => ({
        method: 'GET',
        template: '/v1/tenants/{tenantId}/dashboards',
        path: `/v1/tenants/${t}/dashboards`,
        status: 200,
      }),
      0.07,
    ]);
  }
  return r.weighted(choices)();
}

/** Support staff open customer tenants' projects and invoices (routine cross-tenant access). */
function supportCall(
  em: Emitter,
  r: Rng,
  pop: Population,
  base: Pick<Call, 'host' | 'clientIp' | 'ua' | 'auth'>,
  t: number,
): void {
  const tenant = pop.tenants[r.zipf(pop.tenants.length - 1, 0.5)]!;
  const pick = r.int(0, 3);
  if (pick === 0)
    em.add({
      ...base,
      ts: t,
      method: 'GET',
      template: '/v1/tenants/{tenantId}/projects',
      path: `/v1/tenants/${tenant.id}/projects`,
      query: 'page=1&limit=20',
      status: 200,
    });
  else if (pick === 1)
    em.add({
      ...base,
      ts: t,
      method: 'GET',
      template: '/v1/tenants/{tenantId}/projects/{projectId}',
      path: `/v1/tenants/${tenant.id}/projects/${r.pick(tenant.projects)}`,
      status: 200,
    });
  else if (pick === 2)
    em.add({
      ...base,
      ts: t,
      method: 'GET',
      template: '/v1/tenants/{tenantId}/invoices',
      path: `/v1/tenants/${tenant.id}/invoices`,
      query: 'page=1&limit=25',
      status: 200,
    });
  else
    em.add({
      ...base,
      ts: t,
      method: 'GET',
      template: '/v1/tenants/{tenantId}/invoices/{invoiceId}',
      path: `/v1/tenants/${tenant.id}/invoices/${tenant.firstInvoice + r.int(0, tenant.invoices - 1)}`,
      status: 200,
    });
}

export function crapiToken(r: Rng, u: User, ts: number): WireAuth {
  return {
    kind: 'jwt',
    token: userToken(r, {
      iss: 'https://crapi.example.com/identity',
      sub: u.sub,
      iat: ts,
      ttlSeconds: 7 * 86400,
    }),
  };
}

function crapiSession(em: Emitter, r: Rng, pop: Population, u: User, t0: number): void {
  const ip = sessionAddress(r, u, t0);
  let t = t0;
  const login = {
    host: CRAPI,
    method: 'POST',
    template: '/identity/api/auth/login',
    path: '/identity/api/auth/login',
    clientIp: ip,
    ua: u.ua,
    auth: { kind: 'none' } as WireAuth,
  };
  if (r.chance(u.typoRate)) {
    em.add({ ...login, ts: t, status: 401 });
    t += 3000 + r.exp(9000);
  }
  em.add({ ...login, ts: t, status: 200, respBytes: 700 });
  const auth = crapiToken(r, u, t);
  const base = { host: CRAPI, clientIp: ip, ua: u.ua, auth };
  const calls = 1 + r.poisson(u.intensity * 0.8);
  for (let i = 0; i < calls; i++) {
    t += 1000 + r.exp(20_000);
    const pick = r.weighted<() => Action>([
      [
        () => ({
          method: 'GET',
          template: '/identity/api/v2/user/dashboard',
          path: '/identity/api/v2/user/dashboard',
          status: 200,
        }),
        0.14,
      ],
      [
        () => ({
          method: 'GET',
          template: '/identity/api/v2/vehicle/vehicles',
          path: '/identity/api/v2/vehicle/vehicles',
          status: 200,
        }),
        0.1,
      ],
      [
        () => ({
          method: 'GET',
          template: '/identity/api/v2/vehicle/{vehicleId}/location',
          path: `/identity/api/v2/vehicle/${r.pick(u.vehicles)}/location`,
          status: 200,
        }),
        0.12,
      ],
      [
        () => ({
          method: 'GET',
          template: '/community/api/v2/community/posts/recent',
          path: '/community/api/v2/community/posts/recent',
          query: `limit=30&offset=${r.chance(0.8) ? 0 : 30 * r.int(1, 3)}`,
          status: 200,
          respBytes: Math.round(r.logNormal(14000, 0.3)),
        }),
        0.16,
      ],
      [
        () => ({
          method: 'GET',
          template: '/community/api/v2/community/posts/{postId}',
          path: `/community/api/v2/community/posts/${pop.posts[r.zipf(pop.posts.length, 1)]}`,
          status: 200,
        }),
        0.1,
      ],
      [
        () => ({
          method: 'POST',
          template: '/community/api/v2/community/posts/{postId}/comment',
          path: `/community/api/v2/community/posts/${pop.posts[r.zipf(pop.posts.length, 1)]}/comment`,
          status: 200,
        }),
        0.02,
      ],
      [
        () => ({
          method: 'GET',
          template: '/workshop/api/shop/products',
          path: '/workshop/api/shop/products',
          status: 200,
          respBytes: Math.round(r.logNormal(5000, 0.2)),
        }),
        0.14,
      ],
      [
        () => ({
          method: 'POST',
          template: '/workshop/api/shop/orders',
          path: '/workshop/api/shop/orders',
          status: 200,
        }),
        0.03,
      ],
      [
        () =>
          u.orders.length > 0
            ? {
                method: 'GET',
                template: '/workshop/api/shop/orders/{order_id}',
                path: `/workshop/api/shop/orders/${r.pick(u.orders)}`,
                status: 200,
              }
            : {
                method: 'GET',
                template: '/workshop/api/shop/orders/all',
                path: '/workshop/api/shop/orders/all',
                status: 200,
              },
        0.07,
      ],
      [
        () => ({
          method: 'GET',
          template: '/workshop/api/shop/orders/all',
          path: '/workshop/api/shop/orders/all',
          status: 200,
        }),
        0.05,
      ],
      [
        () => ({
          method: 'GET',
          template: '/workshop/api/mechanic/',
          path: '/workshop/api/mechanic/',
          status: 200,
        }),
        0.02,
      ],
      [
        () => ({
          method: 'POST',
          template: '/workshop/api/shop/apply_coupon',
          path: '/workshop/api/shop/apply_coupon',
          status: 200,
        }),
        0.01,
      ],
    ]);
    em.add({ ...base, ts: t, ...pick() });
  }
}

function vampiSession(em: Emitter, r: Rng, pop: Population, u: User, t0: number): void {
  const ip = sessionAddress(r, u, t0);
  let t = t0;
  const login = {
    host: VAMPI,
    method: 'POST',
    template: '/users/v1/login',
    path: '/users/v1/login',
    clientIp: ip,
    ua: u.ua,
    auth: { kind: 'none' } as WireAuth,
  };
  if (r.chance(u.typoRate)) {
    em.add({ ...login, ts: t, status: 401 });
    t += 3000 + r.exp(9000);
  }
  em.add({ ...login, ts: t, status: 200, respBytes: 500 });
  const auth: WireAuth = {
    kind: 'jwt',
    token: userToken(r, { iss: 'vampi', sub: u.login, iat: t, ttlSeconds: 1800 }),
  };
  const base = { host: VAMPI, clientIp: ip, ua: u.ua, auth };
  const calls = 1 + r.poisson(u.intensity * 0.5);
  for (let i = 0; i < calls; i++) {
    t += 1000 + r.exp(30_000);
    const pick = r.weighted<() => Action>([
      [
        () => ({
          method: 'GET',
          template: '/books/v1',
          path: '/books/v1',
          status: 200,
          respBytes: Math.round(r.logNormal(4000, 0.3)),
        }),
        0.35,
      ],
      [
        () => ({
          method: 'GET',
          template: '/books/v1/{book_title}',
          path: `/books/v1/${pop.books.length > 0 ? pop.books[r.zipf(pop.books.length, 1)] : 'bookTitle1'}`,
          status: 200,
        }),
        0.3,
      ],
      [
        () => ({
          method: 'GET',
          template: '/users/v1/{username}',
          path: `/users/v1/${u.login}`,
          status: 200,
        }),
        0.15,
      ],
      [() => ({ method: 'GET', template: '/me', path: '/me', status: 200 }), 0.15],
      [() => ({ method: 'POST', template: '/books/v1', path: '/books/v1', status: 200 }), 0.05],
    ]);
    em.add({ ...base, ts: t, ...pick() });
  }
}

/** Partners call through the day, mostly in their business hours, from their fixed addresses. */
function partnerDay(em: Emitter, r: Rng, p: Partner, dayStart: number, o: BenignOptions): void {
  // Autoscaled fleets change an address now and then, within their provider's range.
  if (p.api === 'demo' && r.chance(0.2)) {
    const prefix = p.ips[0]!.split('.').slice(0, 2).join('.');
    p.ips[r.int(0, p.ips.length - 1)] = cloudAddress(r, prefix);
  }
  for (let h = 0; h < 24; h++) {
    const hourStart = dayStart + h * HOUR;
    const activity =
      p.api === 'demo'
        ? 0.3 + 0.7 * localActivity(hourStart, p.tz)
        : Math.max(0.08, localActivity(hourStart, p.tz));
    const n = r.poisson(p.perHour * o.scale * activity);
    for (let i = 0; i < n; i++) {
      const ts = hourStart + r.float() * HOUR;
      const ip = r.pick(p.ips);
      if (p.api === 'petstore') petstoreCall(em, r, p, ts, ip);
      else if (p.api === 'b2b') {
        em.add({
          ts,
          host: B2B,
          method: 'POST',
          template: '/orders',
          path: '/b2b/v2/orders',
          status: 200,
          clientIp: ip,
          ua: p.ua,
          auth: { kind: 'jwt', token: machineToken(r, 'https://shop.example.com', p.name, ['orders'], ts) },
          consumer: { id: p.consumerId, username: p.name, credentialId: p.credentialId },
          reqBytes: Math.round(r.logNormal(2500, 0.5)),
        });
      } else {
        em.add({
          ts,
          host: DEMO,
          method: 'POST',
          template: '/v1/events',
          path: '/v1/events',
          status: 202,
          clientIp: ip,
          ua: p.ua,
          auth: { kind: 'apikey', key: p.key },
          reqBytes: Math.round(r.logNormal(8000, 0.6)),
          respBytes: 20,
        });
      }
    }
  }
}

export function petstoreCall(em: Emitter, r: Rng, p: Partner, ts: number, ip: string): void {
  const base = {
    ts,
    host: PETSTORE,
    clientIp: ip,
    ua: p.ua,
    auth: { kind: 'apikey', key: p.key } as WireAuth,
    consumer: { id: p.consumerId, username: p.name, credentialId: p.credentialId },
  };
  const pick = r.float();
  if (pick < 0.3)
    em.add({
      ...base,
      method: 'GET',
      template: '/pet/findByStatus',
      path: '/api/v3/pet/findByStatus',
      query: `status=${r.pick(['available', 'pending', 'sold'])}`,
      status: 200,
      respBytes: Math.round(r.logNormal(30000, 0.3)),
    });
  else if (pick < 0.65)
    em.add({
      ...base,
      method: 'GET',
      template: '/pet/{petId}',
      path: `/api/v3/pet/${1 + r.zipf(5000, 0.7)}`,
      status: r.chance(0.02) ? 404 : 200,
    });
  else if (pick < 0.75)
    em.add({
      ...base,
      method: 'GET',
      template: '/store/inventory',
      path: '/api/v3/store/inventory',
      status: 200,
    });
  else if (pick < 0.85) {
    em.add({ ...base, method: 'POST', template: '/store/order', path: '/api/v3/store/order', status: 200 });
    p.orders.push(r.int(1, 10_000_000));
    if (p.orders.length > 50) p.orders.shift();
  } else if (pick < 0.95 && p.orders.length > 0)
    em.add({
      ...base,
      method: 'GET',
      template: '/store/order/{orderId}',
      path: `/api/v3/store/order/${r.pick(p.orders)}`,
      status: 200,
    });
  else em.add({ ...base, method: 'PUT', template: '/pet', path: '/api/v3/pet', status: 200 });
}

/** Health probes, the nightly billing batch, the indexer, the backup agent, the stale-key fleet. */
function servicesDay(
  em: Emitter,
  r: Rng,
  pop: Population,
  dayStart: number,
  day: number,
  o: BenignOptions,
): void {
  const probes = o.scale >= 0.7 ? ['10.20.0.5', '10.20.0.6'] : ['10.20.0.5'];
  for (const probe of probes) {
    for (let t = dayStart + r.int(0, 59_000); t < dayStart + DAY; t += 60_000) {
      em.add({
        ts: t,
        host: DEMO,
        method: 'GET',
        template: '/v1/health',
        path: '/v1/health',
        status: 200,
        clientIp: probe,
        ua: 'kube-probe/1.30',
        auth: { kind: 'none' },
        respBytes: 15,
        latencyMs: 1.2,
      });
    }
  }
  // Nightly billing batch: every tenant's invoice list, then each invoice issued that day, in order.
  const batchIp = '10.30.1.15';
  let t = dayStart + 2 * HOUR + r.int(0, 5) * MINUTE;
  const batchAuth: WireAuth = {
    kind: 'jwt',
    token: machineToken(r, DEMO_ISS, 'billing-batch', ['billing:read'], t),
  };
  for (const tenant of pop.tenants) {
    if (tenant.invoices === 0) continue;
    const issued = Math.max(2, Math.round(tenant.invoices / 30));
    const first = tenant.firstInvoice + ((day * issued) % Math.max(1, tenant.invoices - issued));
    const pages = Math.ceil(issued / 25);
    for (let p = 1; p <= pages; p++) {
      t += 300 + r.exp(400);
      em.add({
        ts: t,
        host: DEMO,
        method: 'GET',
        template: '/v1/tenants/{tenantId}/invoices',
        path: `/v1/tenants/${tenant.id}/invoices`,
        query: `page=${p}&limit=25`,
        status: 200,
        clientIp: batchIp,
        ua: 'billing-batch/4.2 (+cronjob)',
        auth: batchAuth,
      });
    }
    for (let i = 0; i < issued; i++) {
      t += 200 + r.exp(300);
      em.add({
        ts: t,
        host: DEMO,
        method: 'GET',
        template: '/v1/tenants/{tenantId}/invoices/{invoiceId}',
        path: `/v1/tenants/${tenant.id}/invoices/${first + i}`,
        status: 200,
        clientIp: batchIp,
        ua: 'billing-batch/4.2 (+cronjob)',
        auth: batchAuth,
      });
    }
  }
  // The search indexer: steady, day and night, through every document list page and document.
  const indexerIp = '10.30.2.40';
  const allDocs = pop.byApi.demo.flatMap((u) => u.docs);
  const perDay = Math.round(3000 * o.scale);
  let tok = machineToken(r, DEMO_ISS, 'search-indexer', ['documents:read'], dayStart);
  for (let i = 0; i < perDay; i++) {
    const ts = dayStart + (i + r.float()) * (DAY / perDay);
    if (i % 200 === 0) tok = machineToken(r, DEMO_ISS, 'search-indexer', ['documents:read'], ts);
    const auth: WireAuth = { kind: 'jwt', token: tok };
    if (i % 5 === 0)
      em.add({
        ts,
        host: DEMO,
        method: 'GET',
        template: '/v1/documents',
        path: '/v1/documents',
        query: `page=${1 + (((day * perDay + i) / 5) % 400)}&limit=100`,
        status: 200,
        clientIp: indexerIp,
        ua: 'search-indexer/2.1',
        auth,
        respBytes: Math.round(r.logNormal(40000, 0.2)),
      });
    else
      em.add({
        ts,
        host: DEMO,
        method: 'GET',
        template: '/v1/documents/{documentId}',
        path: `/v1/documents/${allDocs[(day * perDay + i) % allDocs.length]}`,
        status: 200,
        clientIp: indexerIp,
        ua: 'search-indexer/2.1',
        auth,
      });
  }
  // Nightly backup: downloads a rotating slice of every document (a lot of bytes, every night).
  const backupIp = '10.30.3.7';
  let bt = dayStart + 1 * HOUR + r.int(0, 10) * MINUTE;
  const backupAuth: WireAuth = {
    kind: 'jwt',
    token: machineToken(r, DEMO_ISS, 'backup-agent', ['documents:read'], bt),
  };
  const slice = Math.max(20, Math.round(allDocs.length / 7));
  for (let i = 0; i < slice; i++) {
    bt += 1500 + r.exp(2500);
    const id = allDocs[(day * slice + i) % allDocs.length];
    em.add({
      ts: bt,
      host: DEMO,
      method: 'GET',
      template: '/v1/documents/{documentId}/download',
      path: `/v1/documents/${id}/download`,
      status: 200,
      clientIp: backupIp,
      ua: 'restic-backup/0.17',
      auth: backupAuth,
      respBytes: Math.round(r.logNormal(250_000, 1)),
      latencyMs: Math.round(r.logNormal(200, 0.4)),
    });
  }
  // A forgotten CronJob replays a revoked key every 10 minutes from three pods: one key, 401s.
  const stale = 'dk_live_REVOKEDlegacySyncKey000000000000';
  const pods = ['34.102.77.21', '34.102.77.22', '34.102.80.9'];
  for (let ts = dayStart + r.int(0, 9) * MINUTE; ts < dayStart + DAY; ts += 10 * MINUTE) {
    em.add({
      ts: ts + r.int(0, 20_000),
      host: DEMO,
      method: 'POST',
      template: '/v1/events',
      path: '/v1/events',
      status: 401,
      clientIp: r.pick(pods),
      ua: 'legacy-sync/1.0',
      auth: { kind: 'apikey', key: stale },
    });
  }
}
