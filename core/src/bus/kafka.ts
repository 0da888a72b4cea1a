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
import {
  busCounters,
  checkMessage,
  DEFAULT_HANDLER_RETRY,
  type DeadLetterReason,
  deadLetterRecord,
  deliverBatch,
  type HandlerRetryPolicy,
} from './consume.ts';
import type {
  BatchHandler,
  Bus,
  BusMessage,
  DlqRecord,
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

/** Consumer stream restarts back off from this, doubling up to MAX_RETRY_DELAY_MS. */
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
 * - Headers: kept per record and given back on every message of it; the W3C trace context
 *   (`traceparent`, `tracestate`) travels here, one per ingest batch, so it does not split chunks.
 * - Partitioner: Java-compatible murmur2 (the same as kafkajs and the Java client), so a key maps
 *   to the same partition as it did before the client switch.
 * - Consumers: offsets are committed only after the handler resolved; a failing handler gets the
 *   same batch again (with backoff) and nothing after it is committed meanwhile, so a crash
 *   re-delivers (at-least-once) and never skips.
 * - Nothing read is trusted: a record that is not JSON, or not a valid message of its topic
 *   (schemaVersion included), is dead-lettered and counted before the batch reaches the handler;
 *   a handler that keeps failing on one message has it dead-lettered after bounded retries
 *   (consume.ts). Dead letters are published before the offsets that skip them are committed.
 */
export class KafkaBus implements Bus {
  readonly kind = 'kafka' as const;
  private producer: Producer<string, string, string, string> | null = null;
  private readonly subscriptions = new Set<Subscription>();
  private readonly config: KafkaConfigValue;
  private readonly log: Logger;
  private inFlight = 0;
  private readonly policy: HandlerRetryPolicy;

  constructor(
    config: KafkaConfigValue,
    log: Logger,
    handlerRetry: HandlerRetryPolicy = DEFAULT_HANDLER_RETRY,
  ) {
    this.config = config;
    this.log = log;
    this.policy = handlerRetry;
    busCounters.register();
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
      const { messages, invalid } = decodeBatch<TopicPayloads[K]>(topic, batch);
      if (invalid.length > 0) {
        for (const bad of invalid) busCounters.deadLettered(topic, bad.reason);
        this.log.warn(
          { topic: name, group, messages: invalid.length, reason: invalid[0]!.reason },
          `invalid bus messages sent to the DLQ: ${invalid[0]!.detail.slice(0, 300)}.`,
        );
        if (topic !== 'dlq') {
          await this.publishDeadLetters(
            invalid.map((bad) => deadLetterRecord(topic, bad.reason, bad.detail, bad.raw)),
            () => closed,
            sleep,
          );
        }
      }
      const done = await deliverBatch(messages, handler, {
        topic,
        group,
        policy: this.policy,
        log: this.log,
        closed: () => closed,
        sleep,
        deadLetter: async (failed, error) => {
          if (topic === 'dlq') return;
          await this.publishDeadLetters(
            failed.map((m) =>
              deadLetterRecord(topic, 'handler_failed', error.message, JSON.stringify(m.value)),
            ),
            () => closed,
            sleep,
          );
        },
      });
      if (!done) return;
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

  /** Publishes dead letters, retrying until the broker takes them or the subscription closes. */
  private async publishDeadLetters(
    records: DlqRecord[],
    closed: () => boolean,
    sleep: (ms: number) => Promise<void>,
  ): Promise<void> {
    for (let attempt = 0; !closed(); attempt++) {
      try {
        await this.publish(
          'dlq',
          records.map((value) => ({ key: value.source, value })),
        );
        return;
      } catch (e) {
        this.log.error(
          { attempt: attempt + 1 },
          `dead letters not published; retrying: ${(e as Error).message}.`,
        );
        await sleep(Math.min(MAX_RETRY_DELAY_MS, FIRST_RETRY_DELAY_MS * 2 ** attempt));
      }
    }
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
  // A batch's messages share one headers object (its trace context): stringify it once.
  let lastHeaders: Record<string, string> | undefined;
  let lastHeadersJson = '';
  for (const m of messages) {
    const line = JSON.stringify(m.value);
    if (m.headers !== lastHeaders) {
      lastHeaders = m.headers;
      lastHeadersJson = m.headers ? JSON.stringify(m.headers) : '';
    }
    const headersId = `${m.partition ?? ''}|${lastHeadersJson}`;
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

interface InvalidMessage {
  reason: DeadLetterReason;
  detail: string;
  raw: string;
}

/**
 * Kafka records → bus messages, each checked against its topic (consume.ts). A chunked record's
 * lines are checked one by one, so one bad line costs only itself.
 */
export function decodeBatch<T>(
  topic: TopicName,
  batch: EventsMessage[],
): { messages: BusMessage<T>[]; invalid: InvalidMessage[] } {
  const messages: BusMessage<T>[] = [];
  const invalid: InvalidMessage[] = [];
  for (const m of batch) {
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
    const text = m.value ? m.value.toString('utf8') : '';
    for (const line of chunked ? text.split('\n') : [text]) {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (e) {
        invalid.push({ reason: 'invalid_json', detail: (e as Error).message, raw: line });
        continue;
      }
      const check = checkMessage(topic, value);
      if (!check.ok) {
        invalid.push({ reason: check.reason, detail: check.detail, raw: line });
        continue;
      }
      messages.push({ key: m.key, value: value as T, headers, partition: m.partition, offset: m.offset });
    }
  }
  return { messages, invalid };
}
