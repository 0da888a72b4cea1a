import { createHash } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import {
  type ApiwatchError,
  apiwatchError,
  type Config,
  countPastRetention,
  createLogger,
  type DlqRecord,
  processSecrets,
  StartupError,
} from '@apiwatch/core';
import {
  createIngestClient,
  loadPosition,
  parseJson,
  type RawRecord,
  redactSecrets,
  Shipper,
  savePosition,
  type TailPosition,
  tailFile,
} from '@apiwatch/ingest';
import type { Command } from '../command.ts';
import { loadCliConfig } from '../config.ts';
import { eventReader, fmt, formatOption, requireParser } from '../input.ts';

export const collectCommand: Command = {
  name: 'collect',
  summary: "Tail a gateway's log file (or stdin), turn lines into events and ship them to ingest.",
  usage:
    'apiwatch collect --format <format> --file <path | path.gz | -> [--url <ingest url>] [--token-file <file>] [--once] [--from-start]',
  options: {
    format: formatOption,
    file: {
      type: 'string',
      description: 'Log file to follow, a .gz file to read once, or - for standard input.',
      valueName: 'path',
    },
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
    'from-start': {
      type: 'boolean',
      description: 'Ignore the saved position and read the file from its beginning.',
      default: false,
    },
    'max-line-bytes': {
      type: 'string',
      description: 'Longer lines are cut, not parsed, and reported (COLLECT_LINE_TOO_LONG).',
      default: String(1 << 20),
      valueName: 'bytes',
    },
    'retry-attempts': {
      type: 'string',
      description:
        'With --once: tries per request before giving up (exit 1, saying what was not shipped). Following a file, ingest is waited for without limit.',
      default: '6',
      valueName: 'n',
    },
  },
  details: [
    'Secrets never leave this host: Authorization headers, API keys and cookies in the log are',
    'fingerprinted (keyed HMAC) or dropped here, before anything is sent.',
    'Follows rotation by rename and by copytruncate; the position is saved after each accepted',
    'batch in <dataDir>/collect/, so a restart resumes where it stopped (at-least-once).',
    'A .gz file (a rotated log) is read whole, once; its position records that it was shipped.',
  ].join('\n'),
  async run(values) {
    const parser = requireParser(values.format);
    const file = values.file as string | undefined;
    if (!file)
      throw new StartupError('CONFIG_INVALID', '--file is required (a path, or - for standard input)');
    const config = loadCliConfig(values.config as string | undefined);
    const log = createLogger(config.logLevel, 'apiwatch-collect', config.logFormat);
    const listenHost = config.ingest.listen.host === '0.0.0.0' ? '127.0.0.1' : config.ingest.listen.host;
    const base = (
      (values.url as string | undefined) ?? `http://${listenHost}:${config.ingest.listen.port}`
    ).replace(/\/+$/, '');
    const token = readToken(values['token-file'] as string | undefined, config);
    const batchSize = positiveInt(values['batch-size'], '--batch-size');
    const flushMs = positiveInt(values['flush-ms'], '--flush-ms');
    const maxLineBytes = positiveInt(values['max-line-bytes'], '--max-line-bytes');
    const retryAttempts = positiveInt(values['retry-attempts'], '--retry-attempts');
    const gz = file !== '-' && file.endsWith('.gz');
    const once = Boolean(values.once) || gz;
    const fromStart = Boolean(values['from-start']);
    // Route templates from ingest.specs (and inference) before events leave this host.
    const read = eventReader(parser, config, { gateway: (values.gateway as string | undefined) ?? null });
    const abort = new AbortController();
    process.once('SIGINT', () => abort.abort());
    process.once('SIGTERM', () => abort.abort());

    const shipper = new Shipper({
      client: createIngestClient({ baseUrl: base, token }),
      batchSize,
      flushMs,
      retry: {
        attempts: once ? retryAttempts : Number.POSITIVE_INFINITY,
        initialBackoffMs: 250,
        maxBackoffMs: once ? 4000 : 30_000,
      },
      signal: abort.signal,
      onRetry: ({ attempt, delayMs, detail }) =>
        log.warn({ attempt, delayMs }, `ingest not reachable or busy (${detail}); retrying.`),
      onRejected: (r) => {
        if (shipper.stats.rejected <= 20)
          log.warn({ code: r.code }, `ingest rejected an event: ${r.reason}.`);
      },
    });
    const stats = { lines: 0, unreadable: 0, tooLong: 0, pastRetention: 0 };
    const eventsDays = config.store.retention.eventsDays;

    /** A line of maxLineBytes or more: cut (by the tailer or here), reported, never parsed. */
    const takeTooLong = (text: string) => {
      stats.tooLong++;
      if (stats.tooLong <= 20)
        log.warn(
          { code: 'COLLECT_LINE_TOO_LONG', line: stats.lines },
          `line ${stats.lines} is ${maxLineBytes} bytes or longer; cut and not parsed (raise --max-line-bytes to read it).`,
        );
      shipper.deadLetter(
        deadLetter(parser.id, 'COLLECT_LINE_TOO_LONG', `line of ${maxLineBytes} bytes or more (cut)`, text),
      );
    };
    const take = (lines: string[]) => {
      const now = Date.now();
      for (const text of lines) {
        stats.lines++;
        if (Buffer.byteLength(text) >= maxLineBytes) {
          takeTooLong(text);
          continue;
        }
        const record: RawRecord = { text };
        if (parser.framing !== 'text' && (text.startsWith('{') || text.startsWith('['))) {
          // Bounded like every other reader (depth): what fails is left to the parser, which
          // reports (or repairs) it.
          const parsed = parseJson(text);
          if (parsed.ok) record.json = parsed.value;
        }
        const result = read(record);
        if (!result.ok) {
          stats.unreadable++;
          if (stats.unreadable <= 20)
            log.warn(
              { code: result.error.code, line: stats.lines },
              `record not read: ${result.error.message}.`,
            );
          // Redacted here: secrets never leave the host.
          shipper.deadLetter(deadLetter(parser.id, result.error.code, result.error.message, text));
          continue;
        }
        stats.pastRetention += countPastRetention(result.value, eventsDays, now);
        shipper.add(result.value);
      }
    };

    // Set while reading a file: the position after the last line taken, saved once shipped.
    let positionFile: string | null = null;
    let lastPosition: TailPosition | null = null;
    let failure: (ApiwatchError & { attempts: number; unshipped: number; detail: string }) | null = null;
    const flush = async (): Promise<boolean> => {
      if (failure) return false;
      const r = await shipper.flush();
      if (!r.ok) {
        failure = { ...apiwatchError(r.error.code, r.error.detail), ...r.error };
        abort.abort();
        return false;
      }
      if (positionFile && lastPosition) savePosition(positionFile, lastPosition);
      return true;
    };

    const started = Date.now();
    let nothingNew: string | null = null;
    if (file === '-' || gz) {
      let input: NodeJS.ReadableStream = process.stdin;
      if (gz) {
        const path = resolve(file);
        if (!existsSync(path)) missing(path);
        positionFile = positionFileFor(config.dataDir, path);
        const st = statSync(path);
        const saved = fromStart ? null : loadPosition(positionFile);
        if (saved && saved.inode === st.ino && saved.offset >= st.size) nothingNew = positionFile;
        lastPosition = { inode: st.ino, offset: st.size };
        input = createReadStream(path).pipe(createGunzip());
      }
      if (!nothingNew) {
        const rl = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
        const complete = gz ? lastPosition : null;
        // The .gz position is saved only once the whole file is shipped.
        lastPosition = null;
        for await (const raw of rl) {
          if (abort.signal.aborted) break;
          if (Buffer.byteLength(raw) >= maxLineBytes) {
            stats.lines++;
            takeTooLong(cutTo(raw, maxLineBytes));
          } else if (raw.trim()) take([raw]);
          if (shipper.due() && !(await flush())) break;
        }
        if (!failure && !abort.signal.aborted) lastPosition = complete;
        await flush();
      }
    } else {
      const path = resolve(file);
      if (once && !existsSync(path)) missing(path);
      if (!existsSync(path)) log.info({ file: path }, 'waiting for the log file to appear.');
      positionFile = positionFileFor(config.dataDir, path);
      const saved = fromStart ? null : loadPosition(positionFile);
      if (once && saved && existsSync(path)) {
        const st = statSync(path);
        if (saved.inode === st.ino && saved.offset >= st.size) nothingNew = positionFile;
      }
      if (!nothingNew) {
        const counters = await tailFile(
          {
            path,
            position: saved,
            startAt: fromStart ? 'beginning' : values['from-end'] ? 'end' : 'beginning',
            pollMs: 200,
            maxChunkBytes: 1 << 20,
            maxLineBytes,
            once,
            signal: abort.signal,
          },
          async (lines, position) => {
            take(lines);
            lastPosition = position;
            if (shipper.due()) await flush();
          },
          async () => {
            await flush();
          },
        );
        await flush();
        if (counters.rotations + counters.truncations > 0) log.info(counters, 'followed log rotation.');
      }
    }

    const seconds = (Date.now() - started) / 1000;
    const s = shipper.stats;
    if (nothingNew) {
      process.stderr.write(
        `collect: nothing new in ${file}: the saved position (${nothingNew}) is at its end; --from-start ships it again.\n`,
      );
      log.flush();
      return 0;
    }
    const parts = [
      `collect: ${fmt(stats.lines)} lines → ${fmt(s.events)} events, ${fmt(s.shipped)} accepted by ${base} in ${seconds.toFixed(1)} s`,
    ];
    if (stats.unreadable) parts.push(`${fmt(stats.unreadable)} lines not readable as ${parser.id}`);
    if (stats.tooLong)
      parts.push(`${fmt(stats.tooLong)} lines longer than ${fmt(maxLineBytes)} bytes (cut, not parsed)`);
    if (s.rejected) parts.push(`${fmt(s.rejected)} rejected by ingest`);
    if (s.retries) parts.push(`${fmt(s.retries)} retries`);
    process.stderr.write(`${parts.join('; ')}.\n`);
    if (stats.pastRetention > 0) {
      process.stderr.write(
        `collect: ${fmt(stats.pastRetention)} events are older than store.retention.eventsDays (${eventsDays} days): the store drops them at insert. To keep history, raise it (0 keeps forever); see docs/store.md#retention.\n`,
      );
    }
    log.flush();
    if (failure) {
      const f = failure as ApiwatchError & { attempts: number; unshipped: number; detail: string };
      process.stderr.write(
        `apiwatch collect: ingest at ${base}: ${f.detail} after ${f.attempts} attempt${f.attempts === 1 ? '' : 's'} [${f.code}]; shipped ${fmt(s.shipped)} of ${fmt(s.events)} events, ${fmt(s.events - s.shipped - s.rejected)} not shipped (the saved position stays before them; the next run sends them).\n`,
      );
      return f.code === 'INGEST_UNAUTHENTICATED' ? 2 : 1;
    }
    return 0;
  },
};

function missing(path: string): never {
  throw new StartupError('COLLECT_INPUT_MISSING', `${path} does not exist; nothing was shipped`);
}

function positionFileFor(dataDir: string, path: string): string {
  return join(dataDir, 'collect', `${createHash('sha256').update(path).digest('hex').slice(0, 16)}.json`);
}

function deadLetter(source: string, code: string, reason: string, text: string): DlqRecord {
  return { ts: Date.now(), source, collector: null, code, reason, raw: redactSecrets(text).slice(0, 16_384) };
}

/** The first `maxBytes` bytes of `text` (a cut never splits a UTF-8 character). */
function cutTo(text: string, maxBytes: number): string {
  const buf = Buffer.from(text);
  let end = maxBytes;
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--;
  return buf.toString('utf8', 0, end);
}

/** --token-file, else collect.token (env APIWATCH_COLLECTOR_TOKEN), else what `start` wrote. */
function readToken(file: string | undefined, config: Config): string {
  if (!file && config.collect.token)
    return processSecrets('collect.token', { ref: config.collect.token }, true)!;
  const path = file ?? join(config.dataDir, 'collector-token');
  if (!existsSync(path)) {
    throw new StartupError(
      'INGEST_UNAUTHENTICATED',
      `no collector token: ${path} does not exist. Start apiwatch first (it writes one), or pass --token-file / set collect.token (APIWATCH_COLLECTOR_TOKEN)`,
    );
  }
  return processSecrets(file ? '--token-file' : 'the collector token file', { file: path }, true)!;
}

function positiveInt(value: unknown, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new StartupError('CONFIG_INVALID', `${flag} must be a positive integer, got ${String(value)}`);
  return n;
}
