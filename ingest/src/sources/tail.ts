import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Where a tailer is in a file: the file's inode and the byte after the last delivered line. */
export interface TailPosition {
  inode: number;
  offset: number;
}

export interface TailOptions {
  path: string;
  /** Persisted position (resume after restart); null starts per `startAt`. */
  position: TailPosition | null;
  startAt: 'beginning' | 'end';
  pollMs: number;
  maxChunkBytes: number;
  /** Stop at end of file instead of following it. */
  once: boolean;
  signal: AbortSignal;
}

export interface TailCounters {
  rotations: number;
  truncations: number;
  lines: number;
}

/**
 * Follows a log file the way gateways rotate it: by rename (logrotate's default: a new file
 * appears at the path, the old one is read to its end first) and by copytruncate (the file
 * shrinks under us: start again at 0). `deliver` is awaited before the position moves on, so a
 * caller that persists the position after a successful send gets at-least-once delivery.
 */
export async function tailFile(
  opts: TailOptions,
  deliver: (lines: string[], position: TailPosition) => Promise<void>,
  onIdle?: () => Promise<void>,
): Promise<TailCounters> {
  const counters: TailCounters = { rotations: 0, truncations: 0, lines: 0 };
  const buf = Buffer.allocUnsafe(opts.maxChunkBytes);
  let fd: number | null = null;
  let inode = -1;
  let offset = 0;
  let partial = '';

  const open = (resume: TailPosition | null, startAt: 'beginning' | 'end'): boolean => {
    if (!existsSync(opts.path)) return false;
    const nextFd = openSync(opts.path, 'r');
    const st = fstatSync(nextFd);
    if (fd !== null) closeSync(fd);
    fd = nextFd;
    inode = st.ino;
    partial = '';
    if (resume && resume.inode === st.ino && resume.offset <= st.size) offset = resume.offset;
    else offset = startAt === 'end' ? st.size : 0;
    return true;
  };

  while (!opts.signal.aborted && !open(opts.position, opts.startAt)) {
    if (opts.once) throw new Error(`${opts.path}: no such file`);
    await sleep(opts.pollMs, undefined, { signal: opts.signal }).catch(() => {});
  }

  try {
    while (!opts.signal.aborted && fd !== null) {
      const n = readSync(fd, buf, 0, buf.length, offset);
      if (n > 0) {
        const text = partial + buf.toString('utf8', 0, n);
        const lastNl = text.lastIndexOf('\n');
        if (lastNl < 0) {
          partial = text;
          offset += n;
          continue;
        }
        const complete = text.slice(0, lastNl);
        partial = text.slice(lastNl + 1);
        offset += n;
        const lines = complete.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l)).filter((l) => l.length > 0);
        counters.lines += lines.length;
        // The position after these lines excludes the unfinished partial line.
        if (lines.length > 0) await deliver(lines, { inode, offset: offset - Buffer.byteLength(partial) });
        continue;
      }
      // At the end of what is there: did the file move, shrink or stay?
      let st: ReturnType<typeof statSync> | null = null;
      try {
        st = statSync(opts.path);
      } catch {
        st = null;
      }
      if (st && st.ino !== inode) {
        counters.rotations++;
        open(null, 'beginning');
        continue;
      }
      if (st && st.size < offset) {
        counters.truncations++;
        offset = 0;
        partial = '';
        continue;
      }
      if (opts.once) {
        if (partial.length > 0) {
          counters.lines++;
          await deliver([partial], { inode, offset });
          partial = '';
        }
        break;
      }
      if (onIdle) await onIdle();
      await sleep(opts.pollMs, undefined, { signal: opts.signal }).catch(() => {});
    }
  } finally {
    if (fd !== null) closeSync(fd);
  }
  return counters;
}

/** Positions persisted as JSON, written atomically (write + rename). */
export function loadPosition(file: string): TailPosition | null {
  try {
    const p = JSON.parse(readFileSync(file, 'utf8')) as Partial<TailPosition>;
    return typeof p.inode === 'number' && typeof p.offset === 'number' ? { inode: p.inode, offset: p.offset } : null;
  } catch {
    return null;
  }
}

export function savePosition(file: string, position: TailPosition): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(position));
  renameSync(tmp, file);
}
