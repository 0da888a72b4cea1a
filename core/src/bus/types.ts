import type { ApiEvent } from '../model/event.ts';
import type { Finding } from '../model/finding.ts';

/** A record that could not become an event, kept with its reason (redacted before it gets here). */
export interface DlqRecord {
  ts: number;
  source: string;
  collector: string | null;
  code: string;
  reason: string;
  raw: string;
}

/** Logical topics and what travels on them. Kafka topic names come from config. */
export interface TopicPayloads {
  events: ApiEvent;
  findings: Finding;
  dlq: DlqRecord;
}
export type TopicName = keyof TopicPayloads;

export interface BusMessage<T> {
  /** Partition key: the actor key for events, the finding fingerprint for findings. */
  key: string;
  value: T;
  headers?: Record<string, string>;
}

/** Receives a batch; offsets are committed only after the returned promise resolves. */
export type BatchHandler<T> = (batch: BusMessage<T>[]) => Promise<void>;

export interface Subscription {
  close(): Promise<void>;
}

export interface Bus {
  readonly kind: 'memory' | 'kafka';
  start(): Promise<void>;
  /**
   * Resolves once every message is durably accepted (Kafka: acks=all). Waits while the bus is
   * full, which is how backpressure reaches ingest.
   */
  publish<K extends TopicName>(topic: K, messages: BusMessage<TopicPayloads[K]>[]): Promise<void>;
  /** One consumer in `group`; every group sees every message of the topic. */
  subscribe<K extends TopicName>(
    topic: K,
    group: string,
    handler: BatchHandler<TopicPayloads[K]>,
  ): Promise<Subscription>;
  /** True while publishers would wait: ingest answers 429 instead of queueing without bound. */
  saturated(): boolean;
  flush(): Promise<void>;
  close(): Promise<void>;
}
