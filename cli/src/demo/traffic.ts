/**
 * The traffic `apiwatch demo` sends: a few minutes of an ordinary shop API — signed-in users
 * browsing and ordering with JWTs, a nightly-style batch client, health checks — with four
 * attacks woven in, as NGINX access-log lines in apiwatch's recommended JSON `log_format`
 * (docs/formats/nginx.md), so the demo goes through the same parser, identity and route stages
 * a real gateway's log does. Deterministic: the same `startMs` gives the same lines.
 */

export interface PlantedAttack {
  /** Detector family a SOC analyst should see a finding from. */
  family: 'auth' | 'bola' | 'recon';
  what: string;
  /** The entity id the finding should name. */
  attacker: string;
}

export interface DemoTraffic {
  lines: string[];
  attacks: PlantedAttack[];
  fromMs: number;
  toMs: number;
}

interface Call {
  ts: number;
  method: string;
  uri: string;
  status: number;
  ip: string;
  ua: string;
  bytes: number;
  jwtSub?: string;
  basicUser?: string;
}

const BROWSER = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15';
const MOBILE = 'ShopApp/4.12.0 (iPhone; iOS 17.5)';

function b64url(text: string): string {
  return Buffer.from(text).toString('base64url');
}

/** A JWT as the recommended nginx `map` logs it: header and claims, signature stripped. */
function loggedJwt(sub: string, issuedAt: number): string {
  const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: 'demo-1' }));
  const claims = b64url(
    JSON.stringify({
      iss: 'https://id.shop.example',
      sub,
      aud: 'shop-api',
      client_id: 'shop-web',
      scope: 'orders:read orders:write profile',
      iat: Math.floor(issuedAt / 1000),
      exp: Math.floor(issuedAt / 1000) + 3600,
      jti: `${sub}-${Math.floor(issuedAt / 3_600_000)}`,
    }),
  );
  return `Bearer ${header}.${claims}.`;
}

function line(c: Call, seq: number): string {
  const latency = 0.008 + ((seq * 7919) % 90) / 1000;
  return JSON.stringify({
    msec: ((c.ts + latency * 1000) / 1000).toFixed(3),
    request_time: latency.toFixed(3),
    request_method: c.method,
    request_uri: c.uri,
    server_protocol: 'HTTP/1.1',
    scheme: 'https',
    host: 'api.shop.example',
    status: String(c.status),
    request_length: String(c.method === 'POST' ? 612 : 388),
    body_bytes_sent: String(c.bytes),
    remote_addr: '10.0.0.5',
    remote_user: c.basicUser ?? '',
    http_x_forwarded_for: c.ip,
    http_user_agent: c.ua,
    request_id: (BigInt(c.ts) * 1_000_003n + BigInt(seq)).toString(16).padStart(32, '0').slice(-32),
    http_traceparent: '',
    ssl_client_s_dn: '',
    ssl_client_i_dn: '',
    ssl_client_verify: 'NONE',
    ssl_client_serial: '',
    http_authorization: c.jwtSub ? loggedJwt(c.jwtSub, c.ts - (c.ts % 3_600_000)) : '',
  });
}

/** `minutes` of traffic ending at `endMs`. */
export function demoTraffic(endMs: number, minutes = 5): DemoTraffic {
  const fromMs = endMs - minutes * 60_000;
  const calls: Call[] = [];
  const users = Array.from({ length: 60 }, (_, i) => `user-${1000 + i}`);
  const span = endMs - fromMs;

  // Ordinary use: each user browses products, reads their own orders and profile.
  users.forEach((sub, u) => {
    const ip = u < 40 ? `192.0.2.${10 + (u % 25)}` : `100.64.${u}.${(u * 37) % 250}`; // offices, carrier NAT
    const ua = u % 3 === 0 ? MOBILE : BROWSER;
    const ownOrder = 50_000 + u * 17;
    const visits = 6 + (u % 7);
    for (let v = 0; v < visits; v++) {
      const ts = fromMs + ((u * 104_729 + v * 15_485_863) % span);
      const pick = (u + v) % 6;
      const [method, uri, status, bytes] =
        pick === 0
          ? ['GET', `/api/products?page=${1 + (v % 3)}&q=shoes`, 200, 5120]
          : pick === 1
            ? ['GET', `/api/products/${200 + ((u * v) % 40)}`, 200, 1830]
            : pick === 2
              ? ['GET', `/api/orders/${ownOrder}`, 200, 920]
              : pick === 3
                ? ['GET', '/api/me', 200, 410]
                : pick === 4
                  ? ['POST', '/api/orders', 201, 640]
                  : ['GET', `/api/orders/${ownOrder + 1}`, 200, 880];
      calls.push({ ts, method, uri, status, ip, ua, bytes, jwtSub: sub });
    }
    // Now and then a user mistypes a password once, then gets in.
    if (u % 9 === 0) {
      const ts = fromMs + ((u * 7_919) % span);
      calls.push({ ts, method: 'POST', uri: '/api/login', status: 401, ip, ua, bytes: 64, basicUser: sub });
      calls.push({
        ts: ts + 4000,
        method: 'POST',
        uri: '/api/login',
        status: 200,
        ip,
        ua,
        bytes: 512,
        basicUser: sub,
      });
    }
  });
  // Health checks and a steady batch exporter.
  for (let t = fromMs; t < endMs; t += 5000) {
    calls.push({
      ts: t,
      method: 'GET',
      uri: '/healthz',
      status: 200,
      ip: '10.0.0.2',
      ua: 'kube-probe/1.30',
      bytes: 15,
    });
  }
  for (let t = fromMs + 1000; t < endMs; t += 2000) {
    calls.push({
      ts: t,
      method: 'GET',
      uri: `/api/products?page=${Math.floor((t - fromMs) / 2000) % 50}`,
      status: 200,
      ip: '10.0.3.9',
      ua: 'catalog-sync/2.1',
      bytes: 9800,
      jwtSub: 'svc-catalog-sync',
    });
  }

  const attackStart = fromMs + Math.floor(span * 0.35);
  const attacks: PlantedAttack[] = [];

  // 1. Password guessing against one account from one address.
  const guesser = '203.0.113.66';
  for (let i = 0; i < 45; i++) {
    calls.push({
      ts: attackStart + i * 1300,
      method: 'POST',
      uri: '/api/login',
      status: 401,
      ip: guesser,
      ua: 'python-requests/2.31',
      bytes: 64,
      basicUser: 'admin',
    });
  }
  attacks.push({ family: 'auth', what: 'password guessing on POST /api/login', attacker: guesser });

  // 2. Credential stuffing: a leaked list, one account each, a few still work.
  const stuffer = '198.51.100.23';
  for (let i = 0; i < 160; i++) {
    calls.push({
      ts: attackStart + 20_000 + i * 700,
      method: 'POST',
      uri: '/api/login',
      status: i % 53 === 17 ? 200 : 401,
      ip: stuffer,
      ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64)',
      bytes: 64,
      basicUser: `${['jsmith', 'mlopez', 'a.khan', 'lee', 'nora', 'tbrown', 'chen.w', 'ivanov'][i % 8]}${i}@mail.example`,
    });
  }
  attacks.push({ family: 'auth', what: 'credential stuffing on POST /api/login', attacker: stuffer });

  // 3. BOLA: a signed-in user walks other customers' order ids.
  const walker = 'user-1007';
  for (let i = 0; i < 220; i++) {
    calls.push({
      ts: attackStart + 40_000 + i * 450,
      method: 'GET',
      uri: `/api/orders/${50_000 + i * 3}`,
      status: i % 4 === 0 ? 404 : 200,
      ip: '192.0.2.17',
      ua: 'curl/8.7.1',
      bytes: 880,
      jwtSub: walker,
    });
  }
  attacks.push({ family: 'bola', what: 'order-id enumeration on GET /api/orders/{id}', attacker: walker });

  // 4. A scanner: forced browsing and path traversal / injection probes.
  const scanner = '192.0.2.200';
  const probes = [
    '/.env',
    '/.git/config',
    '/wp-admin/',
    '/admin/config.php',
    '/phpmyadmin/',
    '/server-status',
    '/api/v1/debug',
    '/actuator/env',
    '/backup.zip',
    '/config.json',
    '/api/../../../../etc/passwd',
    '/api/products/1%27%20OR%20%271%27=%271',
    '/api/products/%3Cscript%3Ealert(1)%3C%2Fscript%3E',
    '/cgi-bin/;cat%20/etc/passwd',
    '/api/orders/%7B%7B7*7%7D%7D',
  ];
  for (let i = 0; i < 90; i++) {
    const uri =
      i < probes.length ? probes[i]! : `/${['old', 'test', 'dev', 'tmp', 'bak'][i % 5]}${i}/index.php`;
    calls.push({
      ts: attackStart + 60_000 + i * 400,
      method: 'GET',
      uri,
      status: 404,
      ip: scanner,
      ua: 'Mozilla/5.0 (compatible; Nmap Scripting Engine)',
      bytes: 162,
    });
  }
  attacks.push({ family: 'recon', what: 'forced browsing and injection probes', attacker: scanner });

  calls.sort((a, b) => a.ts - b.ts);
  return { lines: calls.map((c, i) => line(c, i)), attacks, fromMs, toMs: endMs };
}
