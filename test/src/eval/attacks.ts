import type { Rng } from '../random.ts';
import { crapiToken, demoToken, petstoreCall } from './benign.ts';
import { DAY, type Emitter, HOUR, MINUTE, weekday } from './emitter.ts';
import { cloudAddress, HOSTS, homeAddress, type Population } from './population.ts';
import type { LabelDraft, WireAuth } from './request.ts';
import { userToken } from './tokens.ts';

/**
 * Attack injectors, one per detector of the catalogue (HELPERS.md). Each draws its own
 * parameters from its seeded stream — rates, durations, pool sizes, id shapes (sequential
 * integers, UUIDs; path and query parameters), tenants, APIs — and returns its ground truth.
 * They model what the attacks look like from a gateway (docs/shared research: detection.md),
 * not what any detector counts: rates range from loud to below the usual anchor thresholds.
 */

export interface AttackContext {
  rng: Rng;
  pop: Population;
  em: Emitter;
  /** Start of the scored period (the last week). */
  scoredStart: number;
  scoredEnd: number;
}

type Injector = (ctx: AttackContext, start: number, variant: number) => Omit<LabelDraft, 'kind'>;

const DEMO = HOSTS.demo;
const CRAPI = HOSTS.crapi;
const VAMPI = HOSTS.vampi;
const PETSTORE = HOSTS.petstore;

const TOOL_UAS = [
  'python-requests/2.31.0',
  'curl/8.5.0',
  'Go-http-client/1.1',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  'okhttp/4.9.0',
  'axios/1.6.2',
];

/** An address on a VPS or bullet-proof host, the usual origin of a single-source attack. */
function vps(r: Rng): string {
  return `${r.pick(['45.142', '185.220', '193.142', '91.219', '5.188', '146.70', '162.247'])}.${r.int(0, 255)}.${r.int(1, 254)}`;
}

/** Residential proxy exits: spread over many providers and /16s. */
function proxyPool(r: Rng, n: number): string[] {
  return Array.from({ length: n }, () => (r.chance(0.8) ? homeAddress(r) : cloudAddress(r)));
}

/** `n` times spread over [start, start + durationMs] with exponential gaps (sorted). */
function times(r: Rng, start: number, durationMs: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(start + r.float() * durationMs);
  return out.sort((a, b) => a - b);
}

function end(ts: number[], fallback: number): number {
  return ts.length > 0 ? Math.round(ts[ts.length - 1]!) : fallback;
}

function fakeLogin(r: Rng): string {
  const names = ['alex', 'sam', 'chris', 'jordan', 'taylor', 'morgan', 'casey', 'jamie', 'robin', 'drew'];
  return `${r.pick(names)}${r.int(1, 9999)}@${r.pick(['mail.example', 'inbox.example', 'post.example', 'web.example'])}`;
}

const MIN = MINUTE;

const bruteForce: Injector = ({ rng: r, pop, em }, start, v) => {
  const ip = vps(r);
  const ua = r.pick(TOOL_UAS);
  const perMin = r.int(6, 40);
  const minutes = r.int(8, 40);
  const ts = times(r, start, minutes * MIN, perMin * minutes);
  const variant = ['demo-basic-one-account', 'crapi-login-form', 'vampi-login-form'][v % 3]!;
  const target = r.pick(pop.byApi.demo);
  for (const t of ts) {
    if (variant === 'demo-basic-one-account')
      em.add({
        ts: t,
        host: DEMO,
        method: 'POST',
        template: '/v1/oauth/token',
        path: '/v1/oauth/token',
        status: 401,
        clientIp: ip,
        ua,
        auth: { kind: 'basic', user: target.login, password: r.token(10) },
      });
    else if (variant === 'crapi-login-form')
      em.add({
        ts: t,
        host: CRAPI,
        method: 'POST',
        template: '/identity/api/auth/login',
        path: '/identity/api/auth/login',
        status: 401,
        clientIp: ip,
        ua,
        auth: { kind: 'none' },
      });
    else
      em.add({
        ts: t,
        host: VAMPI,
        method: 'POST',
        template: '/users/v1/login',
        path: '/users/v1/login',
        status: 401,
        clientIp: ip,
        ua,
        auth: { kind: 'none' },
      });
  }
  return {
    variant: `${variant}, ${perMin}/min for ${minutes} min`,
    description: `password guessing from ${ip}${variant.startsWith('demo') ? ` against ${target.login}` : ''}`,
    start,
    end: end(ts, start),
    attacker: [`ip:${ip}`],
    graceMs: 30 * MIN,
  };
};

const credentialStuffing: Injector = ({ rng: r, pop, em }, start, v) => {
  const variant = ['demo-single-source', 'demo-proxy-pool', 'crapi-proxy-pool', 'crapi-single-source'][
    v % 4
  ]!;
  const pool = variant.includes('pool') ? proxyPool(r, r.int(60, 400)) : [vps(r)];
  const accounts = r.int(150, 1200);
  const perMin = r.int(20, 120);
  const ua = r.pick(TOOL_UAS);
  const demo = variant.startsWith('demo');
  const real = demo ? pop.byApi.demo : pop.byApi.crapi;
  const ts = times(r, start, (accounts / perMin) * MIN, accounts);
  let successes = 0;
  ts.forEach((t, i) => {
    const victim = r.chance(0.3) ? r.pick(real) : null;
    const login = victim ? victim.login : fakeLogin(r);
    const ok = victim !== null && r.chance(0.03);
    const ip = pool[i % pool.length]!;
    const tries = r.chance(0.05) ? 2 : 1;
    for (let k = 0; k < tries; k++) {
      const status = ok && k === tries - 1 ? 200 : 401;
      if (demo)
        em.add({
          ts: t + k * 1500,
          host: DEMO,
          method: 'POST',
          template: '/v1/oauth/token',
          path: '/v1/oauth/token',
          status,
          clientIp: ip,
          ua,
          auth: { kind: 'basic', user: login, password: r.token(9) },
        });
      else
        em.add({
          ts: t + k * 1500,
          host: CRAPI,
          method: 'POST',
          template: '/identity/api/auth/login',
          path: '/identity/api/auth/login',
          status,
          clientIp: ip,
          ua,
          auth: { kind: 'none' },
        });
    }
    if (ok && victim) {
      successes++;
      // The stuffer checks what the account holds.
      const auth = demo ? demoToken(r, victim, t) : crapiToken(r, victim, t);
      const path = demo ? '/v1/me' : '/identity/api/v2/user/dashboard';
      em.add({
        ts: t + 2000,
        host: demo ? DEMO : CRAPI,
        method: 'GET',
        template: path,
        path,
        status: 200,
        clientIp: ip,
        ua,
        auth,
      });
    }
  });
  const route = demo ? 'POST /v1/oauth/token' : 'POST /identity/api/auth/login';
  return {
    variant: `${variant}, ${accounts} accounts, ${perMin}/min, ${pool.length} sources`,
    description: `credential stuffing of ${accounts} accounts from ${pool.length} source(s), ${successes} logged in`,
    start,
    end: end(ts, start),
    attacker: pool.length === 1 ? [`ip:${pool[0]}`] : [`endpoint:${route}`],
    graceMs: 30 * MIN,
  };
};

const passwordSpraying: Injector = ({ rng: r, pop, em }, start, v) => {
  // Usernames are visible on the demo API's Basic token endpoint; one or all tenants.
  const oneTenant = v % 2 === 0;
  const tenant = r.pick(pop.tenants.filter((t) => t.invoices > 0 && t.id !== 'platform').slice(0, 6));
  const users = pop.byApi.demo.filter((u) => !oneTenant || u.tenant === tenant);
  const accounts = r
    .sample(users, r.int(Math.min(60, users.length), Math.min(300, users.length)))
    .map((u) => u.login);
  const real = accounts.length;
  for (let i = r.int(10, 60); i > 0; i--) accounts.push(fakeLogin(r));
  const passwords = r.int(1, 3);
  const hours = r.int(3, 10);
  const sources = [...Array.from({ length: r.int(2, 10) }, () => vps(r)), ...proxyPool(r, r.int(1, 15))];
  const ua = r.pick(TOOL_UAS);
  const attempts: Array<{ login: string; p: number }> = [];
  for (let p = 0; p < passwords; p++)
    for (const login of r.shuffle([...accounts])) attempts.push({ login, p });
  const ts = times(r, start, hours * HOUR, attempts.length);
  // Only an account that exists can log in: the lucky ones are among the real accounts.
  const lucky = new Set(r.sample(accounts.slice(0, Math.min(50, real)), r.int(0, 2)));
  ts.forEach((t, i) => {
    const a = attempts[i]!;
    const status = a.p === passwords - 1 && lucky.has(a.login) ? 200 : 401;
    em.add({
      ts: t,
      host: DEMO,
      method: 'POST',
      template: '/v1/oauth/token',
      path: '/v1/oauth/token',
      status,
      clientIp: r.pick(sources),
      ua,
      auth: { kind: 'basic', user: a.login, password: ['Winter2026!', 'Welcome1', 'Passw0rd!'][a.p]! },
    });
  });
  return {
    variant: `${oneTenant ? `tenant ${tenant.id}` : 'all tenants'}, ${accounts.length} accounts × ${passwords} password(s) over ${hours} h from ${sources.length} sources`,
    description: `low-and-slow password spraying (${attempts.length} attempts, ${(attempts.length / (hours * 60)).toFixed(1)}/min)`,
    // The spray starts with its first attempt (paced attempts leave minutes before it).
    start: Math.round(ts[0] ?? start),
    end: end(ts, start),
    attacker: ['endpoint:POST /v1/oauth/token'],
    graceMs: 2 * HOUR,
  };
};

const keyGuessing: Injector = ({ rng: r, em }, start, v) => {
  const ip = vps(r);
  const ua = r.pick(TOOL_UAS);
  const n = r.int(100, 1500);
  const perMin = r.int(10, 200);
  const petstore = v % 2 === 0;
  const shape = r.int(0, 3);
  const key = () =>
    shape === 0
      ? r.hex(16)
      : shape === 1
        ? r.token(40)
        : shape === 2
          ? `dk_live_${r.token(32)}`
          : `${r.hex(4)}-${r.hex(2)}-${r.hex(2)}-${r.hex(2)}-${r.hex(6)}`;
  const ts = times(r, start, (n / perMin) * MIN, n);
  for (const t of ts) {
    if (petstore) {
      const pet = r.int(1, 5000);
      em.add({
        ts: t,
        host: PETSTORE,
        method: 'GET',
        template: r.chance(0.5) ? '/store/inventory' : '/pet/{petId}',
        path: r.chance(0.5) ? '/api/v3/store/inventory' : `/api/v3/pet/${pet}`,
        status: 401,
        clientIp: ip,
        ua,
        auth: { kind: 'apikey', key: key() },
      });
    } else
      em.add({
        ts: t,
        host: DEMO,
        method: 'POST',
        template: '/v1/events',
        path: '/v1/events',
        status: 401,
        clientIp: ip,
        ua,
        auth: { kind: 'apikey', key: key() },
      });
  }
  return {
    variant: `${petstore ? 'petstore (Kong key-auth)' : 'demo /v1/events'}, ${n} keys, ${perMin}/min, shape ${shape}`,
    description: `API-key guessing: ${n} distinct invalid keys from ${ip}`,
    start,
    end: end(ts, start),
    attacker: [`ip:${ip}`],
    graceMs: 30 * MIN,
  };
};

const credentialAbuse: Injector = ({ rng: r, pop, em }, start, v) => {
  const variant = ['petstore-stolen-key', 'crapi-token-replay', 'demo-stolen-ingest-key'][v % 3]!;
  const ips = [...Array.from({ length: r.int(6, 30) }, () => cloudAddress(r)), ...proxyPool(r, r.int(6, 30))];
  const minutes = r.int(30, 120);
  const n = r.int(150, 800);
  const ts = times(r, start, minutes * MIN, n);
  const attacker: string[] = [];
  if (variant === 'petstore-stolen-key') {
    const p = r.pick(pop.partners.filter((x) => x.api === 'petstore'));
    for (const t of ts) petstoreCall(em, r, { ...p, ua: r.pick(TOOL_UAS) }, t, r.pick(ips));
    attacker.push(`service:${p.name}`);
  } else if (variant === 'crapi-token-replay') {
    const u = r.pick(pop.byApi.crapi);
    const auth = crapiToken(r, u, start - r.int(1, 48) * HOUR);
    const ua = u.ua;
    for (const t of ts) {
      const loc = r.chance(0.4);
      em.add({
        ts: t,
        host: CRAPI,
        method: 'GET',
        template: loc ? '/identity/api/v2/vehicle/{vehicleId}/location' : '/identity/api/v2/user/dashboard',
        path: loc
          ? `/identity/api/v2/vehicle/${r.pick(u.vehicles)}/location`
          : '/identity/api/v2/user/dashboard',
        status: 200,
        clientIp: r.pick(ips),
        ua,
        auth,
      });
    }
    attacker.push(`user:${u.sub}`);
  } else {
    const p = r.pick(pop.partners.filter((x) => x.api === 'demo'));
    for (const t of ts)
      em.add({
        ts: t,
        host: DEMO,
        method: 'POST',
        template: '/v1/events',
        path: '/v1/events',
        status: 202,
        clientIp: r.pick(ips),
        ua: r.pick(TOOL_UAS),
        auth: { kind: 'apikey', key: p.key },
        reqBytes: Math.round(r.logNormal(4000, 0.5)),
      });
  }
  return {
    variant: `${variant}, ${ips.length} addresses, ${n} calls in ${minutes} min`,
    description: `one credential used from ${ips.length} networks it never used`,
    start,
    end: end(ts, start),
    attacker,
    attackerIsActor: true,
    graceMs: 30 * MIN,
  };
};

const successAfterFailures: Injector = ({ rng: r, pop, em }, start, v) => {
  const target = r.pick(pop.byApi.demo.filter((u) => u.role === 'member'));
  const distributed = v % 2 === 1;
  const sources = distributed ? Array.from({ length: r.int(5, 20) }, () => vps(r)) : [vps(r)];
  const ua = r.pick(TOOL_UAS);
  const failures = r.int(15, 120);
  const perMin = r.int(5, 30);
  const ts = times(r, start, (failures / perMin) * MIN, failures);
  for (const t of ts)
    em.add({
      ts: t,
      host: DEMO,
      method: 'POST',
      template: '/v1/oauth/token',
      path: '/v1/oauth/token',
      status: 401,
      clientIp: r.pick(sources),
      ua,
      auth: { kind: 'basic', user: target.login, password: r.token(8) },
    });
  let t = end(ts, start) + r.int(5, 90) * 1000;
  const success = t;
  const ip = r.pick(sources);
  em.add({
    ts: t,
    host: DEMO,
    method: 'POST',
    template: '/v1/oauth/token',
    path: '/v1/oauth/token',
    status: 200,
    clientIp: ip,
    ua,
    auth: { kind: 'basic', user: target.login, password: 'cracked' },
  });
  const auth = demoToken(r, target, t);
  for (let i = r.int(3, 10); i > 0; i--) {
    t += 2000 + r.exp(8000);
    const doc = r.pick(target.docs);
    em.add({
      ts: t,
      host: DEMO,
      method: 'GET',
      template: '/v1/documents/{documentId}',
      path: `/v1/documents/${doc}`,
      status: 200,
      clientIp: ip,
      ua,
      auth,
    });
  }
  return {
    variant: `${distributed ? `${sources.length} sources` : 'one source'}, ${failures} failures at ${perMin}/min, then success`,
    description: `account ${target.login} guessed and logged into`,
    start,
    end: Math.round(t),
    attacker: [`user:${target.login}`, `user:${target.sub}`],
    graceMs: 30 * MIN,
    // The compromise is the successful login: time to detect counts from it.
    detectableFrom: success,
  };
};

const objectEnumeration: Injector = ({ rng: r, pop, em }, start, v) => {
  const variant = [
    'crapi-vehicle-uuid',
    'demo-invoice-sequential',
    'demo-invoice-query-param',
    'crapi-order-sequential',
    'demo-document-uuid-guess',
  ][v % 5]!;
  const n = r.int(100, 1200);
  const perMin = r.int(15, 150);
  const ts = times(r, start, (n / perMin) * MIN, n);
  const crapi = variant.startsWith('crapi');
  const u = r.pick(
    crapi
      ? pop.byApi.crapi
      : pop.byApi.demo.filter((x) => x.role === 'member' && x.scopes.includes('billing:read')),
  );
  const ip = r.chance(0.5) ? u.homeIp : vps(r);
  const ua = r.chance(0.5) ? u.ua : r.pick(TOOL_UAS);
  const auth = crapi ? crapiToken(r, u, start) : demoToken(r, u, start);
  const tenants = pop.tenants.filter((t) => t.invoices > 0);
  let seq = variant.includes('invoice')
    ? r.pick(tenants).firstInvoice + r.int(0, 100)
    : pop.crapiOrders - r.int(200, 2000);
  const ownTenant = u.tenant;
  ts.forEach((t) => {
    if (variant === 'crapi-vehicle-uuid') {
      const id = r.chance(0.7) ? r.pick(pop.vehicles) : r.uuid();
      em.add({
        ts: t,
        host: CRAPI,
        method: 'GET',
        template: '/identity/api/v2/vehicle/{vehicleId}/location',
        path: `/identity/api/v2/vehicle/${id}/location`,
        status: pop.vehicles.includes(id) ? 200 : 404,
        clientIp: ip,
        ua,
        auth,
      });
    } else if (variant === 'crapi-order-sequential') {
      const id = seq++;
      em.add({
        ts: t,
        host: CRAPI,
        method: 'GET',
        template: '/workshop/api/shop/orders/{order_id}',
        path: `/workshop/api/shop/orders/${id}`,
        status: id < pop.crapiOrders ? (u.orders.includes(id) ? 200 : r.chance(0.5) ? 200 : 403) : 404,
        clientIp: ip,
        ua,
        auth,
      });
    } else if (variant === 'demo-document-uuid-guess') {
      em.add({
        ts: t,
        host: DEMO,
        method: 'GET',
        template: '/v1/documents/{documentId}',
        path: `/v1/documents/${r.uuid()}`,
        status: r.chance(0.97) ? 404 : 403,
        clientIp: ip,
        ua,
        auth,
      });
    } else {
      const id = seq++;
      const owner = tenants.find((x) => id >= x.firstInvoice && id < x.firstInvoice + x.invoices);
      const status = !owner ? 404 : owner === ownTenant ? 200 : 403;
      if (variant === 'demo-invoice-sequential') {
        const tid = ownTenant!.id;
        em.add({
          ts: t,
          host: DEMO,
          method: 'GET',
          template: '/v1/tenants/{tenantId}/invoices/{invoiceId}',
          path: `/v1/tenants/${tid}/invoices/${id}`,
          status: owner === ownTenant ? 200 : 404,
          clientIp: ip,
          ua,
          auth,
        });
      } else
        em.add({
          ts: t,
          host: DEMO,
          method: 'GET',
          template: '/v1/invoices/lookup',
          path: '/v1/invoices/lookup',
          query: `invoice_id=${id}`,
          status,
          clientIp: ip,
          ua,
          auth,
        });
    }
  });
  return {
    variant: `${variant}, ${n} ids at ${perMin}/min`,
    description: `object-id enumeration by ${u.sub}`,
    start,
    end: end(ts, start),
    attacker: [`user:${u.sub}`],
    attackerIsActor: true,
    graceMs: 30 * MIN,
  };
};

const crossPrincipal: Injector = ({ rng: r, pop, em }, start, v) => {
  const owner = r.pick(
    pop.byApi.demo.filter((u) => u.docs.length >= 4 && u.activity > 0.6 && u.role === 'member'),
  );
  const sameTenant = v % 2 === 0;
  const reader = r.pick(
    pop.byApi.demo.filter(
      (u) => u !== owner && u.role === 'member' && (u.tenant === owner.tenant) === sameTenant,
    ),
  );
  const ip = reader.tenant?.officeIp && r.chance(0.5) ? reader.tenant.officeIp : reader.homeIp;
  const auth = demoToken(r, reader, start);
  const docs = r.sample(owner.docs, r.int(3, Math.min(12, owner.docs.length)));
  const minutes = r.int(5, 60);
  const ts = times(r, start, minutes * MIN, docs.length);
  ts.forEach((t, i) => {
    em.add({
      ts: t,
      host: DEMO,
      method: 'GET',
      template: '/v1/documents/{documentId}',
      path: `/v1/documents/${docs[i]}`,
      status: 200,
      clientIp: ip,
      ua: reader.ua,
      auth,
    });
    if (r.chance(0.4))
      em.add({
        ts: t + 3000,
        host: DEMO,
        method: 'GET',
        template: '/v1/documents/{documentId}/download',
        path: `/v1/documents/${docs[i]}/download`,
        status: 200,
        clientIp: ip,
        ua: reader.ua,
        auth,
        respBytes: Math.round(r.logNormal(250_000, 1)),
      });
  });
  return {
    variant: `${sameTenant ? 'same tenant' : 'other tenant'}, ${docs.length} documents of one owner in ${minutes} min`,
    description: `${reader.sub} read ${docs.length} documents only ${owner.sub} ever read`,
    start,
    end: end(ts, start),
    attacker: [`user:${reader.sub}`],
    attackerIsActor: true,
    graceMs: 30 * MIN,
  };
};

const crossTenant: Injector = ({ rng: r, pop, em }, start, v) => {
  const u = r.pick(pop.byApi.demo.filter((x) => x.role === 'member' && x.scopes.includes('billing:read')));
  const others = pop.tenants.filter((t) => t !== u.tenant && t.invoices > 0);
  const victims = r.sample(others, v % 2 === 0 ? 1 : r.int(2, 5));
  const n = r.int(3, 40);
  const minutes = r.int(5, 45);
  const ts = times(r, start, minutes * MIN, n);
  const ip = r.chance(0.5) ? u.homeIp : (u.tenant?.officeIp ?? u.homeIp);
  const auth = demoToken(r, u, start);
  for (const t of ts) {
    const tenant = r.pick(victims);
    const k = r.int(0, 2);
    if (k === 0)
      em.add({
        ts: t,
        host: DEMO,
        method: 'GET',
        template: '/v1/tenants/{tenantId}/projects',
        path: `/v1/tenants/${tenant.id}/projects`,
        query: 'page=1&limit=20',
        status: 200,
        clientIp: ip,
        ua: u.ua,
        auth,
      });
    else if (k === 1)
      em.add({
        ts: t,
        host: DEMO,
        method: 'GET',
        template: '/v1/tenants/{tenantId}/projects/{projectId}',
        path: `/v1/tenants/${tenant.id}/projects/${r.pick(tenant.projects)}`,
        status: 200,
        clientIp: ip,
        ua: u.ua,
        auth,
      });
    else
      em.add({
        ts: t,
        host: DEMO,
        method: 'GET',
        template: '/v1/tenants/{tenantId}/invoices/{invoiceId}',
        path: `/v1/tenants/${tenant.id}/invoices/${tenant.firstInvoice + r.int(0, tenant.invoices - 1)}`,
        status: 200,
        clientIp: ip,
        ua: u.ua,
        auth,
      });
  }
  return {
    variant: `${victims.length} foreign tenant(s), ${n} calls in ${minutes} min`,
    description: `${u.sub} of ${u.tenant?.id} read data of ${victims.map((t) => t.id).join(', ')}`,
    start,
    end: end(ts, start),
    attacker: [`user:${u.sub}`],
    attackerIsActor: true,
    graceMs: 30 * MIN,
  };
};

const shadowEndpoint: Injector = ({ rng: r, pop, em }, start, v) => {
  const shadows: Array<{ host: string; method: string; path: () => string }> = [
    { host: DEMO, method: 'GET', path: () => '/v1/internal/debug/config' },
    { host: DEMO, method: 'GET', path: () => `/v2/documents/${r.pick(pop.byApi.demo).docs[0]}` },
    { host: CRAPI, method: 'GET', path: () => '/identity/api/v2/user/debug-info' },
    { host: DEMO, method: 'POST', path: () => '/v1/admin/export-all-users' },
    { host: PETSTORE, method: 'GET', path: () => '/api/v3/internal/metrics-dump' },
  ];
  const s = shadows[v % shadows.length]!;
  const n = r.int(15, 200);
  const minutes = r.int(10, 90);
  const ts = times(r, start, minutes * MIN, n);
  const u = s.host === CRAPI ? r.pick(pop.byApi.crapi) : r.pick(pop.byApi.demo);
  const auth: WireAuth =
    s.host === CRAPI ? crapiToken(r, u, start) : s.host === DEMO ? demoToken(r, u, start) : { kind: 'none' };
  const ip = r.chance(0.5) ? u.homeIp : vps(r);
  const ua = r.pick(TOOL_UAS);
  for (const t of ts) {
    const path = s.path();
    em.add({
      ts: t,
      host: s.host,
      method: s.method,
      template: path,
      path,
      status: 200,
      clientIp: ip,
      ua,
      auth,
    });
  }
  return {
    variant: `${s.method} ${s.path().replace(/[0-9a-f-]{36}/, '{uuid}')}, ${n} calls in ${minutes} min`,
    description: 'calls answered 200 on an endpoint no loaded spec documents',
    // Each starts with its first call (the calls are spread over the attack, not from its first second).
    start: Math.round(ts[0] ?? start),
    end: end(ts, start),
    attacker: [],
    attackerIsEndpoint: true,
    graceMs: 60 * MIN,
  };
};

const zombieEndpoint: Injector = ({ rng: r, pop, em }, start, v) => {
  const petstore = v % 2 === 1;
  const n = r.int(10, 150);
  const minutes = r.int(10, 120);
  const ts = times(r, start, minutes * MIN, n);
  const ip = vps(r);
  const ua = r.pick(TOOL_UAS);
  const u = r.pick(pop.byApi.demo);
  const auth = demoToken(r, u, start);
  const p = r.pick(pop.partners.filter((x) => x.api === 'petstore'));
  for (const t of ts) {
    if (petstore)
      em.add({
        ts: t,
        host: PETSTORE,
        method: 'GET',
        template: '/api/v2/pet/findByTags',
        path: '/api/v2/pet/findByTags',
        query: `tags=${r.pick(['tag1', 'dogs', 'cats', 'sale'])}`,
        status: 200,
        clientIp: r.pick(p.ips),
        ua: p.ua,
        auth: { kind: 'apikey', key: p.key },
        consumer: { id: p.consumerId, username: p.name, credentialId: p.credentialId },
      });
    else {
      const doc = r.pick(pop.byApi.demo).docs[0]!;
      em.add({
        ts: t,
        host: DEMO,
        method: 'GET',
        template: '/v0/documents/{documentId}',
        path: `/v0/documents/${doc}`,
        status: r.chance(0.8) ? 200 : 404,
        clientIp: ip,
        ua,
        auth,
      });
    }
  }
  const route = petstore ? 'GET /api/v2/pet/findByTags' : 'GET /v0/documents/{documentId}';
  return {
    variant: `${route}, ${n} calls in ${minutes} min`,
    description: petstore
      ? 'calls to a retired API version (the spec documents /api/v3 only)'
      : 'calls to a deprecated operation',
    start: Math.round(ts[0] ?? start),
    end: end(ts, start),
    attacker: [],
    // The endpoint as the route stage names it (the retired path is in no spec, so inferred).
    attackerIsEndpoint: true,
    graceMs: 60 * MIN,
  };
};

const parameterViolation: Injector = ({ rng: r, pop, em }, start, v) => {
  const n = r.int(20, 250);
  const minutes = r.int(5, 40);
  const ts = times(r, start, minutes * MIN, n);
  const petstore = v % 3 === 2;
  const u = r.pick(pop.byApi.demo.filter((x) => x.role === 'member'));
  const auth = demoToken(r, u, start);
  const ip = r.chance(0.5) ? u.homeIp : vps(r);
  const ua = r.pick(TOOL_UAS);
  const t0 = u.tenant!.id;
  const p = r.pick(pop.partners.filter((x) => x.api === 'petstore'));
  const demoCases: Array<
    () => { method: string; template: string; path: string; query: string; status: number }
  > = [
    () => ({
      method: 'GET',
      template: '/v1/orders',
      path: '/v1/orders',
      query: `status=${encodeURIComponent(r.pick(["open' OR '1'='1", 'all', 'OPEN', '*', 'null']))}`,
      status: 400,
    }),
    () => ({
      method: 'GET',
      template: '/v1/tenants/{tenantId}/projects',
      path: `/v1/tenants/${t0}/projects`,
      query: `page=${r.pick(['-1', '0', '99999999', 'abc'])}&limit=${r.pick(['1000', '-5', 'x', '0'])}`,
      status: 400,
    }),
    () => ({
      method: 'GET',
      template: '/v1/tenants/{tenantId}/invoices/{invoiceId}',
      path: `/v1/tenants/${t0}/invoices/${r.pick(['abc', '1e9', '-1', '0x10', '1.5'])}`,
      query: '',
      status: 400,
    }),
    () => ({
      method: 'GET',
      template: '/v1/reports/export',
      path: '/v1/reports/export',
      query: `from=${r.pick(['yesterday', '2026-13-45', '0'])}&to=now`,
      status: 400,
    }),
    () => ({
      method: 'GET',
      template: '/v1/search',
      path: '/v1/search',
      query: `q=x&page=1&${r.pick(['debug=true', 'admin=1', 'role=admin', 'include_deleted=1'])}`,
      status: 200,
    }),
    () => ({
      method: 'GET',
      template: '/v1/invoices/lookup',
      path: '/v1/invoices/lookup',
      query: r.pick(['invoice_id=', 'invoice_id=abc', 'id=1', 'invoice_id=-3']),
      status: 400,
    }),
  ];
  for (const t of ts) {
    if (petstore) {
      const bad = r.chance(0.5);
      em.add({
        ts: t,
        host: PETSTORE,
        method: 'GET',
        template: bad ? '/pet/findByStatus' : '/pet/{petId}',
        path: bad ? '/api/v3/pet/findByStatus' : `/api/v3/pet/${r.pick(['abc', '-1', '1.5', 'null'])}`,
        query: bad ? `status=${r.pick(['unknown', 'deleted', 'ALL'])}` : '',
        status: 400,
        clientIp: r.pick(p.ips),
        ua: p.ua,
        auth: { kind: 'apikey', key: p.key },
        consumer: { id: p.consumerId, username: p.name, credentialId: p.credentialId },
      });
    } else em.add({ ts: t, host: DEMO, clientIp: ip, ua, auth, ...r.pick(demoCases)() });
  }
  return {
    variant: `${petstore ? 'petstore partner key' : 'demo user'}, ${n} malformed calls in ${minutes} min`,
    description: 'parameter tampering: values outside types, enums, ranges; unknown parameters',
    start: Math.round(ts[0] ?? start),
    end: end(ts, start),
    attacker: petstore ? [`service:${p.name}`] : [`user:${u.sub}`],
    attackerIsActor: true,
    graceMs: 30 * MIN,
  };
};

const undocumentedOperation: Injector = ({ rng: r, pop, em }, start, v) => {
  const ops = [
    {
      host: DEMO,
      method: 'DELETE',
      template: '/v1/documents/{documentId}',
      path: () => `/v1/documents/${r.pick(pop.byApi.demo).docs[0]}`,
      status: 204,
    },
    {
      host: DEMO,
      method: 'PATCH',
      template: '/v1/tenants/{tenantId}/invoices/{invoiceId}',
      path: () => `/v1/tenants/${r.pick(pop.tenants.slice(0, 6)).id}/invoices/${10_000 + r.int(0, 900)}`,
      status: 200,
    },
    {
      host: CRAPI,
      method: 'DELETE',
      template: '/workshop/api/shop/orders/{order_id}',
      path: () => `/workshop/api/shop/orders/${r.int(5000, pop.crapiOrders - 1)}`,
      status: 200,
    },
    {
      host: DEMO,
      method: 'PUT',
      template: '/v1/orders/{orderId}',
      path: () => `/v1/orders/${r.int(30_000, 40_000)}`,
      status: 200,
    },
  ];
  const op = ops[v % ops.length]!;
  const n = r.int(8, 80);
  const minutes = r.int(5, 60);
  const ts = times(r, start, minutes * MIN, n);
  const u = op.host === CRAPI ? r.pick(pop.byApi.crapi) : r.pick(pop.byApi.demo);
  const auth = op.host === CRAPI ? crapiToken(r, u, start) : demoToken(r, u, start);
  const ip = vps(r);
  const ua = r.pick(TOOL_UAS);
  for (const t of ts)
    em.add({
      ts: t,
      host: op.host,
      method: op.method,
      template: op.template,
      path: op.path(),
      status: op.status,
      clientIp: ip,
      ua,
      auth,
    });
  return {
    variant: `${op.method} ${op.template}, ${n} calls in ${minutes} min`,
    description: 'method tampering: a method the spec does not document, answered with success',
    start,
    end: end(ts, start),
    attacker: [`endpoint:${op.method} ${op.template}`],
    graceMs: 60 * MIN,
  };
};

const unauthenticatedAccess: Injector = ({ rng: r, pop, em }, start, v) => {
  const ops = [
    {
      host: DEMO,
      template: '/v1/tenants/{tenantId}/invoices/{invoiceId}',
      path: () => {
        const t = r.pick(pop.tenants.slice(0, 10));
        return `/v1/tenants/${t.id}/invoices/${t.firstInvoice + r.int(0, t.invoices - 1)}`;
      },
    },
    {
      host: CRAPI,
      template: '/workshop/api/shop/orders/{order_id}',
      path: () => `/workshop/api/shop/orders/${r.int(5000, pop.crapiOrders - 1)}`,
    },
    {
      host: CRAPI,
      template: '/identity/api/v2/vehicle/{vehicleId}/location',
      path: () => `/identity/api/v2/vehicle/${r.pick(pop.vehicles)}/location`,
    },
    {
      host: DEMO,
      template: '/v1/documents/{documentId}',
      path: () => `/v1/documents/${r.pick(pop.byApi.demo).docs[0]}`,
    },
  ];
  const op = ops[v % ops.length]!;
  const n = r.int(10, 200);
  const minutes = r.int(5, 60);
  const ts = times(r, start, minutes * MIN, n);
  const ips = Array.from({ length: r.int(1, 3) }, () => vps(r));
  const ua = r.pick(TOOL_UAS);
  for (const t of ts)
    em.add({
      ts: t,
      host: op.host,
      method: 'GET',
      template: op.template,
      path: op.path(),
      status: 200,
      clientIp: r.pick(ips),
      ua,
      auth: { kind: 'none' },
    });
  return {
    variant: `GET ${op.template} without credentials, ${n} calls in ${minutes} min from ${ips.length} address(es)`,
    description: 'successful calls without authentication on an operation that requires it',
    start,
    end: end(ts, start),
    attacker: [`endpoint:GET ${op.template}`],
    graceMs: 60 * MIN,
  };
};

const missingScope: Injector = ({ rng: r, pop, em }, start, v) => {
  const u = r.pick(pop.byApi.demo.filter((x) => x.role === 'member' && !x.scopes.includes('reports:read')));
  const auth = demoToken(r, u, start);
  const n = r.int(2, 25);
  const minutes = r.int(2, 30);
  const ts = times(r, start, minutes * MIN, n);
  const t0 = u.tenant!;
  const ip = u.tenant?.officeIp && r.chance(0.5) ? u.tenant.officeIp : u.homeIp;
  const mates = pop.byApi.demo.filter((x) => x.tenant === t0 && x !== u);
  for (const t of ts) {
    const k = (v + r.int(0, 3)) % 4;
    if (k === 0)
      em.add({
        ts: t,
        host: DEMO,
        method: 'GET',
        template: '/v1/tenants/{tenantId}/users',
        path: `/v1/tenants/${t0.id}/users`,
        status: 200,
        clientIp: ip,
        ua: u.ua,
        auth,
      });
    else if (k === 1)
      em.add({
        ts: t,
        host: DEMO,
        method: 'DELETE',
        template: '/v1/tenants/{tenantId}/users/{userId}',
        path: `/v1/tenants/${t0.id}/users/${r.pick(mates.length > 0 ? mates : [u]).sub}`,
        status: 204,
        clientIp: ip,
        ua: u.ua,
        auth,
      });
    else if (k === 2)
      em.add({
        ts: t,
        host: DEMO,
        method: 'GET',
        template: '/v1/admin/audit-log',
        path: '/v1/admin/audit-log',
        query: `page=${r.int(1, 5)}`,
        status: 200,
        clientIp: ip,
        ua: u.ua,
        auth,
      });
    else
      em.add({
        ts: t,
        host: DEMO,
        method: 'GET',
        template: '/v1/reports/export',
        path: '/v1/reports/export',
        query: 'from=2026-01-01&to=2026-12-31',
        status: 200,
        clientIp: ip,
        ua: u.ua,
        auth,
        respBytes: Math.round(r.logNormal(2_000_000, 0.5)),
      });
  }
  return {
    variant: `${n} privileged calls in ${minutes} min`,
    description: `${u.sub} (scopes ${u.scopes.join(' ')}) succeeded on operations that require admin or reports:read`,
    start,
    end: end(ts, start),
    attacker: [`user:${u.sub}`],
    attackerIsActor: true,
    graceMs: 30 * MIN,
  };
};

const routeSpike: Injector = ({ rng: r, pop, em }, start, v) => {
  const routes = [
    {
      host: CRAPI,
      template: '/workshop/api/shop/products',
      path: '/workshop/api/shop/products',
      api: 'crapi' as const,
    },
    { host: DEMO, template: '/v1/search', path: '/v1/search', api: 'demo' as const },
    { host: VAMPI, template: '/books/v1', path: '/books/v1', api: 'vampi' as const },
    {
      host: CRAPI,
      template: '/community/api/v2/community/posts/recent',
      path: '/community/api/v2/community/posts/recent',
      api: 'crapi' as const,
    },
  ];
  const route = routes[v % routes.length]!;
  const bots = r.int(40, 300);
  const perMin = r.int(80, 500);
  const minutes = r.int(10, 40);
  const ts = times(r, start, minutes * MIN, perMin * minutes);
  // Freshly registered bot accounts, each a few calls a minute: no single actor stands out.
  const botAuth: WireAuth[] = [];
  const botIp: string[] = proxyPool(r, bots);
  for (let i = 0; i < bots; i++) {
    const sub =
      route.api === 'crapi'
        ? `bot${r.hex(3)}@mail.example`
        : route.api === 'vampi'
          ? `bot${r.hex(3)}`
          : `u_${r.hex(4)}`;
    const iss =
      route.api === 'crapi'
        ? 'https://crapi.example.com/identity'
        : route.api === 'vampi'
          ? 'vampi'
          : 'https://idp.demo.example/';
    botAuth.push({
      kind: 'jwt',
      token: userToken(r, {
        iss,
        sub,
        iat: start,
        ...(route.api === 'demo'
          ? { tenant: 'vandelay', scopes: ['documents:read'], clientId: 'demo-web' }
          : {}),
      }),
    });
  }
  const ua = r.pick(TOOL_UAS);
  for (const t of ts) {
    const b = r.int(0, bots - 1);
    const query =
      route.template === '/v1/search'
        ? `q=${r.pick(['a', 'the', 'invoice', 'price'])}&page=1`
        : route.template.endsWith('recent')
          ? 'limit=30&offset=0'
          : '';
    em.add({
      ts: t,
      host: route.host,
      method: 'GET',
      template: route.template,
      path: route.path,
      query,
      status: 200,
      clientIp: botIp[b]!,
      ua,
      auth: botAuth[b]!,
    });
  }
  void pop;
  return {
    variant: `GET ${route.template}, ${perMin}/min for ${minutes} min from ${bots} bot accounts`,
    description: 'request flood on one route, spread over many actors',
    start,
    end: end(ts, start),
    attacker: [`endpoint:GET ${route.template}`],
    graceMs: 30 * MIN,
  };
};

const actorSpike: Injector = ({ rng: r, pop, em }, start, v) => {
  const perMin = r.int(20, 120);
  const minutes = r.int(15, 60);
  const ts = times(r, start, minutes * MIN, perMin * minutes);
  const variant = ['demo-user-polling', 'crapi-user-script', 'petstore-partner-loop'][v % 3]!;
  if (variant === 'petstore-partner-loop') {
    const p = r.pick(pop.partners.filter((x) => x.api === 'petstore'));
    const auth: WireAuth = { kind: 'apikey', key: p.key };
    for (const t of ts)
      em.add({
        ts: t,
        host: PETSTORE,
        method: 'GET',
        template: '/store/inventory',
        path: '/api/v3/store/inventory',
        status: 200,
        clientIp: p.ips[0]!,
        ua: p.ua,
        auth,
        consumer: { id: p.consumerId, username: p.name, credentialId: p.credentialId },
      });
    return {
      variant: `${variant}, ${perMin}/min for ${minutes} min`,
      description: `${p.name} called 100× its habit`,
      start,
      end: end(ts, start),
      attacker: [`service:${p.name}`],
      attackerIsActor: true,
      graceMs: 30 * MIN,
    };
  }
  const crapi = variant.startsWith('crapi');
  const u = r.pick(
    (crapi ? pop.byApi.crapi : pop.byApi.demo).filter((x) => x.activity > 0.4 && x.role !== 'support'),
  );
  const auth = crapi ? crapiToken(r, u, start) : demoToken(r, u, start);
  const ip = r.chance(0.5) ? u.homeIp : vps(r);
  for (const t of ts) {
    if (crapi)
      em.add({
        ts: t,
        host: CRAPI,
        method: 'GET',
        template: '/identity/api/v2/user/dashboard',
        path: '/identity/api/v2/user/dashboard',
        status: 200,
        clientIp: ip,
        ua: u.ua,
        auth,
      });
    else if (r.chance(0.5))
      em.add({
        ts: t,
        host: DEMO,
        method: 'GET',
        template: '/v1/me',
        path: '/v1/me',
        status: 200,
        clientIp: ip,
        ua: u.ua,
        auth,
      });
    else
      em.add({
        ts: t,
        host: DEMO,
        method: 'GET',
        template: '/v1/orders',
        path: '/v1/orders',
        query: 'status=open',
        status: 200,
        clientIp: ip,
        ua: u.ua,
        auth,
      });
  }
  return {
    variant: `${variant}, ${perMin}/min for ${minutes} min`,
    description: `${u.sub} called far above its own habit`,
    start,
    end: end(ts, start),
    attacker: [`user:${u.sub}`],
    attackerIsActor: true,
    graceMs: 30 * MIN,
  };
};

const errorSpike: Injector = ({ rng: r, pop, em }, start, v) => {
  const minutes = r.int(10, 40);
  const share = 0.3 + r.float() * 0.5;
  if (v % 2 === 0) {
    // Export exhaustion: a flood of heavy exports fills the queue, everyone gets 503s.
    const u = r.pick(pop.byApi.demo.filter((x) => x.role === 'member'));
    const auth = demoToken(r, u, start);
    const n = r.int(100, 400);
    const ts = times(r, start, minutes * MIN, n);
    for (const t of ts)
      em.add({
        ts: t,
        host: DEMO,
        method: 'GET',
        template: '/v1/reports/export',
        path: '/v1/reports/export',
        query: 'from=2020-01-01&to=2026-12-31',
        status: r.chance(share) ? 503 : 200,
        clientIp: vps(r),
        ua: r.pick(TOOL_UAS),
        auth,
        latencyMs: 30_000,
      });
    return {
      variant: `export exhaustion, ${n} heavy exports in ${minutes} min, ${(share * 100).toFixed(0)}% 503`,
      description: 'resource exhaustion: the export route answers 503',
      start,
      end: end(ts, start),
      attacker: ['endpoint:GET /v1/reports/export'],
      graceMs: 30 * MIN,
      effect: { host: DEMO, method: 'GET', template: '/v1/reports/export', share, mode: 'errors' },
    };
  }
  // A crafted order body crashes the order service for everyone ordering.
  const u = r.pick(pop.byApi.crapi);
  const auth = crapiToken(r, u, start);
  const n = r.int(60, 300);
  const ts = times(r, start, minutes * MIN, n);
  const ip = vps(r);
  for (const t of ts)
    em.add({
      ts: t,
      host: CRAPI,
      method: 'GET',
      template: '/workshop/api/shop/orders/all',
      path: '/workshop/api/shop/orders/all',
      status: r.chance(share) ? 500 : 200,
      clientIp: ip,
      ua: r.pick(TOOL_UAS),
      auth,
    });
  return {
    variant: `orders crash, ${n} calls in ${minutes} min, ${(share * 100).toFixed(0)}% 500`,
    description: 'the orders route fails with 500s under crafted requests',
    start,
    end: end(ts, start),
    attacker: ['endpoint:GET /workshop/api/shop/orders/all'],
    graceMs: 30 * MIN,
    effect: { host: CRAPI, method: 'GET', template: '/workshop/api/shop/orders/all', share, mode: 'errors' },
  };
};

const exfiltration: Injector = ({ rng: r, pop, em }, start, v) => {
  const u = r.pick(pop.byApi.demo.filter((x) => x.role === 'member' && x.activity > 0.4));
  const auth = demoToken(r, u, start);
  const minutes = r.int(20, 90);
  const ip = r.chance(0.5) ? u.homeIp : vps(r);
  const exports = v % 2 === 1;
  const n = exports ? r.int(15, 60) : r.int(40, 150);
  const ts = times(r, start, minutes * MIN, n);
  const docs = [...u.docs, ...(u.tenant?.sharedDocs ?? [])];
  let bytes = 0;
  for (const t of ts) {
    const size = exports
      ? Math.round(r.logNormal(150_000_000, 0.4))
      : Math.round(r.logNormal(15_000_000, 0.6));
    bytes += size;
    if (exports)
      em.add({
        ts: t,
        host: DEMO,
        method: 'GET',
        template: '/v1/reports/export',
        path: '/v1/reports/export',
        query: `from=20${r.int(18, 25)}-01-01&to=2026-12-31`,
        status: 200,
        clientIp: ip,
        ua: u.ua,
        auth,
        respBytes: size,
        latencyMs: Math.round(r.logNormal(20_000, 0.3)),
      });
    else
      em.add({
        ts: t,
        host: DEMO,
        method: 'GET',
        template: '/v1/documents/{documentId}/download',
        path: `/v1/documents/${r.pick(docs)}/download`,
        status: 200,
        clientIp: ip,
        ua: u.ua,
        auth,
        respBytes: size,
        latencyMs: Math.round(r.logNormal(5000, 0.4)),
      });
  }
  return {
    variant: `${exports ? 'report exports' : 'document downloads'}, ${n} calls, ${(bytes / 1e9).toFixed(1)} GB in ${minutes} min`,
    description: `${u.sub} pulled far more bytes than it ever did`,
    start,
    end: end(ts, start),
    attacker: [`user:${u.sub}`],
    attackerIsActor: true,
    graceMs: 30 * MIN,
  };
};

const routeDrop: Injector = ({ rng: r }, start, v) => {
  const routes = [
    { host: DEMO, method: 'GET', template: '/v1/tenants/{tenantId}/projects/{projectId}' },
    { host: CRAPI, method: 'GET', template: '/community/api/v2/community/posts/recent' },
    { host: DEMO, method: 'POST', template: '/v1/events' },
    { host: CRAPI, method: 'GET', template: '/identity/api/v2/user/dashboard' },
  ];
  const route = routes[v % routes.length]!;
  // A drop is only visible where traffic is expected: move the start into working hours.
  let s = start;
  while (weekday(s) >= 5 || new Date(s).getUTCHours() < 9 || new Date(s).getUTCHours() > 14) s += HOUR;
  const minutes = r.int(30, 120);
  const keep = r.float() * 0.05;
  return {
    variant: `${route.method} ${route.template}, ${minutes} min at ${(keep * 100).toFixed(0)}% of its traffic`,
    description: 'traffic on a busy route stops (diverted or blocked upstream)',
    start: s,
    end: s + minutes * MIN,
    attacker: [`endpoint:${route.method} ${route.template}`],
    graceMs: 60 * MIN,
    effect: { ...route, share: keep, mode: 'drop' },
  };
};

const scraping: Injector = ({ rng: r, pop, em }, start, v) => {
  const variant = ['demo-search-pages', 'crapi-posts-offset', 'petstore-catalogue', 'demo-project-pages'][
    v % 4
  ]!;
  const pages = r.int(150, 1500);
  const perMin = r.int(20, 150);
  const ts = times(r, start, (pages / perMin) * MIN, pages);
  const word = r.pick(['a', 'e', 'contract', 'invoice', 'report']);
  if (variant === 'petstore-catalogue') {
    const p = r.pick(pop.partners.filter((x) => x.api === 'petstore'));
    const auth: WireAuth = { kind: 'apikey', key: p.key };
    ts.forEach((t, i) => {
      em.add({
        ts: t,
        host: PETSTORE,
        method: 'GET',
        template: '/pet/{petId}',
        path: `/api/v3/pet/${1 + (i % 5000)}`,
        status: 200,
        clientIp: r.pick(p.ips),
        ua: p.ua,
        auth,
        consumer: { id: p.consumerId, username: p.name, credentialId: p.credentialId },
      });
    });
    return {
      variant: `${variant}, ${pages} pets at ${perMin}/min`,
      description: `${p.name} copied the catalogue`,
      start,
      end: end(ts, start),
      attacker: [`service:${p.name}`],
      attackerIsActor: true,
      graceMs: 30 * MIN,
    };
  }
  const crapi = variant.startsWith('crapi');
  const u = r.pick((crapi ? pop.byApi.crapi : pop.byApi.demo).filter((x) => x.role === 'member'));
  const auth = crapi ? crapiToken(r, u, start) : demoToken(r, u, start);
  const ip = r.chance(0.5) ? u.homeIp : vps(r);
  const ua = r.chance(0.5) ? u.ua : r.pick(TOOL_UAS);
  ts.forEach((t, i) => {
    if (variant === 'demo-search-pages')
      em.add({
        ts: t,
        host: DEMO,
        method: 'GET',
        template: '/v1/search',
        path: '/v1/search',
        query: `q=${word}&page=${i + 1}`,
        status: 200,
        clientIp: ip,
        ua,
        auth,
      });
    else if (variant === 'crapi-posts-offset')
      em.add({
        ts: t,
        host: CRAPI,
        method: 'GET',
        template: '/community/api/v2/community/posts/recent',
        path: '/community/api/v2/community/posts/recent',
        query: `limit=30&offset=${30 * i}`,
        status: 200,
        clientIp: ip,
        ua,
        auth,
      });
    else
      em.add({
        ts: t,
        host: DEMO,
        method: 'GET',
        template: '/v1/tenants/{tenantId}/projects',
        path: `/v1/tenants/${u.tenant!.id}/projects`,
        query: `page=${1 + (i % 60)}&limit=100`,
        status: 200,
        clientIp: ip,
        ua,
        auth,
      });
  });
  return {
    variant: `${variant}, ${pages} pages at ${perMin}/min`,
    description: `${u.sub} paged through far more than its habit`,
    start,
    end: end(ts, start),
    attacker: [`user:${u.sub}`],
    attackerIsActor: true,
    graceMs: 30 * MIN,
  };
};

const WORDS = [
  'admin',
  'backup',
  'config',
  'debug',
  'internal',
  'test',
  'old',
  'dev',
  'staging',
  'api',
  'private',
  'export',
  'users',
  'login',
  'console',
  'manage',
  'system',
  'status',
  'metrics',
  'graphql',
  'swagger',
  'actuator',
  'phpmyadmin',
  'wp-admin',
  'server-status',
  '.git',
  '.env',
  'db',
  'dump',
  'secret',
];
const EXTS = ['', '.php', '.bak', '.zip', '.json', '.old', '.sql', '.tar.gz', '.yml'];

const forcedBrowsing: Injector = ({ rng: r, pop, em }, start, v) => {
  const n = r.int(100, 1200);
  const perMin = r.int(30, 600);
  const ts = times(r, start, (n / perMin) * MIN, n);
  const host = [DEMO, CRAPI, VAMPI][v % 3]!;
  const authenticated = v % 4 === 3;
  const u = r.pick(pop.byApi.demo);
  const auth: WireAuth = authenticated ? demoToken(r, u, start) : { kind: 'none' };
  const ip = vps(r);
  const ua = r.pick([
    'ffuf/2.1.0',
    'gobuster/3.6',
    'Mozilla/5.0 (compatible; Nuclei)',
    'feroxbuster/2.10.1',
    ...TOOL_UAS,
  ]);
  const prefix =
    host === DEMO
      ? r.pick(['', '/v1', '/v1/admin'])
      : host === CRAPI
        ? r.pick(['', '/identity/api', '/workshop/api'])
        : r.pick(['', '/users/v1']);
  const seen = new Set<string>();
  for (const t of ts) {
    let path = '';
    do path = `${prefix}/${r.pick(WORDS)}${r.chance(0.4) ? `/${r.pick(WORDS)}` : ''}${r.pick(EXTS)}`;
    while (seen.has(path) && seen.size < WORDS.length * EXTS.length * 5);
    seen.add(path);
    em.add({
      ts: t,
      host,
      method: 'GET',
      template: path,
      path,
      status: r.chance(0.95) ? 404 : 403,
      clientIp: ip,
      ua,
      auth,
    });
  }
  return {
    variant: `${host}, ${n} wordlist paths at ${perMin}/min${authenticated ? ', authenticated' : ''}`,
    description: `forced browsing from ${ip}`,
    start,
    end: end(ts, start),
    attacker: [`ip:${ip}`, ...(authenticated ? [`user:${u.sub}`] : [])],
    attackerIsActor: true,
    graceMs: 30 * MIN,
  };
};

const PROBES = [
  '/v1/documents/..%2f..%2f..%2fetc%2fpasswd',
  '/v1/documents/....//....//etc/passwd',
  '/..;/..;/etc/passwd',
  '/static/../../../../windows/win.ini',
  '/v1/orders/1%20OR%201=1',
  "/v1/orders/1'%20UNION%20SELECT%20NULL,NULL--",
  '/api/v3/pet/1%27%20AND%20SLEEP(5)--',
  '/v1/search/%3Cscript%3Ealert(1)%3C%2Fscript%3E',
  '/v1/%24%7Bjndi%3Aldap%3A%2F%2Fx.example%2Fa%7D',
  '/v1/tenants/%7B%7B7*7%7D%7D/projects',
  '/identity/api/v2/vehicle/1;cat%20%2Fetc%2Fpasswd/location',
  '/workshop/api/shop/orders/1%7C%7Cid',
  '/v1/documents/%2e%2e%2f%2e%2e%2fproc%2fself%2fenviron',
  '/books/v1/x%22%20or%20%221%22=%221',
  '/v1/me/%00',
];

const injectionProbe: Injector = ({ rng: r, em }, start) => {
  const n = r.int(20, 300);
  const perMin = r.int(5, 120);
  const ts = times(r, start, (n / perMin) * MIN, n);
  const ip = vps(r);
  const ua = r.pick([
    'sqlmap/1.8.2#stable (https://sqlmap.org)',
    'Mozilla/5.0 (compatible; Nuclei)',
    ...TOOL_UAS,
  ]);
  for (const t of ts) {
    const probe = r.pick(PROBES);
    const host =
      probe.startsWith('/identity') || probe.startsWith('/workshop')
        ? CRAPI
        : probe.startsWith('/books')
          ? VAMPI
          : probe.startsWith('/api/v3')
            ? PETSTORE
            : DEMO;
    const salt = r.chance(0.5) ? '' : `${probe.includes('?') ? '&' : '?'}x=${r.int(1, 999)}`;
    em.add({
      ts: t,
      host,
      method: 'GET',
      template: probe,
      path: probe,
      query: salt.slice(1),
      status: r.weighted([
        [400, 3],
        [404, 5],
        [403, 1],
        [500, 1],
      ]),
      clientIp: ip,
      ua,
      auth: { kind: 'none' },
    });
  }
  return {
    variant: `${n} probes at ${perMin}/min`,
    description: `traversal and injection probes from ${ip}`,
    start,
    end: end(ts, start),
    attacker: [`ip:${ip}`],
    attackerIsActor: true,
    graceMs: 30 * MIN,
  };
};

/** Every attack kind of the catalogue with its injector, in catalogue order. */
export const ATTACKS: ReadonlyArray<{ kind: string; inject: Injector; needsIdentity: boolean }> = [
  { kind: 'auth.brute_force', inject: bruteForce, needsIdentity: false },
  { kind: 'auth.credential_stuffing', inject: credentialStuffing, needsIdentity: false },
  { kind: 'auth.password_spraying', inject: passwordSpraying, needsIdentity: false },
  { kind: 'auth.key_guessing', inject: keyGuessing, needsIdentity: true },
  { kind: 'auth.credential_abuse', inject: credentialAbuse, needsIdentity: true },
  { kind: 'auth.success_after_failures', inject: successAfterFailures, needsIdentity: false },
  { kind: 'bola.object_enumeration', inject: objectEnumeration, needsIdentity: false },
  { kind: 'bola.cross_principal', inject: crossPrincipal, needsIdentity: true },
  { kind: 'bola.cross_tenant', inject: crossTenant, needsIdentity: true },
  { kind: 'spec.shadow_endpoint', inject: shadowEndpoint, needsIdentity: false },
  { kind: 'spec.zombie_endpoint', inject: zombieEndpoint, needsIdentity: false },
  { kind: 'spec.parameter_violation', inject: parameterViolation, needsIdentity: false },
  { kind: 'spec.undocumented_operation', inject: undocumentedOperation, needsIdentity: false },
  { kind: 'spec.unauthenticated_access', inject: unauthenticatedAccess, needsIdentity: true },
  { kind: 'spec.missing_scope', inject: missingScope, needsIdentity: true },
  { kind: 'volume.route_spike', inject: routeSpike, needsIdentity: false },
  { kind: 'volume.actor_spike', inject: actorSpike, needsIdentity: true },
  { kind: 'volume.error_spike', inject: errorSpike, needsIdentity: false },
  { kind: 'volume.exfiltration', inject: exfiltration, needsIdentity: true },
  { kind: 'volume.route_drop', inject: routeDrop, needsIdentity: false },
  { kind: 'volume.scraping', inject: scraping, needsIdentity: true },
  { kind: 'recon.forced_browsing', inject: forcedBrowsing, needsIdentity: false },
  { kind: 'recon.injection_probe', inject: injectionProbe, needsIdentity: false },
];

export const ATTACK_KINDS: readonly string[] = ATTACKS.map((a) => a.kind);

/**
 * Injects `perKind` attacks of every kind into the scored period, on a shuffled grid of start
 * times (so kinds interleave and no two start together), each on its own seeded stream.
 */
export function injectAttacks(
  ctx: AttackContext,
  perKind: number,
  labels: LabelDraft[],
  kinds: readonly string[] = ATTACK_KINDS,
): Array<LabelDraft & { needsIdentity: boolean }> {
  const chosen = ATTACKS.filter((a) => kinds.includes(a.kind));
  const slots: Array<{ attack: (typeof ATTACKS)[number]; i: number }> = [];
  for (const attack of chosen) for (let i = 0; i < perKind; i++) slots.push({ attack, i });
  const order = ctx.rng.fork('schedule').shuffle(slots.map((_, j) => j));
  // Leave the last 12 hours free so the slowest attack ends inside the corpus.
  const span = ctx.scoredEnd - ctx.scoredStart - 12 * HOUR;
  const out: Array<LabelDraft & { needsIdentity: boolean }> = [];
  slots.forEach((slot, j) => {
    const r = ctx.rng.fork(`${slot.attack.kind}#${slot.i}`);
    const start = Math.round(
      ctx.scoredStart + ((order[j]! + 0.5) * span) / slots.length + (r.float() - 0.5) * 20 * MIN,
    );
    ctx.em.label = labels.length;
    const draft = slot.attack.inject({ ...ctx, rng: r }, start, slot.i);
    ctx.em.label = -1;
    const label = { kind: slot.attack.kind, ...draft, needsIdentity: slot.attack.needsIdentity };
    labels.push(label);
    out.push(label);
  });
  void DAY;
  return out;
}
