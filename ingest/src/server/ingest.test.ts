import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type ApiEvent, buildEvent, createLogger, type DlqRecord, MemoryBus } from '@apiwatch/core';
import { waitFor } from '@apiwatch/test';
import { sha256Hex } from './auth.ts';
import { createIngestServer } from './ingest.ts';

const TOKEN = 'collector-secret-token-1';
const bus = new MemoryBus(1000);
const events: ApiEvent[] = [];
const dlq: DlqRecord[] = [];
let base = '';
let close: () => Promise<void>;

const ev = (i: number) =>
  buildEvent({
    ts: 1_700_000_000_000 + i,
    method: 'GET',
    path: `/items/${i}`,
    status: 200,
    sourceKind: 'nginx',
    raw: String(i),
    clientIp: '192.0.2.1',
  });

before(async () => {
  await bus.subscribe('events', 'test', async (b) => {
    for (const m of b) events.push(m.value);
  });
  await bus.subscribe('dlq', 'test', async (b) => {
    for (const m of b) dlq.push(m.value);
  });
  const server = await createIngestServer({
    host: '127.0.0.1',
    port: 0,
    maxBodyBytes: 64 * 1024,
    maxRecordsPerRequest: 100,
    collectors: [{ id: 'edge-1', tokenSha256: sha256Hex(TOKEN) }],
    bus,
    log: createLogger('silent'),
  });
  base = server.url();
  close = () => server.app.close();
});
after(async () => {
  await close();
  await bus.close();
});

const post = (body: string, headers: Record<string, string> = {}, path = '/v1/events') =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson', ...headers },
    body,
  });

test('NDJSON: valid records are kept, invalid ones reported one by one and sent to the DLQ redacted', async () => {
  events.length = 0;
  dlq.length = 0;
  const bad = { ...ev(2), response: { ...ev(2).response, status: 'ok' } };
  const body = [
    JSON.stringify(ev(1)),
    '{not json "authorization":"Bearer abc.def.ghi"',
    JSON.stringify(bad),
    JSON.stringify(ev(3)),
  ].join('\n');
  const res = await post(body);
  assert.equal(res.status, 200);
  const answer = (await res.json()) as {
    accepted: number;
    rejected: Array<{ index: number; code: string; reason: string }>;
  };
  assert.equal(answer.accepted, 2);
  assert.deepEqual(
    answer.rejected.map((r) => [r.index, r.code]),
    [
      [1, 'INGEST_PARSE_INVALID_JSON'],
      [2, 'INGEST_EVENT_INVALID'],
    ],
  );
  assert.match(answer.rejected[1]!.reason, /\/response\/status/);
  await bus.flush();
  assert.deepEqual(
    events.map((e) => e.request.path),
    ['/items/1', '/items/3'],
  );
  assert.ok(
    events.every((e) => e.source.collector === 'edge-1'),
    'stamped with the authenticated collector',
  );
  assert.equal(dlq.length, 2);
  assert.ok(!dlq[0]!.raw.includes('abc.def.ghi'), 'secrets are redacted before the DLQ');
  assert.equal(dlq[0]!.collector, 'edge-1');
});

test('a JSON array is accepted too', async () => {
  events.length = 0;
  const res = await post(JSON.stringify([ev(10), ev(11)]), { 'content-type': 'application/json' });
  assert.equal(res.status, 200);
  await bus.flush();
  assert.equal(events.length, 2);
});

test('authentication: missing or wrong tokens get 401, never reach the bus', async () => {
  events.length = 0;
  const none = await fetch(`${base}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: JSON.stringify(ev(1)),
  });
  const wrong = await post(JSON.stringify(ev(1)), { authorization: 'Bearer nope' });
  assert.equal(none.status, 401);
  assert.equal(wrong.status, 401);
  await bus.flush();
  assert.equal(events.length, 0);
});

test('bad input is a 4xx with a code, never a 500', async () => {
  const cases: Array<[string, Record<string, string>, number, string]> = [
    ['x'.repeat(70 * 1024), {}, 413, 'INGEST_BODY_TOO_LARGE'],
    ['hello', { 'content-type': 'text/plain' }, 415, 'INGEST_UNSUPPORTED_MEDIA_TYPE'],
    ['[1, 2', { 'content-type': 'application/json' }, 400, 'INGEST_PARSE_INVALID_JSON'],
    ['{"a":1}\n{"b":2}', {}, 400, 'INGEST_EVENT_INVALID'],
    [Array.from({ length: 101 }, () => '{}').join('\n'), {}, 413, 'INGEST_BODY_TOO_LARGE'],
  ];
  for (const [body, headers, status, code] of cases) {
    const res = await post(body, headers);
    const text = await res.text();
    assert.equal(res.status, status, `${code}: ${text}`);
    assert.ok(text.includes(code), `${code} expected in ${text}`);
  }
});

test('a saturated bus answers 429 with Retry-After instead of queueing without bound', async () => {
  const tiny = new MemoryBus(1);
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  await tiny.subscribe('events', 'stuck', async () => {
    await gate;
  });
  const server = await createIngestServer({
    host: '127.0.0.1',
    port: 0,
    maxBodyBytes: 1 << 20,
    maxRecordsPerRequest: 100,
    collectors: [{ id: 'c', tokenSha256: sha256Hex(TOKEN) }],
    bus: tiny,
    log: createLogger('silent'),
  });
  const send = () =>
    fetch(`${server.url()}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson' },
      body: `${JSON.stringify(ev(1))}\n${JSON.stringify(ev(2))}`,
    });
  const first = send();
  await waitFor('the bus to saturate', () => (tiny.saturated() ? true : undefined), 5000);
  const second = await send();
  assert.equal(second.status, 429);
  assert.equal(second.headers.get('retry-after'), '1');
  release();
  assert.equal((await first).status, 200);
  await server.app.close();
  await tiny.close();
});

test('POST /v1/dlq keeps records a collector could not parse, redacted, stamped with the collector', async () => {
  dlq.length = 0;
  const res = await post(
    JSON.stringify({
      ts: 5,
      source: 'nginx',
      code: 'INGEST_PARSE_UNRECOGNISED',
      reason: 'bad line',
      raw: 'GET /x?api_key=sekr3t-value-123 HTTP/1.1',
    }),
    {},
    '/v1/dlq',
  );
  assert.equal(res.status, 200);
  await bus.flush();
  assert.equal(dlq.length, 1);
  assert.equal(dlq[0]!.collector, 'edge-1');
  assert.equal(dlq[0]!.source, 'nginx');
  assert.ok(!dlq[0]!.raw.includes('sekr3t-value-123'), dlq[0]!.raw);
});
