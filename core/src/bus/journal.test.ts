import assert from 'node:assert/strict';
import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { exampleFinding } from '../model/examples.ts';
import { busCounters } from './consume.ts';
import { MemoryBus } from './memory.ts';
import type { BusMessage, DlqRecord } from './types.ts';

const rec = (i: number): BusMessage<DlqRecord> => ({
  key: `k${i % 3}`,
  value: { ts: i, source: 't', collector: null, code: 'X', reason: String(i), raw: '' },
});
const many = (from: number, n: number) => Array.from({ length: n }, (_, i) => rec(from + i));

function journalBus(dir: string, segmentBytes = 1 << 20) {
  return new MemoryBus({
    capacity: 10_000,
    journal: { dir, fsync: true, segmentBytes },
    handlerRetry: { attempts: 2, initialBackoffMs: 1, maxBackoffMs: 5 },
  });
}

/**
 * A crash, as far as the files are concerned: the bus is dropped without close(), after its
 * committed offsets had time to be saved (they are written at most every 100 ms).
 */
async function crash(bus: MemoryBus): Promise<void> {
  void bus;
  await new Promise((r) => setTimeout(r, 250));
}

test('what a group had not finished is delivered again after a crash; what it committed is not', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-journal-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const first = journalBus(dir);
  await first.start();
  const done: number[] = [];
  let gate = false;
  await first.subscribe('dlq', 'store', async (batch) => {
    // Finishes the first publish, then stalls (the crash comes while it is stuck).
    if (gate) await new Promise(() => {});
    for (const m of batch) done.push(m.value.ts);
    gate = true;
  });
  await first.publish('dlq', many(0, 5));
  await new Promise((r) => setTimeout(r, 20));
  await first.publish('dlq', many(5, 5));
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(done, [0, 1, 2, 3, 4]);
  await crash(first);

  const second = journalBus(dir);
  await second.start();
  const again: number[] = [];
  await second.subscribe('dlq', 'store', async (batch) => {
    for (const m of batch) again.push(m.value.ts);
  });
  await second.flush();
  assert.deepEqual(again, [5, 6, 7, 8, 9], 'only the uncommitted publish comes back');
  await second.publish('dlq', many(10, 2));
  await second.flush();
  assert.deepEqual(again, [5, 6, 7, 8, 9, 10, 11], 'sequence numbers continue after the replay');
  await second.close();

  const third = journalBus(dir);
  await third.start();
  const after: number[] = [];
  await third.subscribe('dlq', 'store', async (batch) => {
    for (const m of batch) after.push(m.value.ts);
  });
  await third.flush();
  assert.deepEqual(after, [], 'after a clean stop nothing is delivered twice');
  await third.close();
});

test('a consumer with a commit limit gets journal offsets and commits no further than the limit', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-journal-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const first = journalBus(dir);
  await first.start();
  const offsets: bigint[] = [];
  const assigned: number[][] = [];
  let limit: bigint | null = null;
  await first.subscribe(
    'dlq',
    'detect',
    async (batch) => {
      for (const m of batch) offsets.push(m.offset!);
    },
    { commitLimit: () => limit, onAssign: (p) => assigned.push(p) },
  );
  assert.deepEqual(assigned, [[0]], 'the one partition is assigned before any delivery');
  await first.publish('dlq', many(0, 4));
  await first.flush();
  limit = 3n; // a checkpoint covers offsets 0..2
  await first.publish('dlq', many(4, 2));
  await first.flush();
  assert.deepEqual(offsets, [0n, 1n, 2n, 3n, 4n, 5n]);
  await crash(first);

  const second = journalBus(dir);
  await second.start();
  const again: number[] = [];
  await second.subscribe('dlq', 'detect', async (batch) => {
    for (const m of batch) again.push(m.value.ts);
  });
  await second.flush();
  // Nothing was committed while the limit was null; then no further than it.
  assert.deepEqual(again, [3, 4, 5], 'delivered again from the limit, not from the last batch');
  await second.close();
});

test('each group resumes from its own offset', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-journal-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const first = journalBus(dir);
  await first.start();
  await first.subscribe('dlq', 'fast', async () => {});
  await first.subscribe('dlq', 'stuck', () => new Promise(() => {}));
  await first.publish('dlq', many(0, 4));
  await new Promise((r) => setTimeout(r, 30));
  await crash(first);

  const second = journalBus(dir);
  await second.start();
  const fast: number[] = [];
  const stuck: number[] = [];
  await second.subscribe('dlq', 'fast', async (b) => {
    for (const m of b) fast.push(m.value.ts);
  });
  await second.subscribe('dlq', 'stuck', async (b) => {
    for (const m of b) stuck.push(m.value.ts);
  });
  await second.flush();
  assert.deepEqual(fast, []);
  assert.deepEqual(stuck, [0, 1, 2, 3]);
  await second.close();
});

test('a torn tail left by a crash is cut; every acknowledged publish survives', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-journal-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const first = journalBus(dir);
  await first.start();
  await first.subscribe('dlq', 'g', () => new Promise(() => {}));
  await first.publish('dlq', many(0, 3));
  await crash(first);
  const segment = readdirSync(join(dir, 'dlq')).find((n) => n.endsWith('.log'))!;
  // Half a frame: a length that promises more bytes than follow.
  appendFileSync(join(dir, 'dlq', segment), Buffer.from([200, 0, 0, 0, 1, 2, 3, 4, 5]));

  const second = journalBus(dir);
  await second.start();
  assert.equal(second.journalStats().dlq?.truncatedBytes, 9);
  const seen: number[] = [];
  await second.subscribe('dlq', 'g', async (b) => {
    for (const m of b) seen.push(m.value.ts);
  });
  await second.publish('dlq', many(3, 1));
  await second.flush();
  assert.deepEqual(seen, [0, 1, 2, 3]);
  await second.close();
});

test('segments roll at segmentBytes and are removed once every group is past them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-journal-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bus = journalBus(dir, 65_536);
  await bus.start();
  let seen = 0;
  await bus.subscribe('dlq', 'g', async (b) => {
    seen += b.length;
  });
  for (let i = 0; i < 50; i++) await bus.publish('dlq', many(i * 100, 100));
  await bus.flush();
  assert.equal(seen, 5000);
  const segments = readdirSync(join(dir, 'dlq')).filter((n) => n.endsWith('.log'));
  assert.ok(segments.length <= 2, `consumed segments removed, left: ${segments.join(', ')}`);
  assert.ok((bus.journalStats().dlq?.appends ?? 0) === 50);
  await bus.close();
});

test('an invalid message read back from the journal is dead-lettered and counted, the rest delivered', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-journal-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const first = journalBus(dir);
  await first.start();
  await first.subscribe('findings', 'alert', () => new Promise(() => {}));
  const good = exampleFinding();
  // A finding of an older schema, still in the journal when a new version starts.
  const old = { ...exampleFinding(), schemaVersion: 1 } as unknown as typeof good;
  await first.publish('findings', [
    { key: 'a', value: old },
    { key: 'b', value: good },
  ]);
  await crash(first);

  const before = busCounters.deadLetters('findings', 'unsupported_schema_version');
  const second = journalBus(dir);
  await second.start();
  const dead: DlqRecord[] = [];
  const routed: string[] = [];
  await second.subscribe('findings', 'alert', async (b) => {
    for (const m of b) routed.push(m.value.id);
  });
  await second.subscribe('dlq', 'store-dlq', async (b) => {
    for (const m of b) dead.push(m.value);
  });
  await second.flush();
  assert.deepEqual(routed, [good.id]);
  assert.equal(dead.length, 1);
  assert.equal(dead[0]!.code, 'BUS_MESSAGE_INVALID');
  assert.equal(dead[0]!.source, 'bus.findings');
  assert.match(dead[0]!.reason, /^unsupported_schema_version: schemaVersion 1/);
  assert.equal(busCounters.deadLetters('findings', 'unsupported_schema_version'), before + 1);
  await second.close();
});

test('a handler that keeps failing on one message dead-letters that message and processes the others', async () => {
  const bus = new MemoryBus({
    capacity: 100,
    handlerRetry: { attempts: 3, initialBackoffMs: 1, maxBackoffMs: 2 },
  });
  const processed: number[] = [];
  const dead: DlqRecord[] = [];
  let calls = 0;
  await bus.subscribe('events', 'detect', async (batch) => {
    calls++;
    if (batch.some((m) => (m.value as unknown as { poison?: boolean }).poison))
      throw new Error('cannot handle');
    for (const m of batch) processed.push(m.value.ts);
  });
  await bus.subscribe('dlq', 'store-dlq', async (b) => {
    for (const m of b) dead.push(m.value);
  });
  const ev = (ts: number, poison = false) => ({
    key: 'k',
    value: { ts, ...(poison ? { poison } : {}) } as never,
  });
  await bus.publish('events', [ev(1), ev(2), ev(3, true), ev(4), ev(5)]);
  await bus.flush();
  assert.deepEqual(
    processed.sort((a, b) => a - b),
    [1, 2, 4, 5],
  );
  assert.equal(dead.length, 1);
  assert.equal(dead[0]!.code, 'BUS_HANDLER_FAILED');
  assert.match(dead[0]!.raw, /"poison":true/);
  assert.ok(calls < 20, `bounded retries (${calls} calls)`);
  await bus.close();
});

test('a journal another live apiwatch owns is refused; a dead owner is taken over', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-journal-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(dir, { recursive: true });
  // The test runner that spawned this file: a live node process that is not this one.
  writeFileSync(join(dir, 'owner.pid'), String(process.ppid));
  await assert.rejects(journalBus(dir).start(), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'BUS_JOURNAL_LOCKED');
    assert.match(e.message, new RegExp(`another apiwatch \\(pid ${process.ppid}\\) uses the bus journal`));
    return true;
  });
  writeFileSync(join(dir, 'owner.pid'), '2147483646');
  const bus = journalBus(dir);
  await bus.start();
  assert.equal(readFileSync(join(dir, 'owner.pid'), 'utf8'), String(process.pid));
  await bus.close();
});

test('message headers (the W3C trace context) come back with what is delivered again after a crash', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-journal-headers-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const headers = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };
  const first = journalBus(dir);
  await first.start();
  const live: Array<Record<string, string> | undefined> = [];
  await first.subscribe('dlq', 'alert', async (batch) => {
    for (const m of batch) live.push(m.headers);
    await new Promise(() => {}); // stuck: never commits
  });
  // One batch shares one headers object; a message without any stays without.
  await first.publish('dlq', [{ ...rec(1), headers }, { ...rec(2), headers }, rec(3)]);
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(live, [headers, headers, undefined]);
  await crash(first);

  const second = journalBus(dir);
  await second.start();
  const again: Array<Record<string, string> | undefined> = [];
  await second.subscribe('dlq', 'alert', async (batch) => {
    for (const m of batch) again.push(m.headers);
  });
  await second.flush();
  assert.deepEqual(again, [headers, headers, undefined]);
  await second.close();
});
