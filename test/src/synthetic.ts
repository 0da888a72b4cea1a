import { createHash } from 'node:crypto';
import type { ApiEvent } from '@apiwatch/core';
import { mulberry32 } from './random.ts';

/**
 * Synthetic gateway traffic with realistic cardinalities, for the store's tests and benchmarks.
 * Deterministic per seed. `rateAt` shapes volume over time (the baselines test injects a weekly
 * pattern through it). The assumptions (docs/decisions/0005-event-storage-size.md), chosen to be
 * neither kinder nor harsher to the store than gateway traffic is:
 *
 * - 20 tenants × 12 routes (240 route templates), Zipf-like route popularity; two thirds of the
 *   routes carry an object id in the path (Zipf over 1k–100k objects per route).
 * - Four hosts, one gateway each, each of another source kind (kong, envoy-als, aws-apigw, otlp).
 *   Event ids look like buildEvent's: `<source>:<gateway request id>` (32 hex for Kong, a UUID for
 *   Envoy and API Gateway) and `otlp:<trace id>:<span id>` for spans.
 * - Tracing follows the source: every OTLP span has a trace/span id, Envoy samples 50 %, Kong and
 *   API Gateway (X-Ray) carry one only when the client sent a traceparent or sampling hit (5 %).
 * - 20k credentials with Zipf-like activity (the top credential makes ~4 % of the calls, the top
 *   1 % about a quarter); 4 in 5 are JWT users, 1 in 5 API keys. Fingerprints are shaped like the
 *   identity context's (`k1:` + 32 base64url of an HMAC). A JWT's fingerprint is the token's, so it
 *   changes when the token is re-issued (hourly, staggered per user); an API key's never changes.
 * - 30k client IPs, mostly one per credential (10 % of calls from elsewhere); 300 user agents.
 * - Event time increasing with exponential gaps; ingest 200–1000 ms later; log-normal latencies
 *   and sizes; statuses mostly 2xx, 2 % 401 (auth failures).
 */
export interface SyntheticOptions {
  seed?: number;
  /** Event time of the first event, ms. */
  startMs?: number;
  /** Mean gap between events, ms (before rateAt). */
  meanGapMs?: number;
  tenants?: number;
  routesPerTenant?: number;
  credentials?: number;
  clientIps?: number;
  userAgents?: number;
  /**
   * Share of events that carry a W3C trace id, for every source alike. Without it the share
   * follows the source (OTLP 100 %, Envoy 50 %, Kong and API Gateway 5 %).
   */
  traceFraction?: number;
  /** Relative traffic rate at a time (1 = meanGapMs); values below 1 thin traffic out. */
  rateAt?: (ts: number) => number;
}

const RESOURCES = [
  'users',
  'orders',
  'invoices',
  'accounts',
  'payments',
  'products',
  'carts',
  'shipments',
  'documents',
  'tickets',
];
const UA_BASE = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64)',
  'okhttp/4.12.0',
  'python-requests/2.31',
  'Go-http-client/2.0',
  'curl/8.5.0',
  'axios/1.6.7',
  'Dalvik/2.1.0 (Linux; U; Android 14)',
  'MyApp/5.3 (iPhone; iOS 17.2)',
];
const STATUS_MIX: Array<[number, number]> = [
  [200, 0.78],
  [201, 0.05],
  [204, 0.03],
  [304, 0.02],
  [400, 0.025],
  [401, 0.02],
  [403, 0.01],
  [404, 0.04],
  [429, 0.01],
  [500, 0.01],
  [503, 0.005],
];

/** One gateway per host; the share of its events that carry a trace id. */
const SOURCES = [
  { kind: 'kong', traced: 0.05 },
  { kind: 'envoy-als', traced: 0.5 },
  { kind: 'aws-apigw', traced: 0.05 },
  { kind: 'otlp', traced: 1 },
] as const;

interface RouteDef {
  tenant: string;
  host: string;
  method: string;
  template: string;
  param: string | null;
  objectSpace: number;
}

export function syntheticEvents(count: number, options: SyntheticOptions = {}): ApiEvent[] {
  const out: ApiEvent[] = [];
  for (const e of syntheticEventStream(count, options)) out.push(e);
  return out;
}

export function* syntheticEventStream(count: number, options: SyntheticOptions = {}): Generator<ApiEvent> {
  const rnd = mulberry32(options.seed ?? 1);
  const tenants = options.tenants ?? 20;
  const routesPerTenant = options.routesPerTenant ?? 12;
  const credentials = options.credentials ?? 20_000;
  const ips = options.clientIps ?? 30_000;
  const uas = options.userAgents ?? 300;
  const traceFraction = options.traceFraction;
  const meanGap = options.meanGapMs ?? 5;
  const rateAt = options.rateAt ?? (() => 1);
  const zipf = (n: number, s = 1.1) => Math.min(n - 1, Math.floor(n * rnd() ** (1 + s * 2)));
  const routes: RouteDef[] = [];
  for (let t = 0; t < tenants; t++) {
    for (let r = 0; r < routesPerTenant; r++) {
      const resource = RESOURCES[(t + r) % RESOURCES.length]!;
      const withId = r % 3 !== 0;
      const method = withId
        ? (['GET', 'GET', 'PUT', 'DELETE', 'PATCH'][r % 5] as string)
        : (['GET', 'POST'][r % 2] as string);
      routes.push({
        tenant: `tenant-${t}`,
        host: `api${t % 4}.example.com`,
        method,
        template: withId ? `/v${1 + (r % 2)}/${resource}/{${resource.slice(0, -1)}Id}` : `/v1/${resource}`,
        param: withId ? `${resource.slice(0, -1)}Id` : null,
        objectSpace: 1000 + Math.floor(rnd() * 100_000),
      });
    }
  }
  const uaList = Array.from({ length: uas }, (_, i) => `${UA_BASE[i % UA_BASE.length]} build/${i}`);
  const fp = (secret: string) => `k1:${createHash('sha256').update(secret).digest('base64url').slice(0, 32)}`;
  const hex = (bytes: number) => {
    let s = '';
    for (let i = 0; i < bytes; i++)
      s += Math.floor(rnd() * 256)
        .toString(16)
        .padStart(2, '0');
    return s;
  };
  const uuid = () => {
    const h = hex(16);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  };
  let ts = options.startMs ?? Date.UTC(2025, 0, 6);
  let n = 0;
  while (n < count) {
    ts += Math.max(1, Math.round(-Math.log(1 - rnd()) * meanGap));
    if (rnd() > Math.min(1, rateAt(ts))) continue;
    const route = routes[zipf(routes.length, 0.6)]!;
    const cred = zipf(credentials);
    const ip = (cred * 7 + (rnd() < 0.1 ? Math.floor(rnd() * ips) : 0)) % ips;
    let u = rnd();
    let status = 200;
    for (const [s, p] of STATUS_MIX) {
      if (u < p) {
        status = s;
        break;
      }
      u -= p;
    }
    const auth = status === 401 ? 'failure' : 'success';
    const objectId = route.param ? String(1 + zipf(route.objectSpace, 0.4)) : null;
    const path = route.param ? route.template.replace(/\{[^}]+\}/, objectId!) : route.template;
    const source = SOURCES[Number(route.host.slice(3, 4)) % SOURCES.length]!;
    const traced = rnd() < (traceFraction ?? source.traced);
    const traceId = traced ? hex(16) : null;
    const spanId = traced ? hex(8) : null;
    const isUser = cred % 5 !== 0;
    // A JWT is re-issued hourly (staggered per user), and its fingerprint is the token's.
    const token = isUser ? Math.floor((ts + ((cred * 7919) % 3_600_000)) / 3_600_000) : 0;
    const id =
      source.kind === 'otlp' && traceId
        ? `otlp:${traceId}:${spanId}`
        : `${source.kind}:${source.kind === 'kong' ? hex(16) : uuid()}`;
    n++;
    yield {
      schemaVersion: 1,
      id,
      ts,
      ingestTs: ts + 200 + Math.floor(rnd() * 800),
      request: {
        method: route.method,
        scheme: 'https',
        host: route.host,
        path,
        queryKeys: route.method === 'GET' && !route.param && rnd() < 0.5 ? ['page', 'limit'] : [],
        route: route.template,
        bytes: route.method === 'GET' ? 0 : Math.round(Math.exp(5 + rnd() * 3)),
        requestId: null,
      },
      response: {
        status,
        bytes: status === 204 || status === 304 ? 0 : Math.round(Math.exp(6 + rnd() * 3)),
        latencyMs: Math.round(Math.exp(2.5 + rnd() * 2 + (status >= 500 ? 2 : 0)) * 10) / 10,
      },
      client: {
        ip: `10.${(ip >> 16) & 255}.${(ip >> 8) & 255}.${ip & 255}`,
        peerIp: `172.16.0.${1 + (cred % 4)}`,
        userAgent: uaList[(cred * 31) % uas]!,
      },
      identity: {
        credential: {
          kind: isUser ? 'jwt' : 'api_key',
          fingerprint: fp(isUser ? `jwt${cred}.${token}` : `key${cred}`),
          ref: isUser ? null : `key-${cred}`,
          issuer: isUser ? 'https://idp.example.com' : null,
        },
        principal: isUser ? 'user' : 'service',
        service: isUser ? null : `svc-${cred % 200}`,
        user: isUser ? `user-${cred}` : null,
        tenant: route.tenant,
        scopes: isUser ? ['read', 'write'] : ['service'],
        auth,
      },
      objects: objectId ? [{ name: route.param!, value: objectId, in: 'path' }] : [],
      trace: { traceId, spanId },
      source: { kind: source.kind, gateway: `gw-${route.host.slice(3, 4)}`, collector: 'collector-1' },
    };
  }
}
