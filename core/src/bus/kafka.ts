import { type Consumer, type IHeaders, Kafka, logLevel, type Producer } from 'kafkajs';
import type { KafkaConfigValue } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import type { BatchHandler, Bus, BusMessage, Subscription, TopicName, TopicPayloads } from './types.ts';

/**
 * Apache Kafka behind the bus interface. The producer is idempotent with acks=all, so a retried
 * send never duplicates; consumers commit offsets only after their handler resolved, so a crash
 * re-delivers (at-least-once) and never skips. One message per event, keyed by actor, so one
 * actor's events stay ordered in one partition.
 */
export class KafkaBus implements Bus {
  readonly kind = 'kafka' as const;
  private readonly kafka: Kafka;
  private producer: Producer | null = null;
  private readonly consumers = new Set<Consumer>();
  private readonly config: KafkaConfigValue;
  private readonly log: Logger;
  private inFlight = 0;

  constructor(config: KafkaConfigValue, log: Logger) {
    this.config = config;
    this.log = log;
    this.kafka = new Kafka({
      clientId: config.clientId,
      brokers: [...config.brokers],
      connectionTimeout: config.connectionTimeoutMs,
      logLevel: logLevel.WARN,
      logCreator: () => (entry) => {
        const { message, ...extra } = entry.log;
        this.log.warn({ kafka: entry.namespace, ...extra }, `kafka: ${message}`);
      },
      retry: { retries: 8, initialRetryTime: 200 },
    });
  }

  topicName(topic: TopicName): string {
    return this.config.topics[topic];
  }

  /** Creates the topics when missing, with the configured partition count. */
  async start(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const wanted = (['events', 'findings', 'dlq'] as const)
        .map((t) => this.topicName(t))
        .filter((t) => !existing.has(t));
      if (wanted.length > 0) {
        await admin.createTopics({
          waitForLeaders: true,
          topics: wanted.map((topic) => ({
            topic,
            numPartitions: this.config.partitions,
            replicationFactor: -1,
          })),
        });
      }
    } finally {
      await admin.disconnect();
    }
  }

  private async getProducer(): Promise<Producer> {
    if (this.producer) return this.producer;
    const producer = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    await producer.connect();
    this.producer = producer;
    return producer;
  }

  saturated(): boolean {
    // kafkajs has no client-side buffer of its own beyond the awaited send; bound what is in flight.
    return this.inFlight > this.config.maxBatchEvents * 16;
  }

  async publish<K extends TopicName>(topic: K, messages: BusMessage<TopicPayloads[K]>[]): Promise<void> {
    if (messages.length === 0) return;
    const producer = await this.getProducer();
    const name = this.topicName(topic);
    this.inFlight += messages.length;
    try {
      for (let i = 0; i < messages.length; i += this.config.maxBatchEvents) {
        const chunk = messages.slice(i, i + this.config.maxBatchEvents);
        await producer.send({
          topic: name,
          acks: -1,
          messages: chunk.map((m) => ({
            key: m.key,
            value: JSON.stringify(m.value),
            ...(m.headers ? { headers: m.headers } : {}),
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
  ): Promise<Subscription> {
    const consumer = this.kafka.consumer({
      groupId: `${this.config.groupPrefix}.${group}`,
      allowAutoTopicCreation: false,
      sessionTimeout: 30_000,
      heartbeatInterval: 3000,
    });
    await consumer.connect();
    await consumer.subscribe({ topic: this.topicName(topic), fromBeginning: true });
    this.consumers.add(consumer);
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        if (!isRunning() || isStale() || batch.messages.length === 0) return;
        const decoded: BusMessage<TopicPayloads[K]>[] = [];
        for (const m of batch.messages) {
          if (!m.value) continue;
          try {
            decoded.push({
              key: m.key?.toString() ?? '',
              value: JSON.parse(m.value.toString()) as TopicPayloads[K],
              headers: decodeHeaders(m.headers),
            });
          } catch (e) {
            this.log.error(
              { topic: batch.topic, offset: m.offset },
              `undecodable message skipped: ${(e as Error).message}.`,
            );
          }
        }
        await handler(decoded);
        const last = batch.messages[batch.messages.length - 1]!;
        resolveOffset(last.offset);
        await consumer.commitOffsets([
          { topic: batch.topic, partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() },
        ]);
        await heartbeat();
      },
    });
    return {
      close: async () => {
        this.consumers.delete(consumer);
        await consumer.disconnect();
      },
    };
  }

  async flush(): Promise<void> {
    // publish() resolves only after acks=all, so there is nothing buffered client-side.
  }

  async close(): Promise<void> {
    await Promise.all([...this.consumers].map((c) => c.disconnect()));
    this.consumers.clear();
    await this.producer?.disconnect();
    this.producer = null;
  }
}

function decodeHeaders(headers: IHeaders | undefined): Record<string, string> | undefined {
  if (!headers) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? String(v[0]) : String(v);
  }
  return out;
}
