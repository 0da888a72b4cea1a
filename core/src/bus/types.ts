import { type Static, Type as T } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { ApiEvent } from '../model/event.ts';
import type { Finding } from '../model/finding.ts';
import type { Validator } from '../model/validate.ts';

/** A record that could not become an event, kept with its reason (redacted before it gets here). */
export const DlqRecordSchema = T.Object(
  {
    ts: T.Number({ description: 'When it was dead-lettered, ms since the epoch.' }),
    source: T.String({ description: 'Where: a format id (nginx, kong, …), store.<table> or bus.<topic>.' }),
    collector: T.Union([T.String(), T.Null()]),
    code: T.String({ description: 'Error code (docs/errors.md).' }),
    reason: T.String(),
    raw: T.String({ description: 'The record as received, redacted and truncated.' }),
  },
  { $id: 'DlqRecord' },
);
export type DlqRecord = Static<typeof DlqRecordSchema>;

const compiledDlq = TypeCompiler.Compile(DlqRecordSchema);
export const dlqRecordValidator: Validator<DlqRecord> = {
  check: (value: unknown): value is DlqRecord => compiledDlq.Check(value),
  explain(value: unknown): string {
    const first = compiledDlq.Errors(value).First();
    return first ? `${first.path || '/'}: ${first.message}` : 'valid';
  },
};

/**
 * The detect role's second stage (docs/decisions/0012): an event re-keyed by a global detector
 * key, or a watermark mark from one events partition (its lane clock), broadcast to every
 * partition so a stage-2 lane knows how far every source has got.
 */
export type RekeyedRecord =
  | { kind: 'event'; source: number; event: ApiEvent }
  | { kind: 'mark'; source: number; ts: number };

/** Logical topics and what travels on them. Kafka topic names come from config. */
export interface TopicPayloads {
  events: ApiEvent;
  findings: Finding;
  dlq: DlqRecord;
  rekeyed: RekeyedRecord;
}
export type TopicName = keyof TopicPayloads;

export interface BusMessage<T> {
  /** Partition key: the actor key for events, the finding fingerprint for findings. */
  key: string;
  value: T;
  headers?: Record<string, string>;
  /**
   * Consumers: the partition it was read from (0 on the memory bus). Publishers: an explicit
   * partition (Kafka only), overriding the key's.
   */
  partition?: number;
  /**
   * Consumers: the record's offset in its partition (Kafka: chunked messages share it; the memory
   * bus: the journal seq, given only to a consumer that set `commitLimit`).
   */
  offset?: bigint;
}

/** Optional consumer hooks (detect uses them for per-partition state). */
export interface SubscribeOptions {
  /** Called after each rebalance with the partitions of the topic this consumer now owns. */
  onAssign?: (partitions: number[]) => void;
  /**
   * The highest offset (next to read) the consumer may commit for a partition, or null to commit
   * nothing yet; without it, a batch is committed up to its last message. Kafka, and the memory
   * bus with a journal (its one partition, 0).
   */
  commitLimit?: (partition: number) => bigint | null;
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
    options?: SubscribeOptions,
  ): Promise<Subscription>;
  /** True while publishers would wait: ingest answers 429 instead of queueing without bound. */
  saturated(): boolean;
  flush(): Promise<void>;
  close(): Promise<void>;
}
