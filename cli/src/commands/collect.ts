import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ApiEvent, createLogger, loadConfig, StartupError } from '@apiwatch/core';
import {
  loadPosition,
  type RawRecord,
  redactSecrets,
  savePosition,
  type TailPosition,
  tailFile,
} from '@apiwatch/ingest';
import type { Command } from '../command.ts';
import { eventReader, fmt, formatOption, requireParser } from '../input.ts';

export const collectCommand: Command = {
  name: 'collect',
  summary: "Tail a gateway's log file (or stdin), turn lines into events and ship them to ingest.",
  usage: 'apiwatch collect --format <format> --file <path | -> [--url <ingest url>] [--token-file <file>]',
  options: {
    format: formatOption,
    file: { type: 'string', description: 'Log file to follow, or - for standard input.', valueName: 'path' },
    url: {
      type: 'string',
      description: 'Ingest base URL (default: from config ingest.listen).',
      valueName: 'url',
    },
    'token-file': {
      type: 'string',
      description:
        'File with the collector token (or set APIWATCH_COLLECTOR_TOKEN); default <dataDir>/collector-token.',
      valueName: 'file',
    },
    config: {
      type: 'string',
      short: 'c',
      description: 'YAML config (dataDir, fingerprint key, ingest address).',
      valueName: 'file',
    },
    gateway: { type: 'string', description: 'Gateway name stamped on the events.', valueName: 'name' },
    'batch-size': { type: 'string', description: 'Events per request.', default: '500', valueName: 'n' },
    'flush-ms': {
      type: 'string',
      description: 'Longest an event waits before it is sent.',
      default: '1000',
      valueName: 'ms',
    },
    once: {
      type: 'boolean',
      description: 'Ship what the file holds now and exit (no follow).',
      default: false,
    },
    'from-end': {
      type: 'boolean',
      description: 'On a file never seen before, start at its end, not its beginning.',
      default: false,
    },
  },
  details: [
    'Secrets never leave this host: Authorization headers, API keys and cookies in the log are',
    'fingerprinted (keyed HMAC) or dropped here, before anything is sent.',
    'Follows rotation by rename and by copytruncate; the position is saved after each accepted',
    'batch in <dataDir>/collect/, so a restart resumes where it stopped (at-least-once).',
  ].join('\n'),
  async run(values) {
    const parser = requireParser(values.format);
    const file = values.file as string | undefined;
    if (!file)
      throw new StartupError('CONFIG_INVALID', '--file is required (a path, or - for standard input)');
    const config = loadConfig(values.config as string | undefined);
    const log = createLogger(config.logLevel, 'apiwatch-collect');
    // Route templates from ingest.specs (and inference) before events leave this host.
    const listenHost = config.ingest.listen.host === '0.0.0.0' ? '127.0.0.1' : config.ingest.listen.host;
    const base = (
      (values.url as string | undefined) ?? `http://${listenHost}:${config.ingest.listen.port}`
    ).replace(/\/+$/, '');
    const token = readToken(values['token-file'] as string | undefined, config.dataDir);
    const batchSize = positiveInt(values['batch-size'], '--batch-size');
    const flushMs = positiveInt(values['flush-ms'], '--flush-ms');
    const read = eventReader(parser, config, { gateway: (values.gateway as string | undefined) ?? null });
    const abort = new AbortController();
    process.once('SIGINT', () => abort.abort());
    process.once('SIGTERM', () => abort.abort());

    const stats = { lines: 0, events: 0, sent: 0, rejectedLocal: 0, rejectedRemote: 0, retries: 0 };
    let pending: ApiEvent[] = [];
    let oldest = 0;

    /** Posts one body, retrying 429/5xx/network errors with backoff (Retry-After when longer). */
    const post = async (path: '/v1/events' | '/v1/dlq', body: string, count: number) => {
      for (let attempt = 0; ; attempt++) {
        let detail = '';
        let retryAfterMs = 0;
        try {
          const res = await fetch(`${base}${path}`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-ndjson', authorization: `Bearer ${token}` },
            body,
            signal: AbortSignal.timeout(30_000),
          });
          const text = await res.text();
          if (res.status === 200 || res.status === 400) {
            const answer = JSON.parse(text) as {
              accepted?: number;
              rejected?: Array<{ index: number; code: string; reason: string }>;
            };
            if (path === '/v1/events') stats.sent += answer.accepted ?? 0;
            for (const r of answer.rejected ?? []) {
              stats.rejectedRemote++;
              log.warn({ code: r.code }, `ingest rejected an event: ${r.reason}.`);
            }
            if (res.status === 200 || answer.rejected) return;
          }
          if (res.status === 401 || res.status === 403) {
            throw new StartupError(
              'INGEST_UNAUTHENTICATED',
              `ingest at ${base} refused the collector token (HTTP ${res.status})`,
            );
          }
          const retryAfter = Number(res.headers.get('retry-after'));
          if (Number.isFinite(retryAfter) && retryAfter > 0) retryAfterMs = retryAfter * 1000;
          detail = `HTTP ${res.status}${retryAfterMs ? `, retry after ${retryAfter} s` : ''}`;
        } catch (e) {
          if (e instanceof StartupError) throw e;
          detail = (e as Error & { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
        }
        if (abort.signal.aborted && attempt > 2)
          throw new Error(`gave up sending ${count} records: ${detail}`);
        stats.retries++;
        const delay = Math.max(retryAfterMs, Math.min(30_000, 250 * 2 ** Math.min(attempt, 7)));
        log.warn(
          { attempt: attempt + 1, delayMs: delay },
          `ingest not reachable or busy (${detail}); retrying.`,
        );
        await sleep(delay);
      }
    };
    const send = async (events: ApiEvent[]) => {
      if (events.length === 0) return;
      await post('/v1/events', `${events.map((e) => JSON.stringify(e)).join('\n')}\n`, events.length);
    };
    // Lines this collector could not read go to the DLQ, redacted here: secrets never leave the host.
    let unreadable: string[] = [];

    const take = (lines: string[]) => {
      for (const text of lines) {
        stats.lines++;
        const record: RawRecord = { text };
        if (parser.framing !== 'text' && (text.startsWith('{') || text.startsWith('['))) {
          try {
            record.json = JSON.parse(text);
          } catch {
            // the parser reports (or repairs) invalid JSON
          }
        }
        const result = read(record);
        if (!result.ok) {
          stats.rejectedLocal++;
          if (stats.rejectedLocal <= 20)
            log.warn(
              { code: result.error.code, line: stats.lines },
              `record not read: ${result.error.message}.`,
            );
          unreadable.push(
            JSON.stringify({
              ts: Date.now(),
              source: parser.id,
              code: result.error.code,
              reason: result.error.message,
              raw: redactSecrets(text).slice(0, 16_384),
            }),
          );
          continue;
        }
        if (pending.length === 0) oldest = Date.now();
        for (const e of result.value) pending.push(e);
        stats.events += result.value.length;
      }
    };
    // Set while following a file: the position after the last line taken, saved once sent.
    let positionFile: string | null = null;
    let lastPosition: TailPosition | null = null;
    const flush = async () => {
      if (unreadable.length > 0) {
        const lines = unreadable;
        unreadable = [];
        await post('/v1/dlq', `${lines.join('\n')}\n`, lines.length);
      }
      while (pending.length > 0) {
        const batch = pending.slice(0, batchSize);
        await send(batch);
        pending = pending.slice(batch.length);
      }
      if (positionFile && lastPosition) savePosition(positionFile, lastPosition);
    };

    const started = Date.now();
    if (file === '-') {
      const rl = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
      for await (const line of rl) {
        if (line.trim()) take([line]);
        if (pending.length >= batchSize || (pending.length > 0 && Date.now() - oldest >= flushMs))
          await flush();
      }
      await flush();
    } else {
      const path = resolve(file);
      positionFile = join(
        config.dataDir,
        'collect',
        `${createHash('sha256').update(path).digest('hex').slice(0, 16)}.json`,
      );
      const counters = await tailFile(
        {
          path,
          position: loadPosition(positionFile),
          startAt: values['from-end'] ? 'end' : 'beginning',
          pollMs: 200,
          maxChunkBytes: 1 << 20,
          once: Boolean(values.once),
          signal: abort.signal,
        },
        async (lines, position) => {
          take(lines);
          lastPosition = position;
          if (pending.length >= batchSize || Date.now() - oldest >= flushMs) await flush();
        },
        async () => {
          await flush();
        },
      );
      await flush();
      if (counters.rotations + counters.truncations > 0) {
        log.info(counters, 'followed log rotation.');
      }
    }
    const seconds = (Date.now() - started) / 1000;
    process.stderr.write(
      `collect: ${fmt(stats.lines)} lines → ${fmt(stats.events)} events, ${fmt(stats.sent)} accepted by ${base} in ${seconds.toFixed(1)} s` +
        `${stats.rejectedLocal ? `; ${fmt(stats.rejectedLocal)} lines not readable as ${parser.id}` : ''}` +
        `${stats.rejectedRemote ? `; ${fmt(stats.rejectedRemote)} rejected by ingest` : ''}` +
        `${stats.retries ? `; ${fmt(stats.retries)} retries` : ''}.\n`,
    );
    log.flush();
    return 0;
  },
};

function readToken(file: string | undefined, dataDir: string): string {
  const fromEnv = process.env.APIWATCH_COLLECTOR_TOKEN;
  if (fromEnv && !file) return fromEnv.trim();
  const path = file ?? join(dataDir, 'collector-token');
  if (!existsSync(path)) {
    throw new StartupError(
      'INGEST_UNAUTHENTICATED',
      `no collector token: ${path} does not exist. Start apiwatch first (it writes one), or pass --token-file / APIWATCH_COLLECTOR_TOKEN`,
    );
  }
  return readFileSync(path, 'utf8').trim();
}

function positiveInt(value: unknown, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new StartupError('CONFIG_INVALID', `${flag} must be a positive integer, got ${String(value)}`);
  return n;
}
