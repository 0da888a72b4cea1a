import {
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
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
  /**
   * After a rename rotation, how long the old file must stay quiet before it is let go: the
   * gateway keeps writing to it until it reopens its log (nginx on USR1). Default 2000 ms; not
   * waited for with `once`.
   */
  rotationGraceMs?: number;
  /** A line longer than this is cut here and the rest of it skipped (counted). Default 1 MiB. */
  maxLineBytes?: number;
}

export interface TailCounters {
  rotations: number;
  truncations: number;
  lines: number;
  /** Lines longer than `maxLineBytes`, delivered cut. */
  oversizedLines: number;
}

const NEWLINE = 0x0a;

function toLines(buf: Buffer, end: number): string[] {
  const out: string[] = [];
  for (const l of buf.toString('utf8', 0, end).split('\n')) {
    const line = l.endsWith('\r') ? l.slice(0, -1) : l;
    if (line.length > 0) out.push(line);
  }
  return out;
}

/**
 * Follows a log file the way gateways rotate it: by rename (logrotate's default: a new file
 * appears at the path; the old one is read to its end, and until it has been quiet for
 * `rotationGraceMs`, since the gateway writes to it until it reopens its log) and by copytruncate
 * (the file shrinks under us: start again at 0). `deliver` is awaited before the position moves
 * on, so a caller that persists the position after a successful send gets at-least-once delivery.
 * Unfinished lines are kept as bytes (a UTF-8 character split across reads stays whole) and
 * are not delivered until their newline arrives; with `once`, an unterminated last line is
 * delivered, but the position stays before it so a resumed tail reads it again once complete.
 */
export async function tailFile(
  opts: TailOptions,
  deliver: (lines: string[], position: TailPosition) => Promise<void>,
  onIdle?: () => Promise<void>,
): Promise<TailCounters> {
  const counters: TailCounters = { rotations: 0, truncations: 0, lines: 0, oversizedLines: 0 };
  const graceMs = opts.rotationGraceMs ?? 2000;
  const maxLine = opts.maxLineBytes ?? 1 << 20;
  const buf = Buffer.allocUnsafe(opts.maxChunkBytes);
  let fd: number | null = null;
  let inode = -1;
  let offset = 0;
  /** Bytes of the unfinished line, from `offset - partialLen` to `offset`. */
  let partial: Buffer = Buffer.alloc(0);
  /** Skipping the rest of an over-long line until its newline. */
  let skipping = false;
  /** When the path was seen to hold another file while the old one is still being drained. */
  let rotatedSince: number | null = null;

  const open = (resume: TailPosition | null, startAt: 'beginning' | 'end'): boolean => {
    if (!existsSync(opts.path)) return false;
    let nextFd: number;
    try {
      nextFd = openSync(opts.path, 'r');
    } catch {
      return false; // removed between the check and the open
    }
    const st = fstatSync(nextFd);
    if (fd !== null) closeSync(fd);
    fd = nextFd;
    inode = st.ino;
    partial = Buffer.alloc(0);
    skipping = false;
    rotatedSince = null;
    if (resume && resume.inode === st.ino && resume.offset <= st.size) offset = resume.offset;
    else offset = startAt === 'end' ? st.size : 0;
    return true;
  };

  while (!opts.signal.aborted && !open(opts.position, opts.startAt)) {
    if (opts.once) throw new Error(`${opts.path}: no such file`);
    await sleep(opts.pollMs, undefined, { signal: opts.signal }).catch(() => {});
  }

  const deliverPartialAsLast = async () => {
    // The old file is finished: its unterminated last line is complete.
    if (partial.length > 0 && !skipping) {
      counters.lines++;
      await deliver(toLines(partial, partial.length), { inode, offset });
    }
    partial = Buffer.alloc(0);
  };

  try {
    while (!opts.signal.aborted && fd !== null) {
      const n = readSync(fd, buf, 0, buf.length, offset);
      if (n > 0) {
        offset += n;
        rotatedSince = rotatedSince === null ? null : Date.now();
        let start = 0;
        if (skipping) {
          const nl = buf.indexOf(NEWLINE, 0);
          if (nl < 0 || nl >= n) continue;
          skipping = false;
          start = nl + 1;
        }
        const lastNl = buf.lastIndexOf(NEWLINE, n - 1);
        if (lastNl < start) {
          partial = Buffer.concat([partial, buf.subarray(start, n)]);
          if (partial.length > maxLine) {
            counters.oversizedLines++;
            counters.lines++;
            await deliver(toLines(partial, maxLine), { inode, offset: offset - partial.length });
            partial = Buffer.alloc(0);
            skipping = true;
          }
          continue;
        }
        const chunk =
          partial.length > 0
            ? Buffer.concat([partial, buf.subarray(start, lastNl)])
            : buf.subarray(start, lastNl);
        partial = Buffer.from(buf.subarray(lastNl + 1, n));
        const lines = toLines(chunk, chunk.length);
        counters.lines += lines.length;
        // The position after these lines excludes the unfinished partial line.
        if (lines.length > 0) await deliver(lines, { inode, offset: offset - partial.length });
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
        rotatedSince ??= Date.now();
        if (opts.once || Date.now() - rotatedSince >= graceMs) {
          await deliverPartialAsLast();
          counters.rotations++;
          open(null, 'beginning');
          continue;
        }
      } else if (st && st.size < offset) {
        counters.truncations++;
        offset = 0;
        partial = Buffer.alloc(0);
        skipping = false;
        continue;
      } else if (opts.once) {
        if (partial.length > 0 && !skipping) {
          counters.lines++;
          await deliver(toLines(partial, partial.length), { inode, offset: offset - partial.length });
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
    return typeof p.inode === 'number' && typeof p.offset === 'number'
      ? { inode: p.inode, offset: p.offset }
      : null;
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
