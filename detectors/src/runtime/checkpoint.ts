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
