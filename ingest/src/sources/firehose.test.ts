import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { type PushHarness, startPushHarness, TOKEN } from './push-harness.ts';

let h: PushHarness;
before(async () => {
  h = await startPushHarness();
});
after(() => h.close());

const line = (requestId: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    requestId,
    requestTimeEpoch: '1686411388123',
    httpMethod: 'GET',
    resourcePath: '/pets/{petId}',
    path: '/prod/pets/7',
    stage: 'prod',
    status: '200',
    'identity.sourceIp': '198.51.100.7',
    'identity.apiKeyId': 'key-id-1',
    ...extra,
  });
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

const deliver = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${h.base}/v1/aws/firehose`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-amz-firehose-protocol-version': '1.0',
      'x-amz-firehose-request-id': 'hdr-req-1',
      'x-amz-firehose-access-key': TOKEN,
      ...headers,
    },
    body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  });

test('a delivery with direct API Gateway lines, a CloudWatch gzip envelope and a bad record', async () => {
  h.reset();
  const cw = {
    messageType: 'DATA_MESSAGE',
    logEvents: [
      { id: '1', timestamp: 1, message: line('cw-1') },
      { id: '2', timestamp: 2, message: 'START RequestId: x' },
    ],
  };
  const res = await deliver({
    requestId: 'ed4acda5-034f-9f42-bba1-f29aea6d7d8f',
    timestamp: 1578090901599,
    records: [
      { data: b64(`${line('a')}\n${line('b', { 'identity.apiKey': 'RawApiKeyValue123' })}\n`) },
      { data: b64(gzipSync(JSON.stringify(cw))) },
      { data: b64('not json at all') },
    ],
  });
  assert.equal(res.status, 200);
  const body = (await res.json()) as Record<string, unknown>;
  assert.equal(body.requestId, 'ed4acda5-034f-9f42-bba1-f29aea6d7d8f');
  assert.equal(typeof body.timestamp, 'number');
  assert.equal(body.errorMessage, undefined);
  await h.settle();
  assert.deepEqual(
    h.events.map((e) => e.request.requestId),
    ['a', 'b', 'cw-1'],
  );
  assert.equal(h.events[0]!.request.path, '/pets/7');
  assert.equal(h.events[0]!.identity.credential.ref, 'key-id-1');
  assert.equal(h.events[1]!.identity.credential.fingerprint, h.identity.fingerprint('RawApiKeyValue123'));
  assert.deepEqual(
    h.dlq.map((d) => [d.source, d.code]),
    [
      ['aws-apigw', 'INGEST_PARSE_INVALID_JSON'],
      ['aws-apigw', 'INGEST_PARSE_INVALID_JSON'],
    ],
  );
  assert.ok(!JSON.stringify({ e: h.events, d: h.dlq }).includes('RawApiKeyValue123'));
});

test('gzip Content-Encoding (Firehose "GZIP" content encoding)', async () => {
  h.reset();
  const res = await deliver(
    gzipSync(JSON.stringify({ requestId: 'r2', timestamp: 1, records: [{ data: b64(line('z')) }] })),
    { 'content-encoding': 'gzip' },
  );
  assert.equal(res.status, 200);
  await h.settle();
  assert.equal(h.events.length, 1);
});

test('errors use the documented body: requestId, timestamp, errorMessage', async () => {
  const unauth = await deliver({ requestId: 'r3', records: [] }, { 'x-amz-firehose-access-key': 'wrong' });
  assert.equal(unauth.status, 401);
  const u = (await unauth.json()) as Record<string, unknown>;
  assert.equal(u.requestId, 'hdr-req-1');
  assert.match(String(u.errorMessage), /access key/);
  const notJson = await deliver('{{{');
  assert.equal(notJson.status, 400);
  assert.ok(((await notJson.json()) as Record<string, unknown>).errorMessage);
  assert.equal((await deliver({ requestId: 'r4' })).status, 400);
  const big = await deliver({ requestId: 'r5', records: [{ data: 'A'.repeat(300 * 1024) }] });
  assert.equal(big.status, 413);
  assert.equal(((await big.json()) as Record<string, unknown>).requestId, 'hdr-req-1');
});

test('429 with Retry-After while the bus is saturated', async () => {
  const release = await h.saturate();
  try {
    const res = await deliver({ requestId: 'r6', timestamp: 1, records: [{ data: b64(line('q')) }] });
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('retry-after'), '1');
    assert.equal(((await res.json()) as Record<string, unknown>).requestId, 'hdr-req-1');
  } finally {
    await release();
  }
});
