import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startPushHarness, TOKEN } from './push-harness.ts';

const kongRecord = (i: number) => ({
  request: {
    method: 'GET',
    uri: `/items/${i}`,
    url: `http://api.example/items/${i}`,
    headers: {},
    size: 100,
  },
  response: { status: 200, size: 10 },
  latencies: { request: 5, kong: 1, proxy: 4 },
  client_ip: '192.0.2.10',
  started_at: 1_700_000_000_000 + i,
});

test('push endpoints apply the per-collector rate limit: 429 with Retry-After, nothing published', async () => {
  const h = await startPushHarness({ rateLimit: { eventsPerSecond: 1, burstEvents: 2 } });
  try {
    const post = (n: number) =>
      fetch(`${h.base}/v1/kong/http-log`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(Array.from({ length: n }, (_, i) => kongRecord(i))),
      });
    const ok = await post(2);
    assert.equal(ok.status, 200, await ok.text());
    const over = await post(2);
    assert.equal(over.status, 429, await over.text());
    assert.ok(Number(over.headers.get('retry-after')) >= 1);
    await h.settle();
    assert.equal(h.events.length, 2, 'only the first batch was published');
  } finally {
    await h.close();
  }
});
