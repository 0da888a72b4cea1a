import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StartupError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { createLogger } from '../log.ts';
import {
  busCounters,
  checkMessage,
  DEFAULT_HANDLER_RETRY,
  deadLetterRecord,
  deliverBatch,
  type HandlerRetryPolicy,
} from './consume.ts';
import { TopicJournal } from './journal.ts';
import type {
  BatchHandler,
  Bus,
  BusMessage,
  SubscribeOptions,
  Subscription,
  TopicName,
  TopicPayloads,
} from './types.ts';

interface Item {
  seq: number;
  m: BusMessage<unknown>;
}

interface GroupQueue {
  topic: TopicName;
  group: string;
  items: Item[];
  handler: BatchHandler<unknown>;
  running: boolean;
  closed: boolean;
  idle: Array<() => void>;
  /** Messages from this seq on are delivered live; lower ones came from the journal. */
  liveFrom: number;
  wake: (() => void) | null;
  /** The consumer's commit bound (`SubscribeOptions.commitLimit`); messages then carry their seq as `offset`. */
  commitLimit: ((partition: number) => bigint | null) | null;
}

/** Messages handed to a consumer at once: large enough for efficient store inserts. */
const MAX_BATCH = 16_384;
/**
 * Topics the journal keeps. `rekeyed` (the detect role's second stage) is not journaled: it is
 * derived from events the detect group already took (detector checkpoints cover them, decision 0013)
 * (decision 0010), so journaling it would cost a second serialization of every event for nothing.
 */
const TOPICS: readonly TopicName[] = ['events', 'findings', 'dlq'];

export interface MemoryBusOptions {
  /** Messages buffered per topic and group before publishers wait (`bus.memory.capacity`). */
  capacity: number;
  /**
   * Write-ahead journal (`bus.memory.journal`): publish resolves only once its messages are on
   * disk, and what consumers had not finished is delivered again after a crash. Omitted: the bus
   * lives in memory only (replay, tests).
   */
  journal?: { dir: string; fsync: boolean; segmentBytes: number };
  handlerRetry?: HandlerRetryPolicy;
  log?: Logger;
}

/**
 * The embedded bus: per topic, one bounded queue per consumer group. Publishing waits while any
 * group's queue is at capacity, so a slow consumer slows ingest instead of growing memory.
 * Messages published to a topic with no subscribed group are not kept (there is no one to read them).
 *
 * With a journal (the `apiwatch start` default) it keeps Kafka's promises in one process: a
 * publish is acknowledged after group commit + fsync, each group commits after its handler,
 * and a restart delivers again from each group's committed offset (journal.ts).
 * Values published in-process are not re-validated (ingest validated them); values read back
 * from the journal are, like a Kafka consumer's (consume.ts).
 */
export class MemoryBus implements Bus {
  readonly kind = 'memory' as const;
  private readonly topics = new Map<TopicName, GroupQueue[]>();
  private readonly journals = new Map<TopicName, TopicJournal>();
  private readonly waiters: Array<() => void> = [];
  private readonly capacity: number;
  private readonly options: MemoryBusOptions;
  private readonly log: Logger;
  private readonly policy: HandlerRetryPolicy;
  private readonly nextSeq = new Map<TopicName, number>();
  /** Dead letters found before the DLQ topic had a consumer (journal replay at start). */
  /** Publishes not yet delivered to the queues (waiting for room or for the journal). */
  private readonly publishing = new Set<Promise<void>>();
  private readonly heldDeadLetters: BusMessage<TopicPayloads['dlq']>[] = [];

  constructor(capacityOrOptions: number | MemoryBusOptions) {
    this.options =
      typeof capacityOrOptions === 'number' ? { capacity: capacityOrOptions } : capacityOrOptions;
    this.capacity = this.options.capacity;
    this.log = this.options.log ?? createLogger('silent');
    this.policy = this.options.handlerRetry ?? DEFAULT_HANDLER_RETRY;
    busCounters.register();
  }

  async start(): Promise<void> {
    const j = this.options.journal;
    if (!j) return;
    claimJournal(j.dir);
    for (const topic of TOPICS) {
      this.journals.set(
        topic,
        await TopicJournal.open({
          dir: join(j.dir, topic),
          fsync: j.fsync,
          segmentBytes: j.segmentBytes,
          log: this.log,
        }),
      );
    }
  }

  /** Journal counters per topic (empty without a journal). */
  journalStats(): Partial<Record<TopicName, TopicJournal['stats']>> {
    return Object.fromEntries([...this.journals].map(([t, j]) => [t, j.stats]));
  }

  saturated(): boolean {
    for (const queues of this.topics.values()) {
      for (const q of queues) if (q.items.length >= this.capacity) return true;
    }
    return false;
  }

  async publish<K extends TopicName>(topic: K, messages: BusMessage<TopicPayloads[K]>[]): Promise<void> {
    const p = this.publishNow(topic, messages);
    this.publishing.add(p);
    try {
      await p;
    } finally {
      this.publishing.delete(p);
    }
  }

  private async publishNow<K extends TopicName>(
    topic: K,
    messages: BusMessage<TopicPayloads[K]>[],
  ): Promise<void> {
    const queues = this.topics.get(topic);
    if (!queues || queues.length === 0 || messages.length === 0) return;
    const journal = this.journals.get(topic);
    let offset = 0;
    while (offset < messages.length) {
      const room = Math.min(...queues.map((q) => this.capacity - q.items.length));
      if (room <= 0) {
        await new Promise<void>((resolve) => this.waiters.push(resolve));
        continue;
      }
      const chunk = messages.slice(offset, offset + room) as BusMessage<unknown>[];
      offset += chunk.length;
      if (journal) {
        await journal.append(
          chunk,
          queues.map((q) => q.group),
          (firstSeq) => this.deliver(topic, firstSeq, chunk),
        );
      } else {
        const firstSeq = this.nextSeq.get(topic) ?? 0;
        this.nextSeq.set(topic, firstSeq + chunk.length);
        this.deliver(topic, firstSeq, chunk);
      }
    }
  }

  private deliver(topic: TopicName, firstSeq: number, chunk: BusMessage<unknown>[]): void {
    for (const q of this.topics.get(topic) ?? []) {
      if (firstSeq < q.liveFrom) continue;
      for (let i = 0; i < chunk.length; i++) q.items.push({ seq: firstSeq + i, m: chunk[i]! });
      this.pump(q);
    }
  }

  /** Whether a restart delivers again what a group had not committed (a journal is configured). */
  get durable(): boolean {
    return this.options.journal !== undefined;
  }

  /**
   * One partition (0). With `options.commitLimit` each message carries its journal seq as
   * `offset` and the group commits no further than the limit (the detect role's checkpoints,
   * decision 0013); `onAssign([0])` is called before the first delivery.
   */
  async subscribe<K extends TopicName>(
    topic: K,
    group: string,
    handler: BatchHandler<TopicPayloads[K]>,
    options: SubscribeOptions = {},
  ): Promise<Subscription> {
    const queues = this.topics.get(topic) ?? [];
    this.topics.set(topic, queues);
    if (queues.some((q) => q.group === group))
      throw new Error(`group ${group} already subscribed to ${topic}`);
    const journal = this.journals.get(topic);
    const q: GroupQueue = {
      topic,
      group,
      items: [],
      handler: handler as BatchHandler<unknown>,
      running: false,
      closed: false,
      idle: [],
      liveFrom: journal?.durableSeq ?? 0,
      wake: null,
      commitLimit: options.commitLimit ?? null,
    };
    if (journal) {
      const recovered = journal.attach(group);
      const invalid: Item[] = [];
      for (const e of recovered) {
        const check = checkMessage(topic, e.message?.value);
        if (check.ok) q.items.push({ seq: e.seq, m: e.message });
        else {
          invalid.push({ seq: e.seq, m: e.message });
          busCounters.deadLettered(topic, check.reason);
        }
      }
      if (recovered.length > 0) {
        this.log.info(
          { topic, group, messages: q.items.length, invalid: invalid.length },
          'bus journal: delivering again what this group had not finished before the last stop.',
        );
      }
      if (invalid.length > 0) this.deadLetterInvalid(topic, invalid);
      // A group with only invalid messages to replay still commits past them.
      if (q.items.length === 0 && invalid.length > 0) journal.commit(group, invalid.at(-1)!.seq + 1);
    }
    queues.push(q);
    options.onAssign?.([0]);
    this.pump(q);
    if (topic === 'dlq' && this.heldDeadLetters.length > 0) {
      const held = this.heldDeadLetters.splice(0);
      this.publish('dlq', held).catch((e: unknown) =>
        this.log.error({ err: e }, 'dead letters found in the bus journal could not be published.'),
      );
    }
    return {
      close: async () => {
        await this.drain(q);
        q.closed = true;
        q.wake?.();
        queues.splice(queues.indexOf(q), 1);
        this.wakePublishers();
      },
    };
  }

  private deadLetterInvalid(topic: TopicName, items: Item[]): void {
    if (topic === 'dlq') {
      this.log.error(
        { messages: items.length },
        'invalid records in the bus journal of the DLQ itself were dropped (no DLQ for the DLQ).',
      );
      return;
    }
    const records = items.map((it) => {
      const check = checkMessage(topic, it.m?.value);
      return {
        key: `bus.${topic}`,
        value: deadLetterRecord(
          topic,
          check.ok ? 'invalid_schema' : check.reason,
          check.ok ? 'invalid' : check.detail,
          safeJson(it.m?.value),
        ),
      };
    });
    this.heldDeadLetters.push(...records);
    if ((this.topics.get('dlq')?.length ?? 0) === 0) return;
    const held = this.heldDeadLetters.splice(0);
    this.publish('dlq', held).catch((e: unknown) =>
      this.log.error({ err: e, topic }, 'invalid journal messages could not be dead-lettered.'),
    );
  }

  private pump(q: GroupQueue): void {
    if (q.running || q.closed || q.items.length === 0) return;
    q.running = true;
    // Run on a later tick so a publisher's whole batch lands before the consumer reads.
    setImmediate(() =>
      this.run(q).catch((e: unknown) => {
        // Only a failed dead-letter publish gets here: the batch stays queued and is tried again.
        this.log.error({ err: e, topic: q.topic, group: q.group }, 'memory bus consumer failed; retrying.');
        q.running = false;
        setTimeout(() => this.pump(q), 1000).unref();
      }),
    );
  }

  private async run(q: GroupQueue): Promise<void> {
    const journal = this.journals.get(q.topic);
    while (q.items.length > 0 && !q.closed) {
      const batch = q.items.splice(0, MAX_BATCH);
      this.wakePublishers();
      let done: boolean;
      try {
        done = await deliverBatch(
          q.commitLimit ? batch.map((it) => ({ ...it.m, offset: BigInt(it.seq) })) : batch.map((it) => it.m),
          q.handler,
          {
            topic: q.topic,
            group: q.group,
            policy: this.policy,
            log: this.log,
            closed: () => q.closed,
            sleep: (ms) =>
              new Promise<void>((resolve) => {
                const t = setTimeout(resolve, ms);
                q.wake = () => {
                  clearTimeout(t);
                  resolve();
                };
              }),
            deadLetter: async (messages, error) => {
              if (q.topic === 'dlq') return;
              await this.publish(
                'dlq',
                messages.map((m) => ({
                  key: `bus.${q.topic}`,
                  value: deadLetterRecord(q.topic, 'handler_failed', error.message, safeJson(m.value)),
                })),
              );
            },
          },
        );
      } catch (e) {
        q.items.unshift(...batch);
        throw e;
      }
      if (!done) {
        q.items.unshift(...batch);
        break;
      }
      if (journal) {
        let next = batch[batch.length - 1]!.seq + 1;
        if (q.commitLimit) {
          const limit = q.commitLimit(0);
          next = limit === null ? -1 : Math.min(next, Number(limit));
        }
        if (next >= 0) journal.commit(q.group, next);
      }
    }
    q.running = false;
    for (const resolve of q.idle.splice(0)) resolve();
  }

  private wakePublishers(): void {
    for (const resolve of this.waiters.splice(0)) resolve();
  }

  private drain(q: GroupQueue): Promise<void> {
    if (!q.running && q.items.length === 0) return Promise.resolve();
    return new Promise((resolve) => q.idle.push(resolve));
  }

  /** Resolves when every group has processed everything published so far. */
  async flush(): Promise<void> {
    for (;;) {
      if (this.publishing.size > 0) await Promise.allSettled([...this.publishing]);
      const busy = [...this.topics.values()].flat().filter((q) => q.running || q.items.length > 0);
      if (busy.length === 0 && this.publishing.size === 0) return;
      await Promise.all(busy.map((q) => this.drain(q)));
    }
  }

  async close(): Promise<void> {
    await this.flush();
    this.topics.clear();
    this.wakePublishers();
    for (const j of this.journals.values()) await j.close();
    if (this.journals.size > 0 && this.options.journal)
      rmSync(ownerFile(this.options.journal.dir), { force: true });
    this.journals.clear();
  }
}

const ownerFile = (dir: string) => join(dir, 'owner.pid');

/**
 * One process per journal: a second apiwatch on the same data directory would read (and cut the
 * "torn" tail of) frames the first one is still writing. The owner's pid is kept in the journal
 * directory; a pid that is no longer alive (a crash) is taken over.
 */
function claimJournal(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const file = ownerFile(dir);
  let pid = 0;
  try {
    pid = Number(readFileSync(file, 'utf8').trim());
  } catch {
    pid = 0;
  }
  if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
    throw new StartupError(
      'BUS_JOURNAL_LOCKED',
      `another apiwatch (pid ${pid}) uses the bus journal in ${dir}; stop it first, or give this one another dataDir`,
    );
  }
  writeFileSync(file, String(process.pid));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // A recycled pid of some other program is not an owner.
  try {
    return /node|apiwatch/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return true; // no /proc (macOS): trust the live pid
  }
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
