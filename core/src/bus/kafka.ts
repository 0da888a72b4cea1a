import {
  Admin,
  Consumer,
  compatibilityPartitioner,
  type Message,
  type MessagesStream,
  Producer,
  stringDeserializer,
  stringSerializers,
} from '@platformatic/kafka';
import type { KafkaConfigValue } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import type {
  BatchHandler,
  Bus,
  BusMessage,
  SubscribeOptions,
  Subscription,
  TopicName,
  TopicPayloads,
} from './types.ts';

/**
 * Header that marks a record carrying several messages of one key: its value is their JSON
 * documents joined by "\n" (JSON.stringify never emits a raw newline), the header holds the count.
 * Records without it carry one JSON document, which is also what the kafkajs-era bus wrote, so
 * topics written before the switch stay readable.
 */
export const CHUNK_HEADER = 'apiwatch-chunk';

/**
 * Upper bound of one chunked record's value, bytes. Far below the broker's default
 * max.message.bytes (1 MiB), so a chunk never fails for its size; a larger run of one key is
 * split into several records, in order.
 */
const MAX_CHUNK_BYTES = 256 * 1024;

/** Handler retries back off from this, doubling up to MAX_RETRY_DELAY_MS. */
const FIRST_RETRY_DELAY_MS = 200;
const MAX_RETRY_DELAY_MS = 30_000;

type EventsConsumer = Consumer<string, Buffer, string, string>;
type EventsMessage = Message<string, Buffer, string, string>;

/**
 * Apache Kafka behind the bus interface, on @platformatic/kafka (docs/decisions/0003-kafka-client.md).
 *
 * - Producer: idempotent with acks=all, so a retried send never duplicates; publish() resolves
 *   after the broker acknowledged every record.
 * - Keys: the actor key. Within one publish() the messages of one key (and the same headers) are
 *   chunked into as few records as fit MAX_CHUNK_BYTES, in order: one actor's messages still
 *   land in one partition, in order, and the client pays its per-record cost once per chunk.
 * - Partitioner: Java-compatible murmur2 (the same as kafkajs and the Java client), so a key maps
 *   to the same partition as it did before the client switch.
 * - Consumers: offsets are committed only after the handler resolved; a failing handler gets the
 *   same batch again (with backoff) and nothing after it is committed meanwhile, so a crash
 *   re-delivers (at-least-once) and never skips.
 */
export class KafkaBus implements Bus {
  readonly kind = 'kafka' as const;
  private producer: Producer<string, string, string, string> | null = null;
  private readonly subscriptions = new Set<Subscription>();
  private readonly config: KafkaConfigValue;
  private readonly log: Logger;
  private inFlight = 0;

  constructor(config: KafkaConfigValue, log: Logger) {
    this.config = config;
    this.log = log;
  }

  topicName(topic: TopicName): string {
    return this.config.topics[topic];
  }

  private baseOptions(suffix: string) {
    return {
      clientId: `${this.config.clientId}${suffix}`,
      bootstrapBrokers: [...this.config.brokers],
      connectTimeout: this.config.connectionTimeoutMs,
      retries: 8,
      retryDelay: 200,
    };
  }

  /** Creates the topics when missing, with the configured partition count. */
  async start(): Promise<void> {
    const admin = new Admin(this.baseOptions('-admin'));
    try {
      const existing = new Set(await admin.listTopics());
      const wanted = (['events', 'findings', 'dlq', 'rekeyed'] as const)
        .map((t) => this.topicName(t))
        .filter((t) => !existing.has(t));
      if (wanted.length > 0) {
        try {
          await admin.createTopics({ topics: wanted, partitions: this.config.partitions, replicas: -1 });
        } catch (e) {
          // Another replica may have created them between the listing and here; that is fine.
          const now = new Set(await admin.listTopics());
          if (!wanted.every((t) => now.has(t))) throw e;
        }
      }
      // Wait until every topic has a leader, so the first publish does not race topic creation.
      await admin.metadata({
        topics: (['events', 'findings', 'dlq', 'rekeyed'] as const).map((t) => this.topicName(t)),
      });
    } finally {
      await admin.close();
    }
  }

  private getProducer(): Producer<string, string, string, string> {
    this.producer ??= new Producer({
      ...this.baseOptions(''),
      idempotent: true,
      acks: -1,
      autocreateTopics: false,
      partitioner: compatibilityPartitioner,
      serializers: stringSerializers,
    });
    return this.producer;
  }

  saturated(): boolean {
    // publish() awaits the broker's acks; bound what is in flight so ingest sheds instead of queueing.
    return this.inFlight > this.config.maxBatchEvents * 16;
  }

  async publish<K extends TopicName>(topic: K, messages: BusMessage<TopicPayloads[K]>[]): Promise<void> {
    if (messages.length === 0) return;
    const producer = this.getProducer();
    const name = this.topicName(topic);
    this.inFlight += messages.length;
    try {
      // Sequential sends of at most maxBatchEvents messages each keep one key's records in order.
      for (let i = 0; i < messages.length; i += this.config.maxBatchEvents) {
        const records = chunkByKey(messages.slice(i, i + this.config.maxBatchEvents));
        await producer.send({
          messages: records.map((r) => ({
            topic: name,
            key: r.key,
            value: r.value,
            headers: r.headers,
            ...(r.partition !== undefined ? { partition: r.partition } : {}),
          })),
        });
      }
    } finally {
      this.inFlight -= messages.length;
    }
  }

  async subscribe<K extends TopicName>(
    topic: K,
    group: string,
    handler: BatchHandler<TopicPayloads[K]>,
    options: SubscribeOptions = {},
  ): Promise<Subscription> {
    const name = this.topicName(topic);
    const consumer: EventsConsumer = new Consumer({
      ...this.baseOptions(`-${group}`),
      groupId: `${this.config.groupPrefix}.${group}`,
      autocommit: false,
      sessionTimeout: 30_000,
      heartbeatInterval: 3000,
      // An idle fetch returns after this long; a fetch with data returns at once.
      maxWaitTime: 500,
      deserializers: {
        key: stringDeserializer,
        headerKey: stringDeserializer,
        headerValue: stringDeserializer,
      },
    });
    if (options.onAssign) {
      const onAssign = options.onAssign;
      consumer.on(
        'consumer:group:join',
        (e: { assignments?: Array<{ topic: string; partitions: number[] }> }) =>
          onAssign((e.assignments ?? []).filter((a) => a.topic === name).flatMap((a) => a.partitions)),
      );
    }
    let closed = false;
    let stream: MessagesStream<string, Buffer, string, string> | null = null;
    let wake: (() => void) | null = null;
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });

    const openStream = async () => {
      const s = await consumer.consume({
        topics: [name],
        mode: 'committed',
        fallbackMode: 'earliest',
        autocommit: false,
      });
      // The stream fetches only while someone consumes it (readableFlowing !== null): a permanent
      // 'readable' listener keeps it in paused (pull) mode, where read() drives the fetches and
      // the stream's highWaterMark is the backpressure.
      s.on('readable', () => wake?.());
      s.on('close', () => wake?.());
      s.on('error', (e) =>
        this.log.error({ topic: name, group }, `kafka consumer stream failed: ${e.message}.`),
      );
      return s;
    };

    const deliver = async (batch: EventsMessage[]) => {
      const decoded = decodeBatch<TopicPayloads[K]>(batch, (m, e) =>
        this.log.error(
          { topic: name, partition: m.partition, offset: String(m.offset) },
          `undecodable message skipped: ${e.message}.`,
        ),
      );
      for (let attempt = 0; !closed; attempt++) {
        try {
          await handler(decoded);
          break;
        } catch (e) {
          const delay = Math.min(MAX_RETRY_DELAY_MS, FIRST_RETRY_DELAY_MS * 2 ** attempt);
          this.log.error(
            { topic: name, group, attempt: attempt + 1, retryInMs: delay },
            `bus handler failed; offsets not committed, the batch is delivered again: ${(e as Error).message}.`,
          );
          await sleep(delay);
        }
      }
      if (closed) return;
      const lastOfPartition = new Map<number, EventsMessage>();
      for (const m of batch) lastOfPartition.set(m.partition, m);
      try {
        const limit = options.commitLimit;
        if (!limit) await Promise.all([...lastOfPartition.values()].map((m) => m.commit()));
        else {
          // The consumer commits no further than it says it can recover from (detect: its snapshot).
          const offsets = [];
          for (const m of lastOfPartition.values()) {
            const cap = limit(m.partition);
            if (cap === null) continue;
            const next = m.offset + 1n;
            offsets.push({
              topic: name,
              partition: m.partition,
              offset: cap < next ? cap : next,
              leaderEpoch: m.leaderEpoch ?? -1,
            });
          }
          if (offsets.length > 0) await consumer.commit({ offsets });
        }
      } catch (e) {
        // A rebalance took the partitions away: their new owner starts at the last commit.
        this.log.warn(
          { topic: name, group },
          `offset commit failed, messages may be delivered again: ${(e as Error).message}.`,
        );
      }
    };

    const drain = async (s: MessagesStream<string, Buffer, string, string>) => {
      while (!closed && !s.destroyed) {
        const batch: EventsMessage[] = [];
        while (batch.length < this.config.maxBatchEvents) {
          const m = s.read() as EventsMessage | null;
          if (m === null) break;
          batch.push(m);
        }
        if (batch.length > 0) await deliver(batch);
        else await new Promise<void>((resolve) => (wake = resolve));
      }
    };

    // The first stream is opened here, so subscribe() fails loudly on a bad topic or broker.
    stream = await openStream();
    const loop = (async () => {
      for (let failures = 0; !closed; ) {
        try {
          stream ??= await openStream();
          await drain(stream);
          failures = 0;
        } catch (e) {
          if (closed) break;
          this.log.error({ topic: name, group }, `kafka consumer failed: ${(e as Error).message}.`);
        }
        if (closed) break;
        // The stream died (broker gone, fenced member): open a new one from the committed offsets.
        stream = null;
        await sleep(Math.min(MAX_RETRY_DELAY_MS, FIRST_RETRY_DELAY_MS * 2 ** failures++));
      }
    })();

    const subscription: Subscription = {
      close: async () => {
        if (closed) return;
        closed = true;
        this.subscriptions.delete(subscription);
        wake?.();
        await stream?.close().catch(() => {});
        await loop;
        await consumer.close(true);
      },
    };
    this.subscriptions.add(subscription);
    return subscription;
  }

  async flush(): Promise<void> {
    // publish() resolves only after acks=all, so there is nothing buffered client-side.
  }

  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    await this.producer?.close();
    this.producer = null;
  }
}

interface OutRecord {
  key: string;
  value: string;
  headers?: Record<string, string>;
  partition?: number;
}

/**
 * One record per run of messages with the same key and headers, split at MAX_CHUNK_BYTES. Runs
 * of one key stay in their order, so one actor's messages stay in order in its partition.
 */
export function chunkByKey<T>(messages: BusMessage<T>[]): OutRecord[] {
  const runsByKey = new Map<
    string,
    Array<{
      lines: string[];
      bytes: number;
      headersId: string;
      headers?: Record<string, string>;
      partition?: number;
    }>
  >();
  for (const m of messages) {
    const line = JSON.stringify(m.value);
    const headersId = `${m.partition ?? ''}|${m.headers ? JSON.stringify(m.headers) : ''}`;
    let runs = runsByKey.get(m.key);
    if (!runs) {
      runs = [];
      runsByKey.set(m.key, runs);
    }
    const last = runs[runs.length - 1];
    if (last && last.headersId === headersId && last.bytes + line.length + 1 <= MAX_CHUNK_BYTES) {
      last.lines.push(line);
      last.bytes += line.length + 1;
    } else {
      runs.push({ lines: [line], bytes: line.length, headersId, headers: m.headers, partition: m.partition });
    }
  }
  const out: OutRecord[] = [];
  for (const [key, runs] of runsByKey) {
    for (const run of runs) {
      const p = run.partition !== undefined ? { partition: run.partition } : {};
      if (run.lines.length === 1) out.push({ key, value: run.lines[0]!, headers: run.headers, ...p });
      else
        out.push({
          key,
          value: run.lines.join('\n'),
          headers: { ...run.headers, [CHUNK_HEADER]: String(run.lines.length) },
          ...p,
        });
    }
  }
  return out;
}

function decodeBatch<T>(
  batch: EventsMessage[],
  onError: (m: EventsMessage, e: Error) => void,
): BusMessage<T>[] {
  const out: BusMessage<T>[] = [];
  for (const m of batch) {
    if (!m.value) continue;
    let headers: Record<string, string> | undefined;
    let chunked = false;
    for (const [k, v] of m.headers) {
      if (k === CHUNK_HEADER) {
        chunked = true;
        continue;
      }
      headers ??= {};
      headers[k] = v;
    }
    try {
      const text = m.value.toString('utf8');
      if (!chunked) {
        out.push({
          key: m.key,
          value: JSON.parse(text) as T,
          headers,
          partition: m.partition,
          offset: m.offset,
        });
        continue;
      }
      // Parse the whole chunk before emitting any of it: a bad chunk is skipped as one record.
      const values = text.split('\n').map((line) => JSON.parse(line) as T);
      for (const value of values)
        out.push({ key: m.key, value, headers, partition: m.partition, offset: m.offset });
    } catch (e) {
      onError(m, e as Error);
    }
  }
  return out;
}
