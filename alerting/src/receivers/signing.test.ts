import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateSecret, sign, verify } from './signing.ts';

// The reference vector published with the Standard Webhooks specification (and Svix's libraries).
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const TS = 1614265330;
const BODY = '{"test": 2432232314}';

test('matches the Standard Webhooks reference signature', () => {
  const h = sign(SECRET, ID, TS, BODY);
  assert.equal(h['webhook-signature'], 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  assert.equal(h['webhook-id'], ID);
  assert.equal(h['webhook-timestamp'], String(TS));
});

test('verify accepts a good delivery and rejects tampering, a wrong secret and stale timestamps', () => {
  const h = sign(SECRET, ID, TS, BODY);
  assert.equal(verify(SECRET, { ...h }, BODY, TS), true);
  assert.equal(verify(SECRET, { ...h }, `${BODY} `, TS), false, 'body changed');
  assert.equal(verify(SECRET, { ...h, 'webhook-id': 'msg_other' }, BODY, TS), false, 'id changed');
  assert.equal(verify(generateSecret(), { ...h }, BODY, TS), false, 'other secret');
  assert.equal(verify(SECRET, { ...h }, BODY, TS + 301), false, 'too old');
  assert.equal(
    verify(SECRET, { ...h, 'webhook-signature': `v1,bogus ${h['webhook-signature']}` }, BODY, TS),
    true,
    'any listed signature may match',
  );
});

test('secrets shorter than 16 bytes are refused', () => {
  assert.throws(() => sign('whsec_c2hvcnQ=', ID, TS, BODY), /at least 16 bytes/);
});
