/**
 * Parse + canonicalise throughput per format, per core (one thread), on generated records shaped
 * like the fixtures (>= 100k per format, after a warm-up), next to a raw floor measured in the
 * same run on the same bytes: JSON.parse for JSON formats, line splitting for text formats.
 * Budget (docs/design.md §5): >= 150k events/s per core.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createIdentityContext, PARSERS, type Parser, type RawRecord } from '@apiwatch/ingest';
import { ROOT } from '../src/processes.ts';
import { type BenchResult, medianRate } from './types.ts';

/** The third-party fixtures (test/fixtures/public, provenance in its SOURCES.md). */
const FIXTURES = join(ROOT, 'test', 'fixtures', 'public');
const RECORDS = Number(process.env.APIWATCH_BENCH_RECORDS ?? 100_000);
const ROUNDS = 5;
const BUDGET = 150_000;

let state = 42;
const rand = () => {
  state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
  return state / 4_294_967_296;
};
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const ip = () =>
  `${10 + Math.floor(rand() * 200)}.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}`;
const hex = (n: number) => {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(rand() * 16).toString(16);
  return s;
};
const uuid = () => `${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)}`;
const METHODS = ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE', 'PATCH'];
const STATUSES = [200, 200, 200, 201, 204, 301, 400, 401, 403, 404, 429, 500, 503];
const UAS = [
  'curl/8.5.0',
  'okhttp/4.12.0',
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
  'python-requests/2.31.0',
];
const path = () =>
  `/api/v${1 + Math.floor(rand() * 2)}/${pick(['users', 'orders', 'items', 'carts'])}/${Math.floor(rand() * 100_000)}${rand() < 0.3 ? `?limit=${Math.floor(rand() * 100)}&cursor=${hex(6)}` : ''}`;
const jwt = () =>
  `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify({ sub: `user-${Math.floor(rand() * 5000)}`, iss: 'https://idp.example.com', scope: 'read' })).toString('base64url')}.${hex(43)}`;
const iso = (t: number) => new Date(t).toISOString();
const clf = (t: number) => {
  const d = new Date(t);
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][
    d.getUTCMonth()
  ];
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getUTCDate())}/${mon}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
};

/** One generated record per call, shaped like the format's fixtures. */
export const GENERATORS: Record<string, (i: number) => string> = {
  envoy: (i) => {
    const t = 1_700_000_000_000 + i * 7;
    if (i % 2 === 0) {
      return `[${iso(t)}] "${pick(METHODS)} ${path()} HTTP/1.1" ${pick(STATUSES)} - ${Math.floor(rand() * 500)} ${Math.floor(rand() * 5000)} ${Math.floor(rand() * 300)} ${Math.floor(rand() * 250)} "${ip()}" "${pick(UAS)}" "${uuid()}" "api.example.com" "${ip()}:8080"`;
    }
    return JSON.stringify({
      ':authority': 'www.example.com',
      bytes_received: Math.floor(rand() * 500),
      bytes_sent: Math.floor(rand() * 5000),
      connection_termination_details: null,
      downstream_local_address: '10.1.21.65:10080',
      downstream_remote_address: `${ip()}:45050`,
      duration: Math.floor(rand() * 300),
      method: pick(METHODS),
      protocol: 'HTTP/1.1',
      requested_server_name: null,
      response_code: pick(STATUSES),
      response_code_details: 'via_upstream',
      response_flags: '-',
      route_name: 'httproute/default/backend/rule/0/match/0/www_example_com',
      start_time: iso(t),
      upstream_cluster: 'httproute/default/backend/rule/0',
      upstream_host: `${ip()}:3000`,
      upstream_local_address: '10.1.21.65:40000',
      upstream_transport_failure_reason: null,
      'user-agent': pick(UAS),
      'x-envoy-origin-path': path(),
      'x-envoy-upstream-service-time': String(Math.floor(rand() * 250)),
      'x-forwarded-for': ip(),
      'x-request-id': uuid(),
    });
  },
  istio: (i) => {
    const t = 1_700_000_000_000 + i * 7;
    if (i % 2 === 0) {
      return `[${iso(t)}] "${pick(METHODS)} ${path()} HTTP/1.1" ${pick(STATUSES)} - via_upstream - "-" ${Math.floor(rand() * 500)} ${Math.floor(rand() * 5000)} ${Math.floor(rand() * 300)} ${Math.floor(rand() * 250)} "-" "${pick(UAS)}" "${uuid()}" "reviews:9080" "${ip()}:9080" outbound|9080||reviews.default.svc.cluster.local ${ip()}:37652 ${ip()}:9080 ${ip()}:46520 - default`;
    }
    return JSON.stringify({
      authority: 'reviews:9080',
      bytes_received: '0',
      bytes_sent: String(Math.floor(rand() * 5000)),
      downstream_local_address: `${ip()}:9080`,
      downstream_remote_address: `${ip()}:46520`,
      duration: String(Math.floor(rand() * 300)),
      method: pick(METHODS),
      path: path(),
      protocol: 'HTTP/1.1',
      request_id: uuid(),
      requested_server_name: '-',
      response_code: String(pick(STATUSES)),
      response_flags: '-',
      route_name: 'default',
      start_time: iso(t),
      upstream_cluster: 'inbound|9080||',
      upstream_host: '127.0.0.1:9080',
      upstream_service_time: '3',
      user_agent: pick(UAS),
      x_forwarded_for: '-',
    });
  },
  nginx: (i) => {
    const t = 1_700_000_000 + i * 0.007;
    switch (i % 3) {
      case 0:
        return `${ip()} - - [${clf(t * 1000)} +0000] "${pick(METHODS)} ${path()} HTTP/1.1" ${pick(STATUSES)} ${Math.floor(rand() * 5000)} "-" "${pick(UAS)}"`;
      case 1:
        return `${ip()} - - [${clf(t * 1000)} +0000] "${pick(METHODS)} ${path()} HTTP/1.1" ${pick(STATUSES)} ${Math.floor(rand() * 5000)} "-" "${pick(UAS)}" ${Math.floor(rand() * 800)} 0.${String(Math.floor(rand() * 999)).padStart(3, '0')} [default-web-8080] [] ${ip()}:8080 59 0.001 200 ${hex(32)}`;
      default:
        return JSON.stringify({
          msec: t.toFixed(3),
          request_time: '0.012',
          request_method: pick(METHODS),
          request_uri: path(),
          server_protocol: 'HTTP/1.1',
          scheme: 'https',
          host: 'api.example.com',
          status: String(pick(STATUSES)),
          request_length: '412',
          body_bytes_sent: String(Math.floor(rand() * 5000)),
          remote_addr: ip(),
          remote_user: '',
          http_x_forwarded_for: ip(),
          http_user_agent: pick(UAS),
          request_id: hex(32),
          http_traceparent: '',
          ssl_client_s_dn: '',
          ssl_client_i_dn: '',
          ssl_client_verify: 'NONE',
          ssl_client_serial: '',
          http_authorization: rand() < 0.3 ? `Bearer ${jwt().replace(/[^.]+$/, '')}` : '',
        });
    }
  },
  caddy: (i) =>
    JSON.stringify({
      level: 'info',
      ts: 1_700_000_000 + i * 0.007,
      logger: 'http.log.access.log0',
      msg: 'handled request',
      request: {
        remote_ip: ip(),
        remote_port: '60176',
        proto: 'HTTP/1.1',
        method: pick(METHODS),
        host: 'api.example.com',
        uri: path(),
        headers: {
          Connection: ['keep-alive'],
          'User-Agent': [pick(UAS)],
          Accept: ['*/*'],
          'Accept-Encoding': ['gzip, deflate'],
          ...(rand() < 0.3 ? { Authorization: [`Bearer ${jwt()}`] } : {}),
        },
      },
      user_id: '',
      duration: rand() * 0.3,
      size: Math.floor(rand() * 5000),
      status: pick(STATUSES),
      resp_headers: { Server: ['Caddy'], 'Content-Type': ['application/json'] },
    }),
  traefik: (i) => {
    const t = 1_700_000_000_000 + i * 7;
    if (i % 2 === 0) {
      return `${ip()} - - [${clf(t)} +0000] "${pick(METHODS)} ${path()} HTTP/1.1" ${pick(STATUSES)} ${Math.floor(rand() * 5000)} "-" "${pick(UAS)}" ${i} "api@docker" "http://172.19.0.3:5601" ${Math.floor(rand() * 300)}ms`;
    }
    return JSON.stringify({
      ClientAddr: `${ip()}:48376`,
      ClientHost: ip(),
      ClientPort: '48376',
      ClientUsername: '-',
      DownstreamContentSize: Math.floor(rand() * 5000),
      DownstreamStatus: pick(STATUSES),
      Duration: Math.floor(rand() * 3e8),
      OriginContentSize: 36,
      OriginDuration: 2_000_000,
      OriginStatus: 200,
      Overhead: 345_678,
      RequestAddr: 'api.example.com',
      RequestContentSize: 0,
      RequestCount: i,
      RequestHost: 'api.example.com',
      RequestMethod: pick(METHODS),
      RequestPath: path(),
      RequestPort: '-',
      RequestProtocol: 'HTTP/1.1',
      RequestScheme: 'https',
      RetryAttempts: 0,
      RouterName: 'api@kubernetescrd',
      ServiceName: 'api-svc@kubernetescrd',
      ServiceURL: 'http://10.42.0.7:8080',
      StartUTC: iso(t),
      StartLocal: iso(t),
      entryPointName: 'websecure',
      level: 'info',
      msg: '',
      'request_User-Agent': pick(UAS),
      time: iso(t).slice(0, 19) + 'Z',
    });
  },
  haproxy: (i) => {
    const t = 1_700_000_000_000 + i * 7;
    const head = i % 2 === 0 ? 'Nov 14 22:13:20 lb-1 haproxy[2345]: ' : '';
    return `${head}${ip()}:${40_000 + (i % 20_000)} [${clf(t)}.${String(t % 1000).padStart(3, '0')}] fe_api~ be_api/srv${i % 4} 0/0/1/${Math.floor(rand() * 200)}/${Math.floor(rand() * 300)} ${pick(STATUSES)} ${Math.floor(rand() * 5000)} - - ---- 3/3/0/0/0 0/0 {api.example.com|${pick(UAS)}|${ip()}} "${pick(METHODS)} ${path()} HTTP/1.1"`;
  },
};

/** Formats without a generator (another team's, or added later): their fixture records, cycled. */
const FIXTURE_DIRS: Record<string, string[]> = {
  canonical: [],
  kong: ['kong'],
  'envoy-als': ['envoy/als'],
  otlp: ['otel'],
  'aws-apigw': ['aws-apigw'],
};

function fixtureRecords(id: string): string[] {
  const out: string[] = [];
  for (const dir of FIXTURE_DIRS[id] ?? []) {
    for (const f of readdir(join(FIXTURES, dir))) {
      const text = readFileSync(join(FIXTURES, dir, f), 'utf8').trim();
      try {
        out.push(JSON.stringify(JSON.parse(text)));
      } catch {
        for (const l of text.split('\n')) if (l.trim().startsWith('{')) out.push(l);
      }
    }
  }
  return out;
}

function readdir(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => /\.(json|ndjson|log)$/.test(f));
  } catch {
    return [];
  }
}

/** Canonical events as collectors send them: what the nginx parser makes of generated nginx lines. */
function canonicalRecords(): string[] {
  const nginx = PARSERS.find((p) => p.id === 'nginx');
  const gen = GENERATORS.nginx;
  if (!nginx || !gen) return [];
  const identity = createIdentityContext(Buffer.from('apiwatch benchmark fingerprint key!'), 'bench');
  const out: string[] = [];
  for (let i = 0; i < 1000; i++) {
    const r = nginx.parse({ text: gen(i) }, { identity, gateway: null, now: 1_700_000_000_000 });
    if (r.ok) for (const e of r.value) out.push(JSON.stringify(e));
  }
  return out;
}

function recordsFor(parser: Parser): string[] | null {
  const gen = GENERATORS[parser.id];
  if (gen) return Array.from({ length: RECORDS }, (_, i) => gen(i));
  let base: string[] = [];
  try {
    base = parser.id === 'canonical' ? canonicalRecords() : fixtureRecords(parser.id);
  } catch {
    base = [];
  }
  if (base.length === 0) return null;
  return Array.from({ length: RECORDS }, (_, i) => base[i % base.length]!);
}

export async function run(): Promise<BenchResult[]> {
  const identity = createIdentityContext(Buffer.from('apiwatch benchmark fingerprint key!'), 'bench');
  const ctx = { identity, gateway: null, now: Date.now() };
  const results: BenchResult[] = [];
  for (const parser of PARSERS) {
    const lines = recordsFor(parser);
    if (!lines) {
      results.push({
        name: `parse ${parser.id}`,
        value: 0,
        unit: 'events/s',
        note: 'no generator or fixture records; not measured',
      });
      continue;
    }
    const jsonShare = lines.filter((l) => l.charCodeAt(0) === 123).length / lines.length;
    // Sanity: what share of the generated records the parser reads, and how many events they give.
    let events = 0;
    let rejected = 0;
    const once = () => {
      events = 0;
      rejected = 0;
      for (const text of lines) {
        const record: RawRecord = { text };
        if (parser.framing !== 'text' && text.charCodeAt(0) === 123) record.json = JSON.parse(text);
        const r = parser.parse(record, ctx);
        if (r.ok) events += r.value.length;
        else rejected++;
      }
    };
    const recordsPerSec = medianRate(ROUNDS, lines.length, once);
    const eventsPerRecord = events / lines.length;
    // The floor does the raw work every reader of these bytes must do: split the lines, and
    // JSON.parse the ones that are JSON (a mixed envoy/istio/nginx/traefik file has both).
    const blob = `${lines.join('\n')}\n`;
    const floor = medianRate(ROUNDS, lines.length, () => {
      for (const text of blob.split('\n')) if (text.charCodeAt(0) === 123) JSON.parse(text);
    });
    const value = recordsPerSec * eventsPerRecord;
    results.push({
      name: `parse ${parser.id}`,
      value,
      unit: 'events/s',
      floor: floor * eventsPerRecord,
      ratio: value / (floor * eventsPerRecord || 1),
      budget: BUDGET,
      note: `${lines.length.toLocaleString('en-US')} records, ${Math.round(jsonShare * 100)}% JSON (floor: line splitting + JSON.parse of the JSON lines); ${rejected} not read; ${eventsPerRecord.toFixed(2)} events/record`,
    });
  }
  return results;
}
