import { join } from 'node:path';
import { findingTraces, type Logger, type TraceContext, tracing } from '@apiwatch/core';
import type { Notification } from '../notification.ts';
import type { Receiver, SendResult } from '../receivers/types.ts';
import { BullmqQueue } from './bullmq.ts';
import { MemoryQueue } from './memory.ts';
import type { DeliveryLog } from './records.ts';
import type { DeadLetter, NotificationQueue, QueueCounters, RetryPolicy } from './types.ts';

export interface DeliveryOptions {
  kind: 'memory' | 'bullmq';
  redisUrl: string;
  /** Queue name prefix; each receiver's queue is `<name>.<receiver id>`. */
  name: string;
  policy: RetryPolicy;
  log: Logger;
  /** kind memory: outbox directory (one outbox per receiver queue); null: in memory only. */
  outboxDir?: string | null;
  outboxFsync?: boolean;
  /** Records every attempt in the store (notification_deliveries); null: not recorded. */
  records?: DeliveryLog | null;
}

/**
 * One queue per receiver, so one slow or failing receiver never delays another (its own
 * concurrency, limiter, retries and dead letters). enqueue() routes by `notification.receiver`.
 */
export class Delivery {
  readonly queues = new Map<string, NotificationQueue>();
  private readonly receivers: Map<string, Receiver>;
  private readonly log: Logger;
  readonly records: DeliveryLog | null;

  constructor(
    receivers: readonly Receiver[],
    o: DeliveryOptions,
    rateLimits: ReadonlyMap<string, number> = new Map(),
  ) {
    this.receivers = new Map(receivers.map((r) => [r.id, r]));
    this.log = o.log;
    this.records = o.records ?? null;
    for (const r of receivers) {
      const policy = {
        ...o.policy,
        rateLimitPerSecond: rateLimits.get(r.id) ?? o.policy.rateLimitPerSecond ?? 0,
      };
      this.queues.set(
        r.id,
        o.kind === 'bullmq'
          ? new BullmqQueue(o.redisUrl, `${o.name}.${r.id}`, policy, o.log)
          : new MemoryQueue(
              policy,
              o.log,
              o.outboxDir
                ? { outbox: { path: join(o.outboxDir, `${o.name}.${r.id}`), fsync: o.outboxFsync ?? true } }
                : {},
            ),
      );
    }
  }

  async start(): Promise<void> {
    for (const [id, q] of this.queues) {
      const receiver = this.receivers.get(id)!;
      await q.start((n) => tracedSend(receiver, n), this.records?.observe);
    }
  }

  async enqueue(n: Notification): Promise<void> {
    const q = this.queues.get(n.receiver);
    if (!q) {
      this.log.error(
        { receiver: n.receiver },
        'notification for an unknown receiver dropped (ALERT_DELIVERY_RECEIVER_UNKNOWN).',
      );
      return;
    }
    await q.enqueue(n);
  }

  counters(): Record<string, QueueCounters> {
    return Object.fromEntries([...this.queues].map(([id, q]) => [id, q.counters]));
  }

  async deadLetters(limit = 100): Promise<DeadLetter[]> {
    const all: DeadLetter[] = [];
    for (const q of this.queues.values()) all.push(...(await q.deadLetters(limit)));
    return all.sort((a, b) => b.failedAt - a.failedAt).slice(0, limit);
  }

  async replay(id: string): Promise<boolean> {
    for (const q of this.queues.values()) if (await q.replay(id)) return true;
    return false;
  }

  async flush(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.flush()));
    await this.records?.flush();
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    await this.records?.close();
  }
}

/**
 * One send attempt, traced as a child of each sampled trace its findings came in with
 * (docs/telemetry.md); a notification of untraced findings starts no span.
 */
async function tracedSend(receiver: Receiver, n: Notification): Promise<SendResult> {
  const parents: TraceContext[] = [];
  for (const f of n.findings) {
    const sc = findingTraces.get(f.id);
    if (sc) parents.push(sc);
  }
  if (parents.length === 0) return receiver.send(n);
  const spans = tracing.startFor(`notify ${receiver.id}`, parents, {
    'apiwatch.receiver': receiver.id,
    'apiwatch.notification.id': n.id,
    'apiwatch.notification.status': n.status,
    'apiwatch.notification.findings': n.findings.length,
  });
  let result: SendResult;
  try {
    result = await receiver.send(n);
  } catch (e) {
    spans.end(e);
    throw e;
  }
  if (!result.ok) spans.set('apiwatch.send.error', result.code);
  spans.end(result.ok ? undefined : result.error);
  return result;
}
