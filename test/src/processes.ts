import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(ROOT, 'cli', 'src', 'main.ts');

/** A running `apiwatch` child process with its output kept for assertions and failure reports. */
export interface ApiwatchProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function startApiwatch(args: string[], env: NodeJS.ProcessEnv = {}): ApiwatchProcess {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/**
 * Waits (at most 60 s) until the ingest listener at `url` answers /healthz; on timeout the error
 * carries `onTimeout()` (the processes' output).
 */
export async function waitUntilHealthy(url: string, onTimeout: () => string): Promise<void> {
  await waitFor(
    `ingest at ${url} to answer /healthz`,
    async () =>
      (await fetch(`${url}/healthz`).then(
        (r) => r.ok,
        () => false,
      )) || undefined,
    60_000,
    onTimeout,
  );
}

/** An `apiwatch start` run with no config file: the embedded default, its env and port. */
export interface EmbeddedStart {
  app: ApiwatchProcess;
  port: number;
  /** The env it runs with (data dir, listen port): CLI commands given it reach this server. */
  env: { APIWATCH__DATADIR: string; APIWATCH__INGEST__LISTEN__PORT: string };
}

/**
 * Starts `apiwatch start` with no config (the embedded default a new user runs first) on a free
 * port with its data in `dataDir`, killed when the test ends; resolves once ingest is healthy.
 */
export async function startEmbedded(t: TestContext, dataDir: string): Promise<EmbeddedStart> {
  const port = await freePort();
  const env = { APIWATCH__DATADIR: dataDir, APIWATCH__INGEST__LISTEN__PORT: String(port) };
  const app = startApiwatch(['start'], env);
  t.after(() => app.stop('SIGKILL'));
  await waitUntilHealthy(`http://127.0.0.1:${port}`, app.output);
  return { app, port, env };
}

/** Runs `apiwatch ...` to completion. */
export async function runApiwatch(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, stdout, stderr };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Polls until `check` returns a value or the deadline passes: the way a test waits for a
 * condition instead of sleeping a fixed time. The poll interval starts at 5 ms and doubles up to
 * 200 ms, so a condition that holds soon is seen soon and a slow one costs little CPU.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  onTimeout?: () => string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let intervalMs = 5; ; intervalMs = Math.min(intervalMs * 2, 200)) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${onTimeout ? `\n${onTimeout()}` : ''}`,
      );
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * The value of an unlabelled or labelled sample `name` on a Prometheus /metrics page (0 when the
 * page lacks it), or null when the page cannot be fetched (the process is not listening yet).
 */
export async function scrapeMetric(url: string, name: string): Promise<number | null> {
  let text: string;
  try {
    text = await (await fetch(url)).text();
  } catch {
    return null;
  }
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}
