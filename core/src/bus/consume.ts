import type { ErrorCode } from '../errors.ts';
import type { Logger } from '../log.ts';
import { apiEventValidator, findingValidator, type Validator } from '../model/validate.ts';
import { redactSecrets } from '../redact.ts';
import { metrics } from '../telemetry/metrics.ts';
import {
  type BatchHandler,
  type BusMessage,
  type DlqRecord,
  dlqRecordValidator,
  type RekeyedRecord,
  type TopicName,
} from './types.ts';

/**
 * What every bus consumer does around its handler, on both buses: a message is checked against
 * its topic's schema (schemaVersion included) before any handler sees it; a message that fails
 * is dead-lettered and counted, and the messages after it are processed. A handler that keeps
 * failing is retried a bounded number of times, then its batch is split to find the message it
 * fails on, and that one is dead-lettered — one poison message never stalls a partition.
 * An error that says `retryable: true` (the store is down) is retried without bound instead:
 * dead-lettering a whole outage's data would be worse than waiting for it.
 */

export type DeadLetterReason =
  | 'invalid_json'
  | 'invalid_schema'
  | 'unsupported_schema_version'
  | 'handler_failed';

export interface HandlerRetryPolicy {
  /** Tries of one batch before it is split (and a single message dead-lettered). */
  attempts: number;
  /** First retry delay, ms; doubles per attempt. */
  initialBackoffMs: number;
  /** Longest retry delay, ms. */
  maxBackoffMs: number;
}

export const DEFAULT_HANDLER_RETRY: HandlerRetryPolicy = {
  attempts: 5,
  initialBackoffMs: 200,
  maxBackoffMs: 30_000,
};

const SCHEMA_VERSIONS: Partial<Record<TopicName, number>> = { events: 1, findings: 2 };
/** The detect role's second-stage records: an event re-keyed (validated as an event) or a mark. */
const rekeyedValidator: Validator<RekeyedRecord> = {
  check(value: unknown): value is RekeyedRecord {
    const r = value as Partial<{ kind: unknown; source: unknown; ts: unknown; event: unknown }> | null;
    if (r === null || typeof r !== 'object' || !Number.isInteger(r.source)) return false;
    if (r.kind === 'mark') return Number.isInteger(r.ts);
    return r.kind === 'event' && apiEventValidator.check(r.event);
  },
  explain(value: unknown): string {
    const r = value as Partial<{ kind: unknown; source: unknown; event: unknown }> | null;
    if (r === null || typeof r !== 'object') return '/: Expected object';
    if (!Number.isInteger(r.source)) return '/source: Expected integer';
    if (r.kind === 'mark') return '/ts: Expected integer';
    if (r.kind !== 'event') return '/kind: Expected "event" or "mark"';
    return `/event${apiEventValidator.explain(r.event)}`;
  },
};

const VALIDATORS: Record<TopicName, Validator<unknown>> = {
  events: apiEventValidator,
  findings: findingValidator,
  dlq: dlqRecordValidator,
  rekeyed: rekeyedValidator,
};

export type CheckResult = { ok: true } | { ok: false; reason: DeadLetterReason; detail: string };

/** Whether `value` may be handed to a consumer of `topic`. */
export function checkMessage(topic: TopicName, value: unknown): CheckResult {
  const want = SCHEMA_VERSIONS[topic];
  if (want !== undefined) {
    const got = (value as { schemaVersion?: unknown } | null)?.schemaVersion;
    if (got !== want) {
      return {
        ok: false,
        reason: 'unsupported_schema_version',
        detail: `schemaVersion ${JSON.stringify(got) ?? 'missing'}; this apiwatch reads ${topic} schemaVersion ${want}`,
      };
    }
  }
  const v = VALIDATORS[topic];
  if (!v.check(value)) return { ok: false, reason: 'invalid_schema', detail: v.explain(value) };
  return { ok: true };
}

/** Process-wide counts behind apiwatch_bus_dead_letters_total and apiwatch_bus_handler_retries_total. */
class BusCounters {
  private readonly dead = new Map<string, number>();
  private readonly retries = new Map<string, number>();

  deadLettered(topic: TopicName, reason: DeadLetterReason, n = 1): void {
    const k = `${topic}\u0000${reason}`;
    this.dead.set(k, (this.dead.get(k) ?? 0) + n);
  }

  retried(topic: TopicName, group: string): void {
    const k = `${topic}\u0000${group}`;
    this.retries.set(k, (this.retries.get(k) ?? 0) + 1);
  }

  deadLetters(topic: TopicName, reason: DeadLetterReason): number {
    return this.dead.get(`${topic}\u0000${reason}`) ?? 0;
  }

  register(): void {
    const split = (m: Map<string, number>, a: string, b: string) =>
      [...m].map(([k, value]) => {
        const [x, y] = k.split('\u0000');
        return { labels: { [a]: x!, [b]: y! }, value };
      });
    metrics.register(
      'apiwatch_bus_dead_letters_total',
      'Messages a consumer did not process, sent to the DLQ, by topic and reason.',
      'counter',
      () => split(this.dead, 'topic', 'reason'),
    );
    metrics.register(
      'apiwatch_bus_handler_retries_total',
      'Times a consumer handler failed and its batch was tried again, by topic and group.',
      'counter',
      () => split(this.retries, 'topic', 'group'),
    );
  }
}

export const busCounters = new BusCounters();

/** A DLQ record for a message a consumer of `topic` could not use. */
export function deadLetterRecord(
  topic: TopicName,
  reason: DeadLetterReason,
  detail: string,
  raw: string,
): DlqRecord {
  return {
    ts: Date.now(),
    source: `bus.${topic}`,
    collector: null,
    code: (reason === 'handler_failed' ? 'BUS_HANDLER_FAILED' : 'BUS_MESSAGE_INVALID') satisfies ErrorCode,
    // A message that failed validation may be anything a producer wrote (a raw gateway record
    // sent to the wrong topic): the dead-letter copy keeps no secret (the ingest DLQ rule).
    reason: redactSecrets(`${reason}: ${detail}`.slice(0, 1024)),
    raw: redactSecrets(raw.slice(0, 65_536)),
  };
}

export interface DeliverContext<T> {
  topic: TopicName;
  group: string;
  policy: HandlerRetryPolicy;
  log: Logger;
  /** True once the subscription is closing: stop retrying, commit nothing. */
  closed(): boolean;
  sleep(ms: number): Promise<void>;
  /** Keeps messages the handler could not process (publishes them to the DLQ topic). */
  deadLetter(messages: BusMessage<T>[], error: Error): Promise<void>;
}

const isRetryable = (e: unknown) => (e as { retryable?: unknown } | null)?.retryable === true;

/**
 * Runs `handler` on `batch` under the retry policy. Resolves true when every message was either
 * processed or dead-lettered (the caller commits), false when the subscription closed first.
 */
export async function deliverBatch<T>(
  batch: BusMessage<T>[],
  handler: BatchHandler<T>,
  ctx: DeliverContext<T>,
): Promise<boolean> {
  if (batch.length === 0) return true;
  let lastError: Error = new Error('no attempt made');
  for (let attempt = 1; ; attempt++) {
    if (ctx.closed()) return false;
    try {
      await handler(batch);
      return true;
    } catch (e) {
      lastError = e instanceof Error ? e : new Error(String(e));
    }
    if (ctx.closed()) return false;
    const retryable = isRetryable(lastError);
    if (!retryable && attempt >= ctx.policy.attempts) break;
    busCounters.retried(ctx.topic, ctx.group);
    const delay = Math.min(ctx.policy.maxBackoffMs, ctx.policy.initialBackoffMs * 2 ** (attempt - 1));
    ctx.log.error(
      { topic: ctx.topic, group: ctx.group, messages: batch.length, attempt, retryInMs: delay, retryable },
      `bus handler failed; the batch is delivered again: ${lastError.message}.`,
    );
    await ctx.sleep(delay);
  }
  if (batch.length === 1) {
    busCounters.deadLettered(ctx.topic, 'handler_failed');
    ctx.log.error(
      { topic: ctx.topic, group: ctx.group, attempts: ctx.policy.attempts },
      `bus handler failed on one message ${ctx.policy.attempts} times; it was sent to the DLQ: ${lastError.message}.`,
    );
    await ctx.deadLetter(batch, lastError);
    return true;
  }
  // Find the message the handler fails on: each half gets the policy again.
  const mid = batch.length >> 1;
  if (!(await deliverBatch(batch.slice(0, mid), handler, ctx))) return false;
  return deliverBatch(batch.slice(mid), handler, ctx);
}
