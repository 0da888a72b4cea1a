/**
 * Real gateways end to end: nginx, HAProxy and Caddy (Debian packages `nginx`, `haproxy`,
 * `caddy`) run as child processes on loopback ports with the configuration published in
 * docs/formats/<id>.md, in front of an upstream in this test. The test makes its own requests
 * (methods, paths, statuses, a Basic user, a bearer JWT, a slow call), ships the gateway's log
 * with `apiwatch collect --once` to an in-process ingest server, and checks the canonical events
 * and that no raw secret appears in anything apiwatch produced.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ApiEvent, createLogger, type DlqRecord, MemoryBus } from '@apiwatch/core';
import { createIngestServer, sha256Hex } from '@apiwatch/ingest';
import { requireBinary } from '../src/binaries.ts';
import { freePort, ROOT, runApiwatch, waitFor } from '../src/processes.ts';

const COLLECTOR_TOKEN = 'e2e-gateways-collector-token';
const BASIC_USER = 'alice';
const BASIC_PASSWORD = 'correct-horse-battery-staple-7';
const BASIC_HEADER = `Basic ${Buffer.from(`${BASIC_USER}:${BASIC_PASSWORD}`).toString('base64')}`;
const b64url = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const JWT_SIGNATURE = 'c2lnbmF0dXJlLW9mLXRoZS1lMmUtdG9rZW4tZG8tbm90LWxlYWs';
const JWT = `${b64url({ alg: 'RS256', typ: 'JWT' })}.${b64url({ sub: 'user-jwt-7', iss: 'https://idp.e2e.test', jti: 'e2e-token-1', scope: 'orders:read' })}.${JWT_SIGNATURE}`;
/** Strings that must not appear in any event, DLQ record or collector output. */
const SECRETS = [
  JWT,
  JWT_SIGNATURE,
  BASIC_PASSWORD,
  Buffer.from(`${BASIC_USER}:${BASIC_PASSWORD}`).toString('base64'),
];

interface Call {
  method: string;
  path: string;
  query?: string;
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** What the event must say about the caller. */
  identity?: { kind: string; user: string };
  minLatencyMs?: number;
}

const CALLS: Call[] = [
  {
    method: 'GET',
    path: '/api/items',
    query: 'limit=5&cursor=x',
    status: 200,
    headers: { 'x-forwarded-for': '198.51.100.77' },
  },
  {
    method: 'POST',
    path: '/api/orders',
    status: 201,
    body: '{"item":42}',
    headers: { 'content-type': 'application/json' },
  },
  { method: 'PUT', path: '/api/items/7', status: 200, body: '{"name":"x"}' },
  { method: 'DELETE', path: '/api/items/42', status: 204 },
  { method: 'GET', path: '/api/missing', status: 404 },
  { method: 'GET', path: '/api/slow', status: 200, minLatencyMs: 100 },
  {
    method: 'GET',
    path: '/basic/profile',
    status: 200,
    headers: { authorization: BASIC_HEADER },
    identity: { kind: 'basic', user: BASIC_USER },
  },
  {
    method: 'GET',
    path: '/api/me',
    status: 200,
    headers: { authorization: `Bearer ${JWT}` },
    identity: { kind: 'jwt', user: 'user-jwt-7' },
  },
];

/** The upstream: answers each call with the status the test expects, after a short delay (so latency > 0). */
function startUpstream(): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://upstream');
      const call = CALLS.find((c) => c.method === req.method && c.path === url.pathname);
      const delay = url.pathname === '/api/slow' ? 150 : 5;
      setTimeout(() => {
        const status = call?.status ?? 404;
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(status === 204 ? undefined : JSON.stringify({ path: url.pathname }));
      }, delay);
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, port: (server.address() as { port: number }).port }),
    ),
  );
}

/** A fenced code block from the published docs, so the test runs the configuration users are told to use. */
function docBlock(format: string, lang: string): string {
  const doc = readFileSync(join(ROOT, 'docs', 'formats', `${format}.md`), 'utf8');
  const m = new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``).exec(doc);
  if (!m) throw new Error(`docs/formats/${format}.md has no \`\`\`${lang} block`);
  return m[1]!;
}

interface Gateway {
  child: ChildProcess;
  output: () => string;
}

function startGateway(
  bin: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  stdoutFile?: string,
): Gateway {
  const child = spawn(bin, args, {
    env: { ...process.env, TZ: 'UTC', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  if (stdoutFile) child.stdout!.pipe(createWriteStream(stdoutFile, { flags: 'a' }));
  else child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return { child, output: () => out };
}

async function stopGateway(g: Gateway | null): Promise<void> {
  if (!g || g.child.exitCode !== null || g.child.signalCode !== null) return;
  const exited = new Promise((r) => g.child.once('exit', r));
  g.child.kill('SIGTERM');
  const timer = setTimeout(() => g.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function waitForPort(port: number, g: Gateway): Promise<void> {
  await waitFor(
    `the gateway on port ${port}`,
    async () => {
      if (g.child.exitCode !== null)
        throw new Error(`gateway exited with ${g.child.exitCode}:\n${g.output()}`);
      try {
        await fetch(`http://127.0.0.1:${port}/__ready`, { signal: AbortSignal.timeout(500) });
        return true;
      } catch {
        return undefined;
      }
    },
    15_000,
    g.output,
  );
}

async function makeCalls(port: number): Promise<void> {
  for (const c of CALLS) {
    const res = await fetch(`http://127.0.0.1:${port}${c.path}${c.query ? `?${c.query}` : ''}`, {
      method: c.method,
      headers: { 'user-agent': 'apiwatch-e2e/1.0', ...c.headers },
      body: c.body,
    });
    await res.arrayBuffer();
    assert.equal(res.status, c.status, `${c.method} ${c.path} through the gateway`);
  }
}

// One ingest server and bus for all gateways; events are told apart by source.kind.
const bus = new MemoryBus(10_000);
const published: ApiEvent[] = [];
const dlq: DlqRecord[] = [];
let ingestUrl = '';
let closeIngest: (() => Promise<void>) | null = null;
let upstream: { server: Server; port: number } | null = null;
const work = mkdtempSync(join(tmpdir(), 'apiwatch-gateways-'));

before(async () => {
  await bus.subscribe('events', 'e2e-gateways', async (batch) => {
    for (const m of batch) published.push(m.value);
  });
  await bus.subscribe('dlq', 'e2e-gateways', async (batch) => {
    for (const m of batch) dlq.push(m.value);
  });
  const ingest = await createIngestServer({
    host: '127.0.0.1',
    port: 0,
    maxBodyBytes: 1 << 20,
    maxRecordsPerRequest: 1000,
    collectors: [{ id: 'e2e-collector', tokenSha256: sha256Hex(COLLECTOR_TOKEN) }],
    bus,
    log: createLogger('silent'),
  });
  ingestUrl = ingest.url();
  closeIngest = () => ingest.app.close();
  upstream = await startUpstream();
});

after(async () => {
  await closeIngest?.();
  upstream?.server.close();
  rmSync(work, { recursive: true, force: true });
});

/** Ships the log with the real CLI and returns the events ingest published for this format. */
async function collect(
  format: string,
  logFile: string,
  dir: string,
): Promise<{ events: ApiEvent[]; output: string }> {
  const before = published.length;
  const r = await runApiwatch(
    ['collect', '--format', format, '--file', logFile, '--once', '--url', ingestUrl],
    {
      APIWATCH__DATADIR: join(dir, 'apiwatch-data'),
      APIWATCH_COLLECTOR_TOKEN: COLLECTOR_TOKEN,
    },
  );
  const output = r.stdout + r.stderr;
  assert.equal(r.code, 0, `apiwatch collect failed:\n${output}`);
  // collect has exited: what ingest accepted is on the bus; flush delivers it to our subscriber.
  await bus.flush();
  return { events: published.slice(before).filter((e) => e.source.kind === format), output };
}

function checkEvents(
  format: string,
  events: ApiEvent[],
  output: string,
  opts: { identities: boolean },
): void {
  for (const c of CALLS) {
    const e = events.find((x) => x.request.method === c.method && x.request.path === c.path);
    assert.ok(
      e,
      `${format}: an event for ${c.method} ${c.path} (got ${events.map((x) => `${x.request.method} ${x.request.path}`).join(', ')})`,
    );
    assert.equal(e.response.status, c.status, `${format} ${c.method} ${c.path}: status`);
    assert.ok(
      e.response.latencyMs !== null && e.response.latencyMs > 0,
      `${format} ${c.method} ${c.path}: latency ${e.response.latencyMs} > 0`,
    );
    if (c.minLatencyMs)
      assert.ok(
        e.response.latencyMs >= c.minLatencyMs,
        `${format} ${c.path}: latency ${e.response.latencyMs} >= ${c.minLatencyMs}`,
      );
    assert.equal(e.client.peerIp, '127.0.0.1', `${format} ${c.path}: peer`);
    assert.ok(
      Math.abs(e.ts - Date.now()) < 120_000,
      `${format} ${c.path}: event time ${new Date(e.ts).toISOString()} is now`,
    );
    if (c.query)
      assert.deepEqual(e.request.queryKeys, ['limit', 'cursor'], `${format} ${c.path}: query keys`);
    if (c.identity && opts.identities) {
      assert.equal(e.identity.credential.kind, c.identity.kind, `${format} ${c.path}: credential kind`);
      assert.equal(e.identity.user, c.identity.user, `${format} ${c.path}: user`);
      if (c.identity.kind === 'jwt') {
        assert.equal(e.identity.credential.issuer, 'https://idp.e2e.test');
        assert.match(e.identity.credential.fingerprint ?? '', /^k1:/);
        assert.equal(e.identity.auth, 'success');
      }
    }
    if (!c.identity) assert.equal(e.identity.credential.kind, 'none', `${format} ${c.path}: no credential`);
  }
  const produced = JSON.stringify(events) + JSON.stringify(dlq) + output;
  for (const secret of SECRETS)
    assert.ok(!produced.includes(secret), `${format}: a raw secret leaked into apiwatch output`);
}

describe('real gateways → apiwatch collect → ingest', { timeout: 120_000 }, () => {
  it('nginx with the recommended apiwatch JSON log_format', async (t) => {
    const bin = requireBinary(t, 'nginx');
    if (!bin) return;
    const dir = mkdtempSync(join(work, 'nginx-'));
    const port = await freePort();
    const log = join(dir, 'access.log');
    writeFileSync(
      join(dir, 'nginx.conf'),
      `daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 64; }
http {
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  access_log off;
${docBlock('nginx', 'nginx')}
  server {
    listen 127.0.0.1:${port};
    access_log ${log} apiwatch;
    location / { proxy_pass http://127.0.0.1:${upstream!.port}; }
  }
}
`,
    );
    const g = startGateway(bin, ['-p', dir, '-c', join(dir, 'nginx.conf')]);
    try {
      await waitForPort(port, g);
      await makeCalls(port);
    } finally {
      await stopGateway(g);
    }
    const { events, output } = await collect('nginx', log, dir);
    checkEvents('nginx', events, output, { identities: true });
    const items = events.find((e) => e.request.path === '/api/items')!;
    assert.equal(items.client.ip, '198.51.100.77');
    assert.match(items.request.requestId ?? '', /^[0-9a-f]{32}$/);
    assert.equal(items.request.host, '127.0.0.1');
    captureTestdata('nginx-1.22-apiwatch-json.ndjson', log);
  });

  it('haproxy with option httplog (log stdout format raw)', async (t) => {
    const bin = requireBinary(t, 'haproxy');
    if (!bin) return;
    const dir = mkdtempSync(join(work, 'haproxy-'));
    const port = await freePort();
    const log = join(dir, 'haproxy.log');
    writeFileSync(
      join(dir, 'haproxy.cfg'),
      `global
    log stdout format raw local0
defaults
    mode http
    log global
    timeout connect 5s
    timeout client 10s
    timeout server 10s
frontend fe_api
    bind 127.0.0.1:${port}
${docBlock('haproxy', 'haproxy')}
    default_backend be_api
backend be_api
    server upstream1 127.0.0.1:${upstream!.port}
`,
    );
    const g = startGateway(bin, ['-db', '-f', join(dir, 'haproxy.cfg')], {}, log);
    try {
      await waitForPort(port, g);
      await makeCalls(port);
      await waitFor(
        'haproxy to log every call',
        () =>
          existsSync(log) &&
          readFileSync(log, 'utf8')
            .split('\n')
            .filter((l) => l.includes('/api/') || l.includes('/basic/')).length >= CALLS.length
            ? true
            : undefined,
        10_000,
      );
    } finally {
      await stopGateway(g);
    }
    const { events, output } = await collect('haproxy', log, dir);
    checkEvents('haproxy', events, output, { identities: true });
    const items = events.find((e) => e.request.path === '/api/items')!;
    assert.equal(items.client.ip, '198.51.100.77');
    assert.equal(items.client.userAgent, 'apiwatch-e2e/1.0');
    assert.equal(items.request.host, `127.0.0.1:${port}`);
    captureTestdata('haproxy-2.6-httplog-stdout-raw.log', log);
  });

  it('caddy with JSON access logs (basicauth user_id, log_credentials for the JWT)', async (t) => {
    const bin = requireBinary(t, 'caddy');
    if (!bin) return;
    const dir = mkdtempSync(join(work, 'caddy-'));
    const port = await freePort();
    const log = join(dir, 'access.log');
    const hash = execFileSync(bin, ['hash-password', '--plaintext', BASIC_PASSWORD], {
      encoding: 'utf8',
    }).trim();
    const logBlock = docBlock('caddy', 'caddyfile').replace('/var/log/caddy/access.log', log);
    writeFileSync(
      join(dir, 'Caddyfile'),
      `{
	admin off
	auto_https off
	servers {
		log_credentials
	}
}
http://127.0.0.1:${port} {
${logBlock}
	basicauth /basic/* {
		${BASIC_USER} ${hash}
	}
	reverse_proxy 127.0.0.1:${upstream!.port}
}
`,
    );
    const g = startGateway(bin, ['run', '--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile'], {
      HOME: dir,
      XDG_DATA_HOME: join(dir, 'data'),
      XDG_CONFIG_HOME: join(dir, 'config'),
    });
    try {
      await waitForPort(port, g);
      await makeCalls(port);
      await waitFor(
        'caddy to log every call',
        () =>
          existsSync(log) &&
          statSync(log).size > 0 &&
          readFileSync(log, 'utf8')
            .split('\n')
            .filter((l) => l.includes('"uri":"/api/') || l.includes('"uri":"/basic/')).length >= CALLS.length
            ? true
            : undefined,
        10_000,
      );
    } finally {
      await stopGateway(g);
    }
    const { events, output } = await collect('caddy', log, dir);
    checkEvents('caddy', events, output, { identities: true });
    const items = events.find((e) => e.request.path === '/api/items')!;
    assert.equal(items.client.userAgent, 'apiwatch-e2e/1.0');
    assert.equal(items.request.scheme, 'http');
    captureTestdata('caddy-2.6-json-access.ndjson', log);
  });
});

/**
 * With APIWATCH_CAPTURE_TESTDATA=1 the real gateway's log is kept as a parser fixture in
 * ingest/src/parsers/testdata/ (secrets replaced), for the golden tests.
 */
function captureTestdata(name: string, log: string): void {
  if (process.env.APIWATCH_CAPTURE_TESTDATA !== '1') return;
  let text = readFileSync(log, 'utf8');
  text = text.replaceAll(JWT_SIGNATURE, 'REPLACED-SIGNATURE').replaceAll(BASIC_PASSWORD, 'REPLACED');
  text = text.replaceAll(
    Buffer.from(`${BASIC_USER}:${BASIC_PASSWORD}`).toString('base64'),
    Buffer.from(`${BASIC_USER}:REPLACED`).toString('base64'),
  );
  writeFileSync(join(ROOT, 'ingest', 'src', 'parsers', 'testdata', name), text);
}
