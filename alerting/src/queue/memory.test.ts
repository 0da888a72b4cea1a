import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger, exampleFinding as sampleFinding } from '@apiwatch/core';
import { waitFor } from '@apiwatch/test';
import type { SendResult } from '../receivers/types.ts';
import { exampleNotification } from '../testing.ts';
import { MemoryQueue } from './memory.ts';
import { Outbox } from './outbox.ts';
import { backoffDelay } from './types.ts';

const log = createLogger('silent');
const note = (id: string) => exampleNotification({ id }, [sampleFinding()]);

test('retries a retryable failure with exponential backoff until it is delivered', async () => {
  const q = new MemoryQueue({ attempts: 5, backoffMs: 10, concurrency: 2 }, log);
  const times: number[] = [];
  await q.start(async (): Promise<SendResult> => {
    times.push(performance.now());
    return times.length < 4
      ? { ok: false, code: 'ALERT_DELIVERY_SERVER_ERROR', retryable: true, status: 503, error: 'down' }
      : { ok: true, status: 200 };
  });
  await q.enqueue(note('a'));
  await q.flush();
  assert.equal(times.length, 4);
  assert.deepEqual(q.counters, { delivered: 1, retried: 3, failed: 0, duplicates: 0 });
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
      ? { ok: false, code: 'ALERT_DELIVERY_REJECTED', retryable: false, status: 400, error: 'bad' }
      : { ok: false, code: 'ALERT_DELIVERY_SERVER_ERROR', retryable: true, status: 503, error: 'down' };
  });
  await q.enqueue(note('perm'));
  await q.enqueue(note('flaky'));
  await q.enqueue(note('flaky'));
  await q.flush();
  assert.equal(calls.get('perm'), 1);
  assert.equal(calls.get('flaky'), 3);
  assert.equal(q.counters.failed, 2);
  assert.equal(q.counters.duplicates, 1);
  const dead = await q.deadLetters();
  assert.deepEqual(
    dead.map((d) => [d.id, d.code, d.attempts]),
    [
      ['perm', 'ALERT_DELIVERY_REJECTED', 1],
      ['flaky', 'ALERT_DELIVERY_SERVER_ERROR', 3],
    ],
  );
});

test('a dead letter replays with fresh attempts; an id stays de-duplicated for the whole window', async () => {
  const q = new MemoryQueue({ attempts: 2, backoffMs: 1, concurrency: 1, dedupWindowMs: 60_000 }, log);
  let up = false;
  let sent = 0;
  await q.start(async (): Promise<SendResult> => {
    if (!up)
      return { ok: false, code: 'ALERT_DELIVERY_NETWORK', retryable: true, status: null, error: 'refused' };
    sent++;
    return { ok: true, status: 200 };
  });
  await q.enqueue(note('x'));
  await q.flush();
  assert.equal((await q.deadLetters()).length, 1);
  // Many other notifications later, the id is still known (not "the last N jobs").
  up = true;
  for (let i = 0; i < 2000; i++) await q.enqueue(note(`other-${i}`));
  await q.flush();
  await q.enqueue(note('x'));
  await q.flush();
  assert.equal(sent, 2000, 'x was not re-sent by a re-enqueue');
  assert.equal(await q.replay('x'), true);
  await q.flush();
  assert.equal(sent, 2001, 'replay sent it');
  assert.equal(await q.replay('x'), false, 'nothing left to replay');
});

test('backoff is capped, jittered downwards within the ratio, and Retry-After wins when longer', () => {
  const p = { attempts: 10, backoffMs: 1000, concurrency: 1, maxBackoffMs: 8000, jitterRatio: 0.5 };
  assert.equal(
    backoffDelay(p, 1, undefined, () => 0),
    1000,
  );
  assert.equal(
    backoffDelay(p, 3, undefined, () => 0),
    4000,
  );
  assert.equal(
    backoffDelay(p, 9, undefined, () => 0),
    8000,
    'capped',
  );
  assert.equal(
    backoffDelay(p, 3, undefined, () => 1),
    2000,
    'at most half shorter',
  );
  assert.equal(
    backoffDelay(p, 1, 30_000, () => 0.5),
    30_000,
    'Retry-After',
  );
});

test('the rate limit spaces sends of one receiver', async () => {
  // A lower bound only (a limiter can never make sends faster): 4 sends at 2/s, bucket of 2.
  const q2 = new MemoryQueue({ attempts: 1, backoffMs: 1, concurrency: 8, rateLimitPerSecond: 2 }, log);
  const t2: number[] = [];
  await q2.start(async (): Promise<SendResult> => {
    t2.push(Date.now());
    return { ok: true, status: 200 };
  });
  for (let i = 0; i < 4; i++) await q2.enqueue(note(`s${i}`));
  await q2.flush();
  assert.equal(t2.length, 4);
  assert.ok(
    t2[3]! - t2[0]! >= 900,
    `4 sends at 2/s take about a second or more (took ${t2[3]! - t2[0]!} ms)`,
  );
});

test('with an outbox, a notification waiting for its retry is delivered after a crash, once', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-outbox-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'outbox', 'notifications');
  const policy = { attempts: 5, backoffMs: 400, concurrency: 1 };
  const first = new MemoryQueue(policy, log, { outbox: { path } });
  const attempts: string[] = [];
  let crashed = false;
  await first.start(async (n): Promise<SendResult> => {
    // After the crash this process answers nothing, ever.
    if (crashed) return new Promise(() => {});
    attempts.push(n.id);
    return { ok: false, code: 'ALERT_DELIVERY_SERVER_ERROR', retryable: true, status: 503, error: 'down' };
  });
  const firstAttempt = Date.now();
  await first.enqueue(note('waiting'));
  await first.enqueue(note('sent'));
  // The crash comes once both jobs are waiting for their retry (due 400 ms after their first
  // attempt) and the outbox has recorded it.
  await waitFor('both retries recorded', () => (first.counters.retried === 2 ? true : undefined), 5000);
  crashed = true;

  const second = new MemoryQueue(policy, log, { outbox: { path } });
  const delivered: Array<{ id: string; at: number }> = [];
  const started = Date.now();
  await second.start(async (n): Promise<SendResult> => {
    delivered.push({ id: n.id, at: Date.now() });
    return { ok: true, status: 204 };
  });
  // Enqueued again (the finding consumed a second time): the outbox knows the id.
  await second.enqueue(note('waiting'));
  await second.flush();
  assert.deepEqual(delivered.map((d) => d.id).sort(), ['sent', 'waiting']);
  assert.ok(
    delivered.every((d) => d.at >= started && d.at >= firstAttempt + 390),
    'resumed at the due time the outbox kept, not at once and not from scratch',
  );
  await second.close();

  const third = new MemoryQueue(policy, log, { outbox: { path } });
  let calls = 0;
  await third.start(async (): Promise<SendResult> => {
    calls++;
    return { ok: true, status: 204 };
  });
  await third.enqueue(note('sent'));
  await third.flush();
  assert.equal(calls, 0, 'delivered jobs are neither resumed nor queued again');
  await third.close();
});

test('the outbox compacts into a new generation and keeps what is pending', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-outbox-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'n');
  const { outbox } = await Outbox.open({ path, log, compactAfterRecords: 10 });
  for (let i = 0; i < 25; i++) await outbox.add({ n: note(`j${i}`), attemptsMade: 0, dueAt: 0 });
  for (let i = 0; i < 20; i++) await outbox.finish(`j${i}`, 'delivered');
  await outbox.close();
  const files = readdirSync(dir);
  assert.equal(files.length, 1, files.join(', '));
  const reopened = await Outbox.open({ path, log });
  assert.deepEqual(reopened.pending.map((j) => j.n.id).sort(), ['j20', 'j21', 'j22', 'j23', 'j24']);
  assert.ok(reopened.outbox.has('j3'), 'finished ids are remembered');
  await reopened.outbox.close();
});
