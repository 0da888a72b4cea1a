import { createReadStream, existsSync, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { StartupError } from '@apiwatch/core';
import { findParser, formatIds, type Parser } from '@apiwatch/ingest';

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
