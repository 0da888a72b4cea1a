import type { GenRequest } from './request.ts';

/**
 * Gateway log records for generated requests, in the shapes the real gateways write them:
 *
 * - `kong`: the `kong.log.serialize()` object the http-log / file-log plugins send (3.x layout,
 *   with `request.id`), with the `authorization` header as Kong 2.x logged it (3.x users keep it
 *   with `custom_fields_by_lua`); key-auth and jwt plugins attach `consumer` and
 *   `authenticated_entity`, and a key Kong itself rejected is answered by Kong (`source: kong`).
 * - `nginx`: the `apiwatch` JSON `log_format` of docs/formats/nginx.md, behind a load balancer
 *   (`$remote_addr` is the balancer, the client is in `X-Forwarded-For`), the JWT logged without
 *   its signature through the documented `map`, the API key in `$http_x_api_key`.
 * - `nginx-combined`: nginx's default `combined` format with the realip module (`$remote_addr`
 *   is the client): no credential but the Basic username, second precision.
 */
export const CORPUS_FORMATS = ['kong', 'nginx', 'nginx-combined'] as const;
export type CorpusFormat = (typeof CORPUS_FORMATS)[number];

/** The `--format` of `apiwatch replay` that reads a corpus format. */
export function parserFormat(format: CorpusFormat): 'kong' | 'nginx' {
  return format === 'kong' ? 'kong' : 'nginx';
}

export function renderRecord(req: GenRequest, format: CorpusFormat): string {
  if (format === 'kong') return JSON.stringify(kongRecord(req));
  if (format === 'nginx') return JSON.stringify(nginxJsonRecord(req));
  return nginxCombinedLine(req);
}

function target(req: GenRequest): string {
  return req.query ? `${req.path}?${req.query}` : req.path;
}

function queryObject(query: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!query) return out;
  for (const part of query.split('&')) {
    const eq = part.indexOf('=');
    const k = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
    out[k] = eq < 0 ? '' : safeDecode(part.slice(eq + 1));
  }
  return out;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replaceAll('+', ' '));
  } catch {
    return s;
  }
}

function authorizationHeader(req: GenRequest): string | null {
  const a = req.auth;
  if (a.kind === 'jwt') return `Bearer ${a.token}`;
  if (a.kind === 'basic') return `Basic ${Buffer.from(`${a.user}:${a.password}`).toString('base64')}`;
  return null;
}

export function kongRecord(req: GenRequest): Record<string, unknown> {
  const headers: Record<string, string> = {
    host: req.host,
    'user-agent': req.ua,
    accept: 'application/json',
    'x-forwarded-for': req.clientIp,
  };
  const authz = authorizationHeader(req);
  if (authz) headers.authorization = authz;
  if (req.auth.kind === 'apikey') headers['x-api-key'] = req.auth.key;
  const latency = Math.max(1, Math.round(req.latencyMs));
  const fromKong = req.consumer === null && req.status === 401 && req.host === 'petstore.example.com';
  const record: Record<string, unknown> = {
    request: {
      id: req.requestId,
      method: req.method,
      uri: target(req),
      url: `https://${req.host}${target(req)}`,
      size: req.reqBytes,
      querystring: queryObject(req.query),
      headers,
    },
    response: {
      status: req.status,
      size: req.respBytes,
      headers: { 'content-length': String(req.respBytes), 'x-kong-request-id': req.requestId },
    },
    latencies: {
      request: latency,
      kong: fromKong ? latency : 1,
      proxy: fromKong ? 0 : Math.max(0, latency - 1),
    },
    client_ip: req.clientIp,
    started_at: req.ts,
    upstream_uri: target(req),
    source: fromKong ? 'kong' : 'upstream',
    service: { name: req.host.split('.')[0] },
    workspace_name: 'default',
  };
  if (req.consumer) {
    record.consumer = { id: req.consumer.id, username: req.consumer.username };
    record.authenticated_entity = { id: req.consumer.credentialId, consumer_id: req.consumer.id };
  }
  return record;
}

export function nginxJsonRecord(req: GenRequest): Record<string, string> {
  const seconds = Math.max(0.001, req.latencyMs / 1000);
  const requestTime = seconds.toFixed(3);
  const msec = ((req.ts + Math.round(Number(requestTime) * 1000)) / 1000).toFixed(3);
  const a = req.auth;
  // The documented map logs a Bearer JWS without its signature, and nothing else.
  const authz = a.kind === 'jwt' ? `Bearer ${a.token.slice(0, a.token.lastIndexOf('.'))}.` : '';
  return {
    msec,
    request_time: requestTime,
    request_method: req.method,
    request_uri: target(req),
    server_protocol: 'HTTP/1.1',
    scheme: 'https',
    host: req.host,
    status: String(req.status),
    request_length: String(req.reqBytes),
    body_bytes_sent: String(req.respBytes),
    remote_addr: req.peerIp,
    remote_user: a.kind === 'basic' ? a.user : '',
    http_x_forwarded_for: req.clientIp,
    http_user_agent: req.ua,
    request_id: req.requestId,
    http_traceparent: '',
    ssl_client_s_dn: '',
    ssl_client_i_dn: '',
    ssl_client_verify: '',
    ssl_client_serial: '',
    http_authorization: authz,
    http_x_api_key: a.kind === 'apikey' ? a.key : '',
  };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function timeLocal(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

export function nginxCombinedLine(req: GenRequest): string {
  const user = req.auth.kind === 'basic' ? req.auth.user : '-';
  const ua = req.ua.replaceAll('"', '\\x22');
  // nginx stamps $time_local when the response is done.
  return `${req.clientIp} - ${user} [${timeLocal(req.ts + req.latencyMs)}] "${req.method} ${target(req)} HTTP/1.1" ${req.status} ${req.respBytes} "-" "${ua}"`;
}
