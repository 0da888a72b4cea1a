import type { Logger } from '@apiwatch/core';
import { type Static, Type as T } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import { backoffDelay, type RetryPolicy } from '../queue/types.ts';
import type { ActionResult } from './types.ts';

/**
 * Response actions run on their own queue, apart from notifications: a slow gateway never delays
 * a page, and a burst of pages never delays a revocation. Same retry semantics as delivery
 * (capped, jittered exponential backoff; permanent errors stop at once). The job is a versioned
 * schema because it outlives a deploy; its id (`<op>-<action id>`) makes a repeated enqueue a no-op.
 */
export const ActionJobSchema = T.Object(
  {
    schemaVersion: T.Literal(1),
    actionId: T.String({ minLength: 1, maxLength: 64 }),
    op: T.Union([T.Literal('revoke'), T.Literal('restore')]),
    by: T.String({ minLength: 1, maxLength: 128, description: 'Who asked: apiwatch, ttl, or an analyst.' }),
  },
  { additionalProperties: false, title: 'Response action job' },
);
export type ActionJob = Static<typeof ActionJobSchema>;
const check = TypeCompiler.Compile(ActionJobSchema);

export type RunAction = (job: ActionJob, final: boolean) => Promise<ActionResult>;

export interface ActionQueue {
  readonly kind: 'memory' | 'bullmq';
  start(run: RunAction): Promise<void>;
  enqueue(job: ActionJob): Promise<void>;
  flush(): Promise<void>;
  close(): Promise<void>;
}

const jobId = (j: ActionJob) => `${j.op}-${j.actionId}`;

export class MemoryActionQueue implements ActionQueue {
  readonly kind = 'memory' as const;
  private run: RunAction | null = null;
  private pending = 0;
  private readonly queued = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private idle: Array<() => void> = [];
  private readonly policy: RetryPolicy;
  private readonly log: Logger;

  constructor(policy: RetryPolicy, log: Logger) {
    this.policy = policy;
    this.log = log;
  }
  async start(run: RunAction): Promise<void> {
    this.run = run;
  }
  async enqueue(job: ActionJob): Promise<void> {
    if (this.queued.has(jobId(job))) return;
    this.queued.add(jobId(job));
    this.pending++;
    this.attempt(job, 1);
  }
  private attempt(job: ActionJob, n: number): void {
    void (async () => {
      const final = n >= this.policy.attempts;
      const r = this.run ? await this.run(job, final) : null;
      if (r && !r.ok && r.retryable && !final) {
        const delay = backoffDelay(this.policy, n);
        this.log.warn(
          { action: job.actionId, op: job.op, attempt: n, delayMs: delay },
          `response action failed, retrying: ${r.error}.`,
        );
        const t = setTimeout(() => {
          this.timers.delete(t);
          this.attempt(job, n + 1);
        }, delay);
        this.timers.add(t);
        return;
      }
      this.queued.delete(jobId(job));
      this.pending--;
      if (this.pending === 0) for (const r of this.idle.splice(0)) r();
    })();
  }
  flush(): Promise<void> {
    return this.pending === 0 ? Promise.resolve() : new Promise((r) => this.idle.push(r));
  }
  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.run = null;
  }
}

export class BullmqActionQueue implements ActionQueue {
  readonly kind = 'bullmq' as const;
  private readonly queue: Queue<ActionJob>;
  private worker: Worker<ActionJob> | null = null;
  private readonly redisUrl: string;
  private readonly name: string;
  private readonly policy: RetryPolicy;
  private readonly log: Logger;

  constructor(redisUrl: string, name: string, policy: RetryPolicy, log: Logger) {
    this.redisUrl = redisUrl;
    this.name = name;
    this.policy = policy;
    this.log = log;
    this.queue = new Queue<ActionJob>(name, {
      connection: { url: redisUrl, maxRetriesPerRequest: null },
      defaultJobOptions: {
        attempts: policy.attempts,
        backoff: { type: 'apiwatch' },
        removeOnComplete: true,
        removeOnFail: { age: 30 * 86_400 },
      },
    });
    this.queue.on('error', (e) => this.log.warn({ err: e }, 'BullMQ action queue connection error.'));
  }
  async start(run: RunAction): Promise<void> {
    await this.queue.waitUntilReady();
    this.worker = new Worker<ActionJob>(
      this.name,
      async (job: Job<ActionJob>) => {
        if (!check.Check(job.data))
          throw new UnrecoverableError('ALERT_ACTION_INVALID_JOB: not a response action job');
        const final = job.attemptsMade + 1 >= this.policy.attempts;
        const r = await run(job.data, final);
        if (r.ok) return { status: r.status };
        if (!r.retryable) throw new UnrecoverableError(`${r.code}: ${r.error}`);
        throw new Error(`${r.code}: ${r.error}`);
      },
      {
        connection: { url: this.redisUrl, maxRetriesPerRequest: null },
        concurrency: this.policy.concurrency,
        settings: { backoffStrategy: (attemptsMade: number) => backoffDelay(this.policy, attemptsMade) },
      },
    );
    this.worker.on('error', (e) => this.log.warn({ err: e }, 'BullMQ action worker connection error.'));
    await this.worker.waitUntilReady();
  }
  async enqueue(job: ActionJob): Promise<void> {
    await this.queue.add(job.op, job, { jobId: jobId(job) });
  }
  async flush(): Promise<void> {
    for (;;) {
      const c = await this.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      if (Object.values(c).every((x) => x === 0)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  async obliterate(): Promise<void> {
    await this.queue.obliterate({ force: true });
  }
  async close(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
  }
}
