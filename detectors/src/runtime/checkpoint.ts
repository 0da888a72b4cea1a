import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';

/**
 * Per-partition detector checkpoints on disk (docs/decisions/0013): the lane snapshot with the
 * offset of the next unread event, written atomically (temp file, fsync, rename), and a journal
 * of the findings emitted since that snapshot (appended and fsync'd after each publish). After a
 * crash the new owner restores the snapshot, re-reads from its offset and drops the findings the
 * journal says were already published: nothing missed, nothing sent twice.
 */
export interface Checkpoint {
  offset: bigint;
  state: Buffer;
  /** `${id}|${status}|${lastSeen}` of the findings published after the snapshot. */
  emitted: Set<string>;
}

/**
 * What identifies a published finding update across a restart: the episode, its status and the
 * event time of the last event it covers — all from event data. Not detectedAt: live, an event
 * that arrives behind its lane's clock is judged at that clock, so a re-read after a restart can
 * give the same update another detectedAt, and it must still be fenced.
 */
export const emittedKey = (f: { id: string; status: string; lastSeen: number }) =>
  `${f.id}|${f.status}|${f.lastSeen}`;

export class FileCheckpoints {
  private readonly dir: string;
  private readonly name: string;

  constructor(dir: string, name: string) {
    this.dir = dir;
    this.name = name.replace(/[^a-zA-Z0-9_.-]/g, '_');
    mkdirSync(dir, { recursive: true });
  }

  private file(partition: number, kind: 'snap' | 'emitted'): string {
    return join(this.dir, `${this.name}.${partition}.${kind}`);
  }

  load(partition: number): Checkpoint | null {
    const snap = this.file(partition, 'snap');
    if (!existsSync(snap)) return null;
    const { offset, state } = deserialize(readFileSync(snap)) as { offset: string; state: Uint8Array };
    const emitted = new Set<string>();
    const journal = this.file(partition, 'emitted');
    if (existsSync(journal))
      for (const line of readFileSync(journal, 'utf8').split('\n')) if (line) emitted.add(line);
    return { offset: BigInt(offset), state: Buffer.from(state), emitted };
  }

  save(partition: number, offset: bigint, state: Buffer): void {
    const target = this.file(partition, 'snap');
    const tmp = `${target}.tmp`;
    writeDurably(tmp, serialize({ offset: offset.toString(), state }));
    renameSync(tmp, target);
    // The snapshot covers everything published so far: the journal starts again.
    writeDurably(this.file(partition, 'emitted'), Buffer.alloc(0));
  }

  recordEmitted(partition: number, keys: readonly string[]): void {
    if (keys.length === 0) return;
    const fd = openSync(this.file(partition, 'emitted'), 'a');
    try {
      writeSync(fd, `${keys.join('\n')}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

function writeDurably(path: string, bytes: Buffer): void {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * The bookkeeping around one consumer's checkpoints, per partition: the offset of the next
 * unread message, the offset the last snapshot covers (the commit limit), the messages a restored
 * snapshot already covers (skipped when they are read again) and the fence of updates published
 * after it (dropped when the re-read raises them again). The detect role keeps one for the events
 * partitions (stage 1) and one for the re-keyed partitions (stage 2).
 */
export class CheckpointedPartitions {
  private readonly next = new Map<number, bigint>();
  private readonly snapped = new Map<number, bigint>();
  private readonly skipBelow = new Map<number, bigint>();
  private readonly fence = new Map<number, Set<string>>();

  readonly files: FileCheckpoints;

  constructor(files: FileCheckpoints) {
    this.files = files;
  }

  /** True when a restored snapshot already covers the message (the commit lagged the snapshot). */
  covered(partition: number, offset: bigint | undefined): boolean {
    const skip = this.skipBelow.get(partition);
    return skip !== undefined && offset !== undefined && offset < skip;
  }

  /** After a message is handled: the next offset to read (a batch may be handled out of offset order). */
  advance(partition: number, offset: bigint | undefined): void {
    if (offset === undefined) return;
    const cur = this.next.get(partition);
    if (cur === undefined || offset >= cur) this.next.set(partition, offset + 1n);
  }

  /** `findings` without the updates published before a crash. */
  unfenced<F extends { id: string; status: string; lastSeen: number }>(
    partition: number,
    findings: F[],
  ): F[] {
    const f = this.fence.get(partition);
    if (!f || f.size === 0) return findings;
    return findings.filter((x) => !f.delete(emittedKey(x)));
  }

  /** Records published updates in the partition's journal (fsync'd). */
  journal(
    partition: number,
    findings: ReadonlyArray<{ id: string; status: string; lastSeen: number }>,
  ): void {
    if (findings.length > 0) this.files.recordEmitted(partition, findings.map(emittedKey));
  }

  /** Snapshots every partition that read something since its last snapshot. */
  saveAll(partitions: readonly number[], snapshot: (partition: number) => Buffer): void {
    for (const p of partitions) {
      const offset = this.next.get(p);
      if (offset === undefined || this.snapped.get(p) === offset) continue;
      this.files.save(p, offset, snapshot(p));
      this.snapped.set(p, offset);
    }
  }

  /** Partitions taken away: snapshot them for their next owner and forget them here. */
  handOver(partitions: readonly number[], snapshot: (partition: number) => Buffer): void {
    for (const p of partitions) {
      const offset = this.next.get(p);
      if (offset !== undefined) this.files.save(p, offset, snapshot(p));
      this.next.delete(p);
      this.snapped.delete(p);
      this.skipBelow.delete(p);
      this.fence.delete(p);
    }
  }

  /** Partitions handed to us: restore those with a checkpoint; returns what was restored. */
  take(
    partitions: readonly number[],
    restore: (partition: number, state: Buffer) => void,
  ): Array<{ partition: number; offset: bigint; fenced: number }> {
    const restored: Array<{ partition: number; offset: bigint; fenced: number }> = [];
    for (const p of partitions) {
      const cp = this.files.load(p);
      if (!cp) continue;
      restore(p, cp.state);
      this.snapped.set(p, cp.offset);
      this.next.set(p, cp.offset);
      this.skipBelow.set(p, cp.offset);
      this.fence.set(p, cp.emitted);
      restored.push({ partition: p, offset: cp.offset, fenced: cp.emitted.size });
    }
    return restored;
  }

  /** How far the consumer may commit: no further than the partition's snapshot covers. */
  readonly commitLimit = (partition: number): bigint | null => this.snapped.get(partition) ?? null;
}
