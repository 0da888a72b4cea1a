import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deadLetterRecord } from './consume.ts';

test('a dead-lettered bus message keeps no secret (a raw gateway record sent to the events topic)', () => {
  const raw = JSON.stringify({
    request: { headers: { authorization: 'Bearer sk_live_51Hx9secretvalue', 'x-api-key': 'k-123456789' } },
    upstream_uri: 'https://bob:hunter2@api.example.com/x?access_token=abc123def',
  });
  const r = deadLetterRecord('events', 'invalid_schema', `field /request: ${raw.slice(0, 200)}`, raw);
  for (const secret of ['sk_live_51Hx9secretvalue', 'k-123456789', 'hunter2', 'abc123def']) {
    assert.ok(!r.raw.includes(secret), `raw keeps ${secret}: ${r.raw}`);
    assert.ok(!r.reason.includes(secret), `reason keeps ${secret}: ${r.reason}`);
  }
  assert.equal(r.source, 'bus.events');
  assert.equal(r.code, 'BUS_MESSAGE_INVALID');
  assert.match(r.raw, /api\.example\.com/, 'what is not a secret stays for the diagnosis');
});
