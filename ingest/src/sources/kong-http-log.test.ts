import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { type PushHarness, startPushHarness, TOKEN } from './push-harness.ts';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/public/kong');
let h: PushHarness;
before(async () => {
  h = await startPushHarness();
});
after(() => h.close());

const post = (body: string | Buffer, headers: Record<string, string> = {}) =>
  fetch(`${h.base}/v1/kong/http-log`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...headers },
    body,
  });

const fixture = (name: string) =>
  JSON.parse(readFileSync(join(fixtures, name), 'utf8')) as Record<string, unknown>;

test('a batched http-log body (JSON array of every serializer generation) → one event each', async () => {
  h.reset();
  const batch = [
    fixture('log-serializer-3.8-docs-sample.json'),
    fixture('log-serializer-2.2.1-docs-sample-consumer.json'),
    fixture('log-serializer-1.0-docs-sample-tls-consumer.json'),
    fixture('log-serializer-0.x-legacy-loggly-docs-sample-apikey.json'),
  ];
  const res = await post(JSON.stringify(batch));
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { accepted: 4, rejected: [] });
  await h.settle();
  assert.equal(h.events.length, 4);
  assert.ok(h.events.every((e) => e.source.kind === 'kong' && e.source.collector === 'edge-1'));
  assert.equal(
    h.events[3]!.identity.credential.fingerprint,
    h.identity.fingerprint('2b64e2f0193851d4135a2e885cd08a65'),
  );
});

test('a single object (max_batch_size 1) and gzip bodies are read', async () => {
  h.reset();
  const one = JSON.stringify(fixture('log-serializer-3.8-docs-sample.json'));
  assert.equal((await post(one)).status, 200);
  assert.equal((await post(gzipSync(one), { 'content-encoding': 'gzip' })).status, 200);
  await h.settle();
  assert.equal(h.events.length, 2);
});

test('API keys in headers and query: one event each, and the raw keys reach neither events nor the DLQ', async () => {
  h.reset();
  const base = fixture('log-serializer-3.8-docs-sample.json') as { request: Record<string, unknown> };
  const keys = ['khttp_AAAA_1111_secret', 'khttp_BBBB_2222_secret', 'khttp_CCCC_3333_secret'];
  const rec = (patch: Record<string, unknown>) => ({ ...base, request: { ...base.request, ...patch } });
  const batch = [
    rec({ headers: { ...(base.request.headers as object), apikey: keys[0] } }),
    rec({ headers: { ...(base.request.headers as object), 'x-api-key': keys[1] } }),
    rec({ uri: `/example-route?apikey=${keys[2]}`, querystring: { apikey: keys[2] } }),
    // Unreadable (no method), carrying all three keys: it must be dead-lettered without them.
    {
      request: {
        uri: `/x?apikey=${keys[2]}`,
        headers: { apikey: keys[0], 'x-api-key': keys[1] },
        querystring: { apikey: keys[2] },
      },
      response: { status: 200 },
    },
  ];
  const res = await post(JSON.stringify(batch));
  assert.equal(res.status, 200);
  const body = (await res.json()) as { accepted: number; rejected: Array<{ index: number; code: string }> };
  assert.equal(body.accepted, 3);
  assert.deepEqual(
    body.rejected.map((r) => [r.index, r.code]),
    [[3, 'INGEST_PARSE_UNRECOGNISED']],
  );
  await h.settle();
  assert.equal(h.events.length, 3);
  assert.deepEqual(
    h.events.map((e) => e.identity.credential.fingerprint),
    keys.map((k) => h.identity.forSource('kong').fingerprint(k)),
  );
  assert.equal(h.dlq.length, 1);
  assert.equal(h.dlq[0]!.source, 'kong');
  const everything = JSON.stringify({ events: h.events, dlq: h.dlq, body });
  for (const k of keys) assert.ok(!everything.includes(k), `raw key leaked: ${k}`);
});

test('bad input is a 4xx, never a 500', async () => {
  assert.equal((await post('{"request":')).status, 400);
  assert.equal((await post('[]', { authorization: 'Bearer wrong' })).status, 401);
  assert.equal((await post('x', { 'content-type': 'text/plain' })).status, 415);
  assert.equal((await post(Buffer.from('not gzip'), { 'content-encoding': 'gzip' })).status, 400);
  assert.equal((await post(JSON.stringify([{ a: 'x'.repeat(300 * 1024) }]))).status, 413);
  assert.equal(
    (await post(gzipSync(Buffer.alloc(2 * 1024 * 1024, 32)), { 'content-encoding': 'gzip' })).status,
    413,
  );
});

test('429 with Retry-After while the bus is saturated', async () => {
  const release = await h.saturate();
  try {
    assert.equal(h.bus.saturated(), true);
    const res = await post(JSON.stringify(fixture('log-serializer-3.8-docs-sample.json')));
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('retry-after'), '1');
  } finally {
    await release();
  }
});
