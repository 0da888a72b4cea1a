import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger, exampleFinding as sampleFinding } from '@apiwatch/core';
import type { Notification, SendResult } from '../receivers/types.ts';
import { MemoryQueue } from './memory.ts';

const log = createLogger('silent');
const note = (id: string): Notification => ({
  id,
  receiver: 'r',
  finding: sampleFinding(),
  queuedAt: Date.now(),
});

test('retries a retryable failure with exponential backoff until it is delivered', async () => {
  const q = new MemoryQueue({ attempts: 5, backoffMs: 10, concurrency: 2 }, log);
  const times: number[] = [];
  await q.start(async (): Promise<SendResult> => {
    times.push(performance.now());
    return times.length < 4
      ? { ok: false, retryable: true, status: 503, error: 'down' }
      : { ok: true, status: 200 };
  });
  await q.enqueue(note('a'));
  await q.flush();
  assert.equal(times.length, 4);
  assert.deepEqual(q.counters, { delivered: 1, retried: 3, failed: 0 });
  // Delays 10, 20, 40 ms: each gap at least the backoff for that attempt.
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  for (const [i, g] of gaps.entries()) assert.ok(g >= 10 * 2 ** i - 2, `gap ${i} was ${g} ms`);
});

test('a permanent failure stops at once; attempts are capped; duplicates are dropped', async () => {
  const q = new MemoryQueue({ attempts: 3, backoffMs: 1, concurrency: 1 }, log);
  const calls = new Map<string, number>();
  await q.start(async (n): Promise<SendResult> => {
    calls.set(n.id, (calls.get(n.id) ?? 0) + 1);
    return n.id === 'perm'
      ? { ok: false, retryable: false, status: 400, error: 'bad' }
      : { ok: false, retryable: true, status: 503, error: 'down' };
  });
  await q.enqueue(note('perm'));
  await q.enqueue(note('flaky'));
  await q.enqueue(note('flaky'));
  await q.flush();
  assert.equal(calls.get('perm'), 1);
  assert.equal(calls.get('flaky'), 3);
  assert.equal(q.counters.failed, 2);
});
