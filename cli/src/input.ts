import { createReadStream, existsSync, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { type ApiEvent, type Config, processSecrets, type Result, StartupError } from '@apiwatch/core';
import {
  asRecordResult,
  createIngestPipeline,
  findParser,
  formatIds,
  loadIdentityContext,
  loadRouteTemplater,
  type ParseError,
  type Parser,
  type RawRecord,
} from '@apiwatch/ingest';
import type { OptionSpec } from './command.ts';

/** A file path, or `-` for standard input; `.gz` files are decompressed. */
export function openInput(path: string | undefined): Readable {
  if (!path) throw new StartupError('CONFIG_INVALID', 'give an input file, or - for standard input');
  if (path === '-') return process.stdin;
  if (!existsSync(path) || !statSync(path).isFile()) {
    throw new StartupError('CONFIG_FILE_UNREADABLE', `input file not found: ${path}`);
  }
  const stream = createReadStream(path);
  return path.endsWith('.gz') ? stream.pipe(createGunzip()) : stream;
}

export function requireParser(format: unknown): Parser {
  if (typeof format !== 'string' || !format) {
    throw new StartupError('CONFIG_INVALID', `--format is required; one of: ${formatIds().join(', ')}`);
  }
  const parser = findParser(format);
  if (!parser)
    throw new StartupError(
      'CONFIG_INVALID',
      `unknown --format "${format}"; one of: ${formatIds().join(', ')}`,
    );
  return parser;
}

/** Writes to stdout, waiting when the pipe is full; a closed pipe (| head) ends quietly. */
export function stdoutWriter(): { write(text: string): Promise<void> | undefined; closed: () => boolean } {
  let closed = false;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') closed = true;
    else throw e;
  });
  return {
    closed: () => closed,
    write(text: string) {
      if (closed) return undefined;
      if (process.stdout.write(text)) return undefined;
      return new Promise<void>((resolve) => process.stdout.once('drain', resolve));
    },
  };
}

export function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** A progress line on stderr at most once a second, only when stderr is a terminal or asked for. */
export function progressReporter(enabled: boolean): { tick(line: () => string): void; done(): void } {
  let last = Date.now();
  let shown = false;
  const tty = process.stderr.isTTY;
  return {
    tick(line) {
      if (!enabled) return;
      const now = Date.now();
      if (now - last < 1000) return;
      last = now;
      shown = true;
      process.stderr.write(tty ? `\r\x1b[2K${line()}` : `${line()}\n`);
    },
    done() {
      if (shown && tty) process.stderr.write('\n');
    },
  };
}

/** `--format`, shared by parse, replay and collect. */
export const formatOption: OptionSpec = {
  type: 'string',
  short: 'f',
  description: `Input format: ${formatIds().join(', ')}.`,
  valueName: 'format',
};

/** `--spec`, shared by parse and replay. */
export const specOption: OptionSpec = {
  type: 'string',
  multiple: true,
  description: 'OpenAPI/Swagger file for route templates (repeatable; added to ingest.specs).',
  valueName: 'file',
};

/**
 * One record → canonical events, as every CLI reader needs it: the ingest pipeline
 * (`@apiwatch/ingest` pipeline.ts: parse → identity → routes → redact → validate) with the
 * configured identity rules and route templates (ingest.specs plus `extraSpecs`) — the same
 * pipeline the push endpoints run.
 */
export function eventReader(
  parser: Parser,
  config: Config,
  options: { extraSpecs?: readonly string[]; gateway?: string | null } = {},
): (record: RawRecord) => Result<ApiEvent[], ParseError> {
  const pipeline = createIngestPipeline({
    parser,
    identity: loadIdentityContext(config, processSecrets, parser.id),
    routes: loadRouteTemplater({
      specs: [...config.ingest.specs, ...(options.extraSpecs ?? [])],
      inferRoutes: config.ingest.inferRoutes,
    }),
    gateway: options.gateway ?? null,
  });
  return (record) => asRecordResult(pipeline.run(record));
}
