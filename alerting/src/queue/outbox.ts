import { readdirSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { type AppendLog, type Logger, openAppendLog } from '@apiwatch/core';
import type { Notification } from '../receivers/types.ts';

/**
 * The embedded delivery queue's outbox: what BullMQ keeps in Redis, kept in a file, so a
 * notification accepted by the queue survives `kill -9` and is delivered after the restart.
 *
 * - Records (framed, CRC-checked, group-committed with fdatasync: core's append-log): `add` a
 *   job, `retry` (attempts made and when the next one is due), `done` (delivered or failed).
 *   Replaying them on open gives the jobs still pending, each with its attempt count and due time.
 * - Job ids are the notification ids, and the ids of the last `keepDoneJobs` finished jobs are
 *   kept (BullMQ's removeOnComplete/removeOnFail), so a finding consumed again after a crash is
 *   not queued twice. A delivery cut off by the crash is made again: at-least-once, with the same
 *   Standard Webhooks `webhook-id`, which receivers de-duplicate on.
 * - Compaction: past `compactAfterRecords` the outbox continues in a new generation file that
 *   starts with a snapshot (pending jobs, kept done ids); the old file is removed once the
 *   snapshot is durable. Opening reads every generation present, oldest first, so a crash in the
 *   middle of a compaction loses nothing.
 */

export interface OutboxJob {
  n: Notification;
  attemptsMade: number;
  /** When the next attempt is due, ms since the epoch. */
  dueAt: number;
}

type OutboxRecord =
  | { op: 'add'; job: OutboxJob }
  | { op: 'retry'; id: string; attemptsMade: number; dueAt: number }
  | { op: 'done'; id: string; outcome?: 'delivered' | 'failed' };

export interface OutboxOptions {
  /** Outbox file base path, e.g. <dataDir>/outbox/apiwatch-notifications; generations add `.<n>.log`. */
  path: string;
  /** fdatasync each write (default true). */
  fsync?: boolean;
  /** Finished job ids remembered for de-duplication (default 10,000). */
  keepDoneJobs?: number;
  /** Records written before a compaction (default 10,000). */
  compactAfterRecords?: number;
  log: Logger;
}

export class Outbox {
  private readonly o: OutboxOptions;
  private log: AppendLog;
  private generation: number;
  private readonly jobs: Map<string, OutboxJob>;
  private readonly done: Set<string>;
  private records = 0;
  private compacting = false;

  private constructor(
    o: OutboxOptions,
    log: AppendLog,
    generation: number,
    jobs: Map<string, OutboxJob>,
    done: Set<string>,
  ) {
    this.o = o;
    this.log = log;
    this.generation = generation;
    this.jobs = jobs;
    this.done = done;
  }

  /** Opens the outbox and returns it with the jobs that were pending when it was last written. */
  static async open(o: OutboxOptions): Promise<{ outbox: Outbox; pending: OutboxJob[] }> {
    const dir = dirname(o.path);
    const base = basename(o.path);
    const re = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(\\d+)\\.log$`);
    let generations: number[] = [];
    try {
      generations = readdirSync(dir)
        .map((n) => re.exec(n)?.[1])
        .filter((g): g is string => g !== undefined)
        .map(Number)
        .sort((a, b) => a - b);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const jobs = new Map<string, OutboxJob>();
    const done = new Set<string>();
    const keep = o.keepDoneJobs ?? 10_000;
    const apply = (r: OutboxRecord) => {
      if (r.op === 'add') {
        if (!done.has(r.job.n.id)) jobs.set(r.job.n.id, r.job);
      } else if (r.op === 'retry') {
        const j = jobs.get(r.id);
        if (j) {
          j.attemptsMade = r.attemptsMade;
          j.dueAt = r.dueAt;
        }
      } else {
        jobs.delete(r.id);
        done.delete(r.id);
        done.add(r.id);
        if (done.size > keep) done.delete(done.values().next().value as string);
      }
    };
    let torn = 0;
    for (const g of generations.slice(0, -1)) {
      const opened = await openAppendLog(genPath(o.path, g), { fsync: o.fsync ?? true });
      torn += opened.truncatedBytes;
      for (const f of opened.frames) applyFrame(f, apply);
      await opened.log.close();
    }
    const last = generations.at(-1) ?? 0;
    const opened = await openAppendLog(genPath(o.path, last), { fsync: o.fsync ?? true });
    torn += opened.truncatedBytes;
    for (const f of opened.frames) applyFrame(f, apply);
    if (torn > 0) {
      o.log.warn(
        { path: o.path, truncatedBytes: torn },
        'outbox had a torn tail from a crash; it was cut (that write was never acknowledged).',
      );
    }
    const outbox = new Outbox(o, opened.log, last, jobs, done);
    outbox.records = opened.frames.length;
    // Fold older generations into a fresh one, so they can go.
    if (generations.length > 1) await outbox.compact();
    return { outbox, pending: [...jobs.values()].map((j) => ({ ...j })) };
  }

  /** Whether a job with this id is pending or finished recently (then it is not queued again). */
  has(id: string): boolean {
    return this.jobs.has(id) || this.done.has(id);
  }

  get pendingJobs(): number {
    return this.jobs.size;
  }

  /** Resolves once the job is on disk. */
  add(job: OutboxJob): Promise<void> {
    this.jobs.set(job.n.id, { ...job });
    return this.write({ op: 'add', job });
  }

  retry(id: string, attemptsMade: number, dueAt: number): Promise<void> {
    const j = this.jobs.get(id);
    if (j) {
      j.attemptsMade = attemptsMade;
      j.dueAt = dueAt;
    }
    return this.write({ op: 'retry', id, attemptsMade, dueAt });
  }

  finish(id: string, outcome: 'delivered' | 'failed'): Promise<void> {
    this.jobs.delete(id);
    this.done.add(id);
    if (this.done.size > (this.o.keepDoneJobs ?? 10_000))
      this.done.delete(this.done.values().next().value as string);
    return this.write({ op: 'done', id, outcome });
  }

  private write(r: OutboxRecord): Promise<void> {
    const p = this.log.append(JSON.stringify(r));
    if (++this.records >= (this.o.compactAfterRecords ?? 10_000) && !this.compacting) {
      void this.compact().catch((e: unknown) =>
        this.o.log.error(
          { err: e, path: this.o.path },
          'outbox compaction failed; it continues in the same file.',
        ),
      );
    }
    return p;
  }

  /** Continues in the next generation, starting with a snapshot of the pending jobs and kept ids. */
  private async compact(): Promise<void> {
    this.compacting = true;
    try {
      const old = this.generation;
      this.generation++;
      const rolled = this.log.roll(genPath(this.o.path, this.generation));
      // Appended after the roll marker, so they open the new file; synchronous with the roll.
      const snapshot: Promise<void>[] = [];
      for (const id of this.done) snapshot.push(this.log.append(JSON.stringify({ op: 'done', id })));
      for (const job of this.jobs.values())
        snapshot.push(this.log.append(JSON.stringify({ op: 'add', job })));
      this.records = snapshot.length;
      await rolled;
      await Promise.all(snapshot);
      for (let g = old; g >= 0; g--) {
        try {
          unlinkSync(genPath(this.o.path, g));
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') break;
          throw e;
        }
      }
    } finally {
      this.compacting = false;
    }
  }

  async close(): Promise<void> {
    await this.log.close();
  }
}

function genPath(path: string, generation: number): string {
  return join(dirname(path), `${basename(path)}.${generation}.log`);
}

function applyFrame(frame: Buffer, apply: (r: OutboxRecord) => void): void {
  let r: OutboxRecord;
  try {
    r = JSON.parse(frame.toString('utf8')) as OutboxRecord;
  } catch {
    return;
  }
  if (r && (r.op === 'add' || r.op === 'retry' || r.op === 'done')) apply(r);
}
