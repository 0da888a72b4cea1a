import { mulberry32 } from './random.ts';

/**
 * Generated NGINX JSON access-log traffic (the observIQ-style log_format documented in
 * docs/formats/nginx.md): a benign population of clients, and a credential brute-force burst.
 * Deterministic for a given seed.
 */
export interface TrafficOptions {
  seed: number;
  start: number;
  benignEvents: number;
  attackerIp?: string;
  attackAttempts?: number;
  attackAtSecond?: number;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
function clf(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

function line(
  ms: number,
  ip: string,
  method: string,
  uri: string,
  status: number,
  ua: string,
  rand: () => number,
  user = '-',
): string {
  return JSON.stringify({
    remote_addr: ip,
    remote_user: user,
    time_local: clf(ms),
    request: `${method} ${uri} HTTP/1.1`,
    status: String(status),
    body_bytes_sent: String(50 + Math.floor(rand() * 900)),
    http_referer: '-',
    http_user_agent: ua,
    request_length: String(200 + Math.floor(rand() * 400)),
    request_time: (0.001 + rand() * 0.2).toFixed(3),
    http_x_forwarded_for: '-',
  });
}

export function nginxTraffic(o: TrafficOptions): string[] {
  const rand = mulberry32(o.seed);
  const out: Array<[number, string]> = [];
  let t = o.start;
  for (let i = 0; i < o.benignEvents; i++) {
    t += Math.floor(-Math.log(1 - rand()) * 1200);
    const ip = `198.51.100.${1 + Math.floor(rand() * 60)}`;
    const r = rand();
    if (r < 0.05) {
      out.push([t, line(t, ip, 'POST', '/api/login', rand() < 0.85 ? 200 : 401, 'Mozilla/5.0', rand)]);
    } else {
      const paths = [
        `/api/orders/${1 + Math.floor(rand() * 9999)}`,
        `/api/products?page=${1 + Math.floor(rand() * 20)}`,
        '/api/users/me',
        '/healthz',
      ];
      const status = [200, 200, 200, 200, 200, 200, 200, 200, 201, 304, 404, 401][Math.floor(rand() * 12)]!;
      out.push([
        t,
        line(
          t,
          ip,
          rand() < 0.8 ? 'GET' : 'POST',
          paths[Math.floor(rand() * paths.length)]!,
          status,
          'Mozilla/5.0',
          rand,
        ),
      ]);
    }
  }
  if (o.attackerIp) {
    const at = o.start + (o.attackAtSecond ?? 60) * 1000;
    for (let i = 0; i < (o.attackAttempts ?? 60); i++) {
      const ts = at + i * 700;
      out.push([ts, line(ts, o.attackerIp, 'POST', '/api/login', 401, 'python-requests/2.31', rand)]);
    }
  }
  return out.sort((a, b) => a[0] - b[0]).map(([, l]) => l);
}
