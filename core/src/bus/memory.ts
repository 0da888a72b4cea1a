import type { BatchHandler, Bus, BusMessage, Subscription, TopicName, TopicPayloads } from './types.ts';

interface GroupQueue {
  group: string;
  items: BusMessage<unknown>[];
  handler: BatchHandler<unknown>;
  running: boolean;
  closed: boolean;
  idle: Array<() => void>;
}

/** Messages handed to a consumer at once: large enough for efficient store inserts. */
const MAX_BATCH = 16_384;

/**
 * The embedded bus: per topic, one bounded queue per consumer group. Publishing waits while any
 * group's queue is at capacity, so a slow consumer slows ingest instead of growing memory.
 * Messages published to a topic with no subscribed group are not kept (there is no one to read them).
 */
export class MemoryBus implements Bus {
  readonly kind = 'memory' as const;
  private readonly topics = new Map<TopicName, GroupQueue[]>();
  private readonly waiters: Array<() => void> = [];
  private readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  async start(): Promise<void> {}

  saturated(): boolean {
    for (const queues of this.topics.values()) {
      for (const q of queues) if (q.items.length >= this.capacity) return true;
    }
    return false;
  }

  async publish<K extends TopicName>(topic: K, messages: BusMessage<TopicPayloads[K]>[]): Promise<void> {
    const queues = this.topics.get(topic);
    if (!queues || queues.length === 0 || messages.length === 0) return;
    let offset = 0;
    while (offset < messages.length) {
      const room = Math.min(...queues.map((q) => this.capacity - q.items.length));
      if (room <= 0) {
        await new Promise<void>((resolve) => this.waiters.push(resolve));
        continue;
      }
      const chunk = messages.slice(offset, offset + room);
      offset += chunk.length;
      for (const q of queues) {
        for (const m of chunk) q.items.push(m);
        this.pump(q);
      }
    }
  }

  async subscribe<K extends TopicName>(
    topic: K,
    group: string,
    handler: BatchHandler<TopicPayloads[K]>,
  ): Promise<Subscription> {
    const queues = this.topics.get(topic) ?? [];
    this.topics.set(topic, queues);
    if (queues.some((q) => q.group === group))
      throw new Error(`group ${group} already subscribed to ${topic}`);
    const q: GroupQueue = {
      group,
      items: [],
      handler: handler as BatchHandler<unknown>,
      running: false,
      closed: false,
      idle: [],
    };
    queues.push(q);
    return {
      close: async () => {
        await this.drain(q);
        q.closed = true;
        queues.splice(queues.indexOf(q), 1);
        this.wakePublishers();
      },
    };
  }

  private pump(q: GroupQueue): void {
    if (q.running || q.closed) return;
    q.running = true;
    // Run on a later tick so a publisher's whole batch lands before the consumer reads.
    setImmediate(() => void this.run(q));
  }

  private async run(q: GroupQueue): Promise<void> {
    while (q.items.length > 0) {
      const batch = q.items.splice(0, MAX_BATCH);
      this.wakePublishers();
      try {
        await q.handler(batch);
      } catch (e) {
        // A consumer that throws has not processed the batch: put it back and retry shortly,
        // as a Kafka consumer would re-read from its last committed offset.
        q.items.unshift(...batch);
        process.emitWarning(`memory bus consumer ${q.group} failed; retrying: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 200));
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
      const busy = [...this.topics.values()].flat().filter((q) => q.running || q.items.length > 0);
      if (busy.length === 0) return;
      await Promise.all(busy.map((q) => this.drain(q)));
    }
  }

  async close(): Promise<void> {
    await this.flush();
    this.topics.clear();
    this.wakePublishers();
  }
}
