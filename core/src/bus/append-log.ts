import { closeSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, writevSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';

/**
 * An append-only file of framed records with group commit: what the embedded bus journal and the
 * embedded delivery queue's outbox are written to, so that "accepted" means "on disk".
 *
 * - Frame: u32 payload length, u32 CRC-32 of the payload (both little-endian), the payload.
 * - Group commit: `append()` queues its frame and resolves once a write + fdatasync that contains
 *   it has finished. Appends that arrive while a sync is under way share the next one, so one
 *   fsync (≈ 2.6 ms on this machine's disk) covers every publisher that was waiting, and the cost
 *   per record falls as the load rises.
 * - The write itself is synchronous (into the page cache: tens of µs for a group), only the
 *   fdatasync goes to the thread pool: on a loaded machine each thread-pool round trip can cost
 *   milliseconds, and the write needs no second one. Without fsync nothing leaves the event loop.
 * - Crash safety: a crash can leave a torn last frame. `openAppendLog` reads the frames back,
 *   stops at the first frame that is short or fails its CRC, and truncates the file there: that
 *   frame's `append()` never resolved, so nobody was told it was durable.
 * - A failed write (disk full) rejects its appenders and truncates the file back to the last good
 *   frame, so a later append never lands behind a half-written one.
 */

const HEADER_BYTES = 8;
/** Frames larger than this are treated as corruption when read back (a length field gone bad). */
const MAX_FRAME_BYTES = 1 << 30;

export interface AppendLogOptions {
  /** fdatasync after each group of writes (default true). Off: durable across a process crash, not a power loss. */
  fsync?: boolean;
}

export interface OpenedLog {
  log: AppendLog;
  /** Payloads of the frames found on disk, in order. */
  frames: Buffer[];
  /** Bytes cut from the end: a torn or corrupt tail left by a crash (0 after a clean stop). */
  truncatedBytes: number;
}

/** Splits `buf` into payloads; stops at the first incomplete or corrupt frame. */
export function readFrames(buf: Buffer): { frames: Buffer[]; goodBytes: number } {
  const frames: Buffer[] = [];
  let at = 0;
  while (at + HEADER_BYTES <= buf.length) {
    const len = buf.readUInt32LE(at);
    const sum = buf.readUInt32LE(at + 4);
    if (len > MAX_FRAME_BYTES || at + HEADER_BYTES + len > buf.length) break;
    const payload = buf.subarray(at + HEADER_BYTES, at + HEADER_BYTES + len);
    if (crc32(payload) !== sum) break;
    frames.push(payload);
    at += HEADER_BYTES + len;
  }
  return { frames, goodBytes: at };
}

/** One frame; a string payload is encoded (UTF-8) straight into the frame, without a second copy. */
export function encodeFrame(payload: Buffer | string): Buffer {
  const length = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  const frame = Buffer.allocUnsafe(HEADER_BYTES + length);
  if (typeof payload === 'string') frame.write(payload, HEADER_BYTES);
  else payload.copy(frame, HEADER_BYTES);
  frame.writeUInt32LE(length, 0);
  frame.writeUInt32LE(crc32(frame.subarray(HEADER_BYTES)), 4);
  return frame;
}

/** Opens (creating when missing) `path`, reads its frames and cuts off a torn tail. */
export async function openAppendLog(path: string, options: AppendLogOptions = {}): Promise<OpenedLog> {
  mkdirSync(dirname(path), { recursive: true });
  let existing: Buffer;
  let created = false;
  try {
    existing = readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    existing = Buffer.alloc(0);
    created = true;
  }
  const { frames, goodBytes } = readFrames(existing);
  const truncatedBytes = existing.length - goodBytes;
  if (truncatedBytes > 0) {
    const fd = openSync(path, 'r+');
    try {
      ftruncateSync(fd, goodBytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
  const fh = await open(path, 'a');
  const fsync = options.fsync ?? true;
  if (created && fsync) syncDirectory(dirname(path));
  return { log: new AppendLog(path, fh, goodBytes, fsync), frames, truncatedBytes };
}

/** Makes a file's creation, rename or removal in `dir` survive a power loss. */
export function syncDirectory(dir: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on a directory; the data itself is still synced.
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
  onDurable: (() => void) | undefined;
}

type Pending =
  | { kind: 'frame'; frame: Buffer; waiter: Waiter }
  | { kind: 'roll'; path: string; resolve: () => void; reject: (e: unknown) => void };

export class AppendLog {
  private currentPath: string;
  private fh: FileHandle;
  private readonly fsync: boolean;
  /** Bytes of good frames in the current file: where a failed write is cut back to. */
  private written: number;
  private pending: Pending[] = [];
  private flushing: Promise<void> | null = null;
  private closed = false;
  /** Writes + syncs done; each may have covered many appends. */
  syncs = 0;

  constructor(path: string, fh: FileHandle, size: number, fsync: boolean) {
    this.currentPath = path;
    this.fh = fh;
    this.written = size;
    this.fsync = fsync;
  }

  /** The file appends go to now. */
  get path(): string {
    return this.currentPath;
  }

  /**
   * Resolves once `payload` is written (and synced). `onDurable` runs first, synchronously and in
   * append order, so a caller can act on durable records in the order they were appended.
   */
  append(payload: Buffer | string, onDurable?: () => void): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`append log ${this.currentPath} is closed`));
    const frame = encodeFrame(payload);
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ kind: 'frame', frame, waiter: { resolve, reject, onDurable } });
      this.flushing ??= this.flushLoop();
    });
  }

  /**
   * Continues in a new file at `path` (created, empty) once everything appended before is
   * durable; appends made after this call go to the new file. The old file is left for the
   * caller to remove.
   */
  roll(path: string): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`append log ${this.currentPath} is closed`));
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ kind: 'roll', path, resolve, reject });
      this.flushing ??= this.flushLoop();
    });
  }

  private async flushLoop(): Promise<void> {
    while (this.pending.length > 0) {
      const head = this.pending[0]!;
      if (head.kind === 'roll') {
        this.pending.shift();
        try {
          const next = await open(head.path, 'a');
          if (this.fsync) syncDirectory(dirname(head.path));
          await this.fh.close();
          this.fh = next;
          this.currentPath = head.path;
          this.written = 0;
          head.resolve();
        } catch (e) {
          head.reject(e);
        }
        continue;
      }
      let end = 0;
      while (end < this.pending.length && this.pending[end]!.kind === 'frame') end++;
      const group = this.pending.splice(0, end) as Array<Extract<Pending, { kind: 'frame' }>>;
      const frames = group.map((g) => g.frame);
      const total = frames.reduce((n, f) => n + f.length, 0);
      try {
        const bytesWritten = writevSync(this.fh.fd, frames);
        // A short write (rare on a file): write the rest in one piece.
        if (bytesWritten < total) {
          const rest = Buffer.concat(frames).subarray(bytesWritten);
          for (let off = 0; off < rest.length; ) off += writevSync(this.fh.fd, [rest.subarray(off)]);
        }
        if (this.fsync) await this.fh.datasync();
        else await Promise.resolve();
        this.written += total;
        this.syncs++;
      } catch (e) {
        // Cut whatever part of the group reached the file, so later frames follow a good one.
        await this.fh.truncate(this.written).catch(() => {});
        for (const g of group) g.waiter.reject(e);
        continue;
      }
      for (const { waiter } of group) {
        try {
          waiter.onDurable?.();
        } catch (e) {
          waiter.reject(e);
          continue;
        }
        waiter.resolve();
      }
    }
    this.flushing = null;
  }

  /** Resolves when everything appended so far is written. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    await this.fh.close();
  }
}
