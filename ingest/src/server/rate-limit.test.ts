import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CollectorRateLimiter } from './rate-limit.ts';

test('token bucket: burst first, then the sustained rate; collectors are independent', () => {
  const l = new CollectorRateLimiter(1000, 2000);
  assert.equal(l.take('a', 2000, 0), 0);
  assert.equal(l.take('a', 500, 0), 1, 'empty bucket: wait');
  assert.equal(l.take('b', 500, 0), 0, 'another collector has its own bucket');
  assert.equal(l.take('a', 500, 500), 0, 'half a second refills 500 events');
  assert.equal(l.take('a', 1500, 1000), 1, '500 tokens refilled; the missing 1000 take 1 s');
  assert.equal(l.take('a', 1800, 1000), 2, 'the missing 1300 take 1.3 s, rounded up');
  assert.equal(l.take('a', 10_000, 100_000), 0, 'a batch larger than the burst passes on a full bucket');
});

test('eventsPerSecond 0 disables the limit', () => {
  const l = new CollectorRateLimiter(0, 1);
  for (let i = 0; i < 100; i++) assert.equal(l.take('a', 1_000_000, 0), 0);
});
