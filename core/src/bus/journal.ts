import { readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log.ts';
import { type AppendLog, openAppendLog, readFrames } from './append-log.ts';
import type { BusMessage } from './types.ts';

/**
 * The embedded bus's write-ahead journal, one per topic: what makes an embedded 2xx mean
 * "durable" (docs/decisions/0010-embedded-durability.md).
 *
 * - Every publish is one frame `{"s":<first seq>,"m":[messages]}` appended with group commit and
 *   fdatasync (append-log.ts); `publish()` resolves, and consumers see the messages, only after
 *   that. Messages get consecutive sequence numbers (offsets), as in a Kafka partition.
 * - Each consumer group's committed offset (the next seq it has not finished) is kept in
 *   `offsets.json`; a group commits after its handler resolved, like a Kafka consumer.
 * - On start the journal is read back and each group, when it subscribes, gets again every
 *   message from its committed offset: at-least-once, made idempotent downstream (store inserts
 *   dedup on event id, notifications on their id).
 * - Files: `<dir>/<topic>/<first seq, 20 digits>.log` segments of about `segmentBytes`; a segment
 *   is removed once every group has committed past it, so the journal holds what is in flight
 *   (bounded by bus.memory.capacity per group), not history.
 */

export interface JournalOptions {
  /** Directory of this topic's segments and offsets. */
  dir: string;
  /** fdatasync each group commit; false survives a process crash but not a power loss. */
  fsync: boolean;
  /** A segment is closed and a new one started past this size, bytes. */
  segmentBytes: number;
  log: Logger;
}

export interface JournalEntry<T> {
  seq: number;
  message: BusMessage<T>;
}

interface Segment {
  firstSeq: number;
  path: string;
}

interface OffsetsFile {
  nextSeq: number;
  groups: Record<string, number>;
}

const OFFSETS_EVERY_MS = 100;
const SEGMENT_RE = /^(\d{20})\.log$/;
const segmentName = (seq: number) => `${String(seq).padStart(20, '0')}.log`;

export interface JournalStats {
  /** Frames appended (one per publish call). */
  appends: number;
  /** Writes + fsyncs (group commits). */
  syncs: number;
  /** Messages given back to consumer groups on start. */
  replayed: number;
  /** Bytes cut from a torn tail on start. */
  truncatedBytes: number;
  /** Frames on disk that could not be decoded (skipped). */
  corruptFrames: number;
}

export class TopicJournal {
  readonly stats: JournalStats = { appends: 0, syncs: 0, replayed: 0, truncatedBytes: 0, corruptFrames: 0 };
  private readonly o: JournalOptions;
  private readonly log: AppendLog;
  private readonly segments: Segment[];
  private segmentBytes: number;
  private nextSeqValue: number;
  private durable: number;
  private readonly committed = new Map<string, number>();
  /** Messages read back on start, kept until the first publish (every group has subscribed by then). */
  private recovered: Array<JournalEntry<unknown>> | null;
  private offsetsDirty = false;
  private offsetsWriting = false;
  private offsetsTimer: NodeJS.Timeout | null = null;

  private constructor(
    o: JournalOptions,
    log: AppendLog,
    segments: Segment[],
    activeBytes: number,
    nextSeq: number,
    committed: Record<string, number>,
    recovered: Array<JournalEntry<unknown>>,
  ) {
    this.o = o;
    this.log = log;
    this.segments = segments;
    this.segmentBytes = activeBytes;
    this.nextSeqValue = nextSeq;
    this.durable = nextSeq;
    for (const [g, seq] of Object.entries(committed)) this.committed.set(g, seq);
    this.recovered = recovered;
  }

  static async open(o: JournalOptions): Promise<TopicJournal> {
    const offsets = readOffsets(join(o.dir, 'offsets.json'));
    let names: string[] = [];
    try {
      names = readdirSync(o.dir).filter((n) => SEGMENT_RE.test(n));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const segments: Segment[] = names
      .map((n) => ({ firstSeq: Number(SEGMENT_RE.exec(n)![1]), path: join(o.dir, n) }))
      .sort((a, b) => a.firstSeq - b.firstSeq);
    const recovered: Array<JournalEntry<unknown>> = [];
    let corrupt = 0;
    let nextSeq = offsets.nextSeq;
    const readSegment = (frames: Buffer[], firstSeq: number): number => {
      let seq = firstSeq;
      for (const f of frames) {
        let parsed: { s: number; m: BusMessage<unknown>[] };
        try {
          parsed = JSON.parse(f.toString('utf8')) as { s: number; m: BusMessage<unknown>[] };
          if (typeof parsed.s !== 'number' || !Array.isArray(parsed.m))
            throw new Error('not a journal frame');
        } catch {
          corrupt++;
          continue;
        }
        seq = parsed.s;
        for (const message of parsed.m) recovered.push({ seq: seq++, message });
      }
      return seq;
    };
    // Every segment but the last is complete; only the active one can have a torn tail.
    for (const s of segments.slice(0, -1)) {
      const bytes = readFileSync(s.path);
      const { frames, goodBytes } = readFrames(bytes);
      if (goodBytes < bytes.length) corrupt++;
      nextSeq = Math.max(nextSeq, readSegment(frames, s.firstSeq));
    }
    if (segments.length === 0) {
      segments.push({ firstSeq: nextSeq, path: join(o.dir, segmentName(nextSeq)) });
    }
    const active = segments[segments.length - 1]!;
    const opened = await openAppendLog(active.path, { fsync: o.fsync });
    nextSeq = Math.max(nextSeq, readSegment(opened.frames, active.firstSeq));
    const activeBytes = opened.frames.reduce((n, f) => n + f.length + 8, 0);
    // Only what some group has not committed is given back.
    const known = Object.values(offsets.groups);
    const low = known.length > 0 ? Math.min(...known) : 0;
    const journal = new TopicJournal(
      o,
      opened.log,
      segments,
      activeBytes,
      nextSeq,
      offsets.groups,
      recovered.filter((e) => e.seq >= low),
    );
    journal.stats.truncatedBytes = opened.truncatedBytes;
    journal.stats.corruptFrames = corrupt;
    if (opened.truncatedBytes > 0 || corrupt > 0) {
      o.log.warn(
        { dir: o.dir, truncatedBytes: opened.truncatedBytes, corruptFrames: corrupt },
        'bus journal had a torn or corrupt tail from a crash; it was cut (those publishes were never acknowledged).',
      );
    }
    return journal;
  }

  /** The seq the next published message gets. */
  get nextSeq(): number {
    return this.nextSeqValue;
  }

  /** Every message with a seq below this is durable and was handed to the groups subscribed then. */
  get durableSeq(): number {
    return this.durable;
  }

  /**
   * Registers `group` and returns what it has not committed yet (from the journal read on start).
   * A group the journal has never seen starts at the oldest message kept.
   */
  attach(group: string): Array<JournalEntry<unknown>> {
    const oldest = this.recovered?.[0]?.seq ?? this.durable;
    const from = this.committed.get(group) ?? oldest;
    this.committed.set(group, from);
    if (!this.recovered) return [];
    const out = this.recovered.filter((e) => e.seq >= from);
    this.stats.replayed += out.length;
    return out;
  }

  /**
   * Appends `messages`; `onDurable(firstSeq)` runs once they are on disk, in publish order, before
   * the promise resolves. `liveGroups` are the groups subscribed now: a group remembered from an
   * earlier run that is not among them no longer holds segments.
   */
  append<T>(
    messages: BusMessage<T>[],
    liveGroups: readonly string[],
    onDurable: (firstSeq: number) => void,
  ): Promise<void> {
    if (this.recovered) {
      this.recovered = null;
      for (const g of [...this.committed.keys()]) {
        if (liveGroups.includes(g)) continue;
        this.o.log.warn(
          { dir: this.o.dir, group: g },
          'a consumer group of an earlier run is not subscribed; the bus journal no longer keeps messages for it.',
        );
        this.committed.delete(g);
      }
    }
    const firstSeq = this.nextSeqValue;
    this.nextSeqValue += messages.length;
    const payload = JSON.stringify({ s: firstSeq, m: messages });
    this.stats.appends++;
    if (this.segmentBytes > 0 && this.segmentBytes + payload.length > this.o.segmentBytes) {
      const seg = { firstSeq, path: join(this.o.dir, segmentName(firstSeq)) };
      this.segments.push(seg);
      this.segmentBytes = 0;
      this.log.roll(seg.path).catch((e: unknown) => {
        this.o.log.error({ err: e, path: seg.path }, 'bus journal could not start a new segment.');
      });
    }
    // String length: close enough to the UTF-8 size for deciding when to roll.
    this.segmentBytes += payload.length + 8;
    return this.log.append(payload, () => {
      this.durable = firstSeq + messages.length;
      this.stats.syncs = this.log.syncs;
      onDurable(firstSeq);
    });
  }

  /** `group` finished every message below `nextSeq`. */
  commit(group: string, nextSeq: number): void {
    if ((this.committed.get(group) ?? -1) >= nextSeq) return;
    this.committed.set(group, nextSeq);
    this.offsetsDirty = true;
    this.writeOffsets();
    this.removeConsumedSegments();
  }

  private removeConsumedSegments(): void {
    let low = Number.POSITIVE_INFINITY;
    for (const seq of this.committed.values()) low = Math.min(low, seq);
    while (this.segments.length > 1 && this.segments[1]!.firstSeq <= low) {
      const old = this.segments.shift()!;
      try {
        unlinkSync(old.path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
          this.o.log.warn(
            { path: old.path },
            `bus journal segment could not be removed: ${(e as Error).message}.`,
          );
      }
    }
  }

  private writeOffsets(): void {
    if (this.offsetsWriting) return;
    this.offsetsWriting = true;
    // Committed offsets need no fsync and may lag: an older one only means messages are
    // delivered again. At most one write per OFFSETS_EVERY_MS keeps it off the hot path.
    this.offsetsTimer = setTimeout(() => {
      this.offsetsTimer = null;
      try {
        while (this.offsetsDirty) {
          this.offsetsDirty = false;
          this.writeOffsetsNow();
        }
      } catch (e) {
        this.o.log.warn({ dir: this.o.dir }, `bus journal offsets not saved: ${(e as Error).message}.`);
      } finally {
        this.offsetsWriting = false;
      }
    }, OFFSETS_EVERY_MS);
    this.offsetsTimer.unref();
  }

  private writeOffsetsNow(): void {
    const file = join(this.o.dir, 'offsets.json');
    const body: OffsetsFile = { nextSeq: this.durable, groups: Object.fromEntries(this.committed) };
    writeFileSync(`${file}.tmp`, JSON.stringify(body));
    renameSync(`${file}.tmp`, file);
  }

  /** After a clean stop with everything consumed, the next start reads an empty segment. */
  async close(): Promise<void> {
    await this.log.flush();
    const low = Math.min(...this.committed.values());
    if (this.segmentBytes > 0 && this.committed.size > 0 && low >= this.nextSeqValue) {
      const seg = { firstSeq: this.nextSeqValue, path: join(this.o.dir, segmentName(this.nextSeqValue)) };
      await this.log.roll(seg.path);
      this.segments.push(seg);
      this.segmentBytes = 0;
      this.removeConsumedSegments();
    }
    await this.log.close();
    if (this.offsetsTimer) clearTimeout(this.offsetsTimer);
    this.offsetsTimer = null;
    this.writeOffsetsNow();
  }
}

function readOffsets(file: string): OffsetsFile {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<OffsetsFile>;
    const groups: Record<string, number> = {};
    for (const [g, v] of Object.entries(parsed.groups ?? {})) if (Number.isSafeInteger(v)) groups[g] = v;
    return { nextSeq: Number.isSafeInteger(parsed.nextSeq) ? parsed.nextSeq! : 0, groups };
  } catch {
    return { nextSeq: 0, groups: {} };
  }
}
