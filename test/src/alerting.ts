import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A recording HTTP server standing in for a third-party API (Slack, PagerDuty, Kong Admin, AWS):
 * it records every request and answers with what `respond` says. Not a mock of Kafka or Redis —
 * the tests validate what it records against each vendor's published schema.
 */
export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  json: unknown;
  at: number;
}

export interface Recorder {
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** Stops answering (connections refused) until up() — a receiver outage. */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export type Responder = (r: RecordedRequest) => {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
};

export async function startRecorder(
  respond: Responder = () => ({ status: 200, body: { ok: true } }),
  port = 0,
): Promise<Recorder> {
  const requests: RecordedRequest[] = [];
  let server: Server | null = null;
  const listen = (p: number) =>
    new Promise<Server>((resolve, reject) => {
      const s = createServer((req, res) => {
        let body = '';
        req.on('data', (c) => {
          body += c;
        });
        req.on('end', () => {
          let json: unknown = null;
          try {
            json = body ? JSON.parse(body) : null;
          } catch {
            json = null;
          }
          const r: RecordedRequest = {
            method: req.method ?? '',
            url: req.url ?? '',
            headers: req.headers,
            body,
            json,
            at: Date.now(),
          };
          const out = respond(r);
          requests.push(r);
          res.writeHead(out.status, { 'content-type': 'application/json', ...(out.headers ?? {}) });
          res.end(
            out.body === undefined ? '' : typeof out.body === 'string' ? out.body : JSON.stringify(out.body),
          );
        });
      });
      s.once('error', reject);
      s.listen(p, '127.0.0.1', () => resolve(s));
    });
  server = await listen(port);
  const actual = (server.address() as AddressInfo).port;
  const down = async () => {
    const s = server;
    server = null;
    if (s) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  };
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    requests,
    down,
    async up() {
      if (!server) server = await listen(actual);
    },
    close: down,
  };
}

/** A child process that is killed when the test ends; output kept for failure messages. */
export function startDaemon(
  bin: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): {
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
} {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    out += d;
  });
  return {
    child,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}
