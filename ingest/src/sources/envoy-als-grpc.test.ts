import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createLogger, type DlqRecord, MemoryBus } from '@apiwatch/core';
import { waitFor } from '@apiwatch/test';
import * as grpc from '@grpc/grpc-js';
import { createIdentityContext } from '../identity/context.ts';
import { envoyAlsParser } from '../parsers/envoy-als.ts';
import { fromProtoJson } from '../proto/json.ts';
import { envoyProtos } from '../proto/load.ts';
import { sha256Hex } from '../server/auth.ts';
import { type EnvoyAlsServer, startEnvoyAlsServer } from './envoy-als-grpc.ts';
import { FINGERPRINT_KEY, type PushHarness, startPushHarness, TOKEN } from './push-harness.ts';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/public/envoy/als');
const root = envoyProtos();
const Message = root.lookupType('envoy.service.accesslog.v3.StreamAccessLogsMessage');
const PATH = '/envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs';

const encode = (json: Record<string, unknown>) =>
  Buffer.from(Message.encode(Message.fromObject(fromProtoJson(Message, json))).finish());

/** A plain gRPC client streaming raw frames, as Envoy's http_grpc access logger does. */
function stream(
  port: number,
  frames: Buffer[],
  token: string | null,
): Promise<{ error: grpc.ServiceError | null }> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  return new Promise((resolve) => {
    const call = client.makeClientStreamRequest<Buffer, Buffer>(
      PATH,
      (b) => b,
      (b) => b,
      metadata,
      (error) => {
        client.close();
        resolve({ error });
      },
    );
    for (const f of frames) call.write(f);
    call.end();
  });
}

let h: PushHarness;
let als: EnvoyAlsServer;
before(async () => {
  h = await startPushHarness();
  als = await startEnvoyAlsServer({
    host: '127.0.0.1',
    port: 0,
    maxBodyBytes: 256 * 1024,
    maxRecordsPerRequest: 1000,
    collectors: [{ id: 'edge-1', tokenSha256: sha256Hex(TOKEN) }],
    bus: h.bus,
    log: createLogger('silent'),
    identity: h.identity,
  });
});
after(async () => {
  await als.close();
  await h.close();
});

const fixtureMessage = (name: string) =>
  JSON.parse(readFileSync(join(fixtures, name), 'utf8')) as Record<string, unknown>;

test('every SkyWalking fixture, streamed as binary protobuf, gives the same event as its JSON form', async () => {
  h.reset();
  const names = readdirSync(fixtures).filter((n) => n.startsWith('skywalking-'));
  const ctx = { identity: h.identity.forSource('envoy-als'), gateway: null, now: 0 };
  const expected = names.map((n) => {
    const r = envoyAlsParser.parse({ text: '', json: fixtureMessage(n) }, ctx);
    assert.ok(r.ok);
    return r.value[0]!;
  });
  const { error } = await stream(
    als.port,
    names.map((n) => encode(fixtureMessage(n))),
    TOKEN,
  );
  assert.equal(error, null);
  await h.settle();
  assert.equal(h.events.length, names.length);
  for (const [i, e] of h.events.entries()) {
    const want = expected[i]!;
    assert.equal(e.source.collector, 'edge-1');
    assert.deepEqual(
      { ...e, ingestTs: 0, source: { ...e.source, collector: null } },
      { ...want, ingestTs: 0 },
    );
  }
});

test('the identifier of the first message names the proxy for the rest of the stream; bad entries go to the DLQ', async () => {
  h.reset();
  const gloo = fixtureMessage('gloo-mesh-accesslog-istio-mtls-spiffe.json') as {
    result: { httpAccessLog: Record<string, unknown> };
  };
  const entry = gloo.result.httpAccessLog;
  const first = {
    identifier: {
      node: { id: 'sidecar~10.1.2.3~reviews-v2.default~default.svc.cluster.local' },
      logName: 'als',
    },
    httpLogs: { logEntry: [entry] },
  };
  const second = {
    httpLogs: {
      logEntry: [
        entry,
        { ...entry, commonProperties: { ...(entry.commonProperties as object), startTime: undefined } },
      ],
    },
  };
  const { error } = await stream(als.port, [encode(first), encode(second), Buffer.from([0x0a, 0xff])], TOKEN);
  assert.equal(error, null);
  await h.settle();
  assert.equal(h.events.length, 2);
  assert.ok(
    h.events.every(
      (e) => e.source.gateway === 'sidecar~10.1.2.3~reviews-v2.default~default.svc.cluster.local',
    ),
  );
  assert.equal(h.events[0]!.identity.service, 'spiffe://cluster1/ns/default/sa/bookinfo-productpage');
  assert.deepEqual(
    h.dlq.map((d: DlqRecord) => [d.source, d.code]),
    [
      ['envoy-als', 'INGEST_PARSE_UNRECOGNISED'],
      ['envoy-als', 'INGEST_PARSE_UNRECOGNISED'],
    ],
  );
  assert.match(h.dlq[0]!.reason, /logEntry\[1\]: ALS entry has no commonProperties.startTime/);
  assert.match(h.dlq[1]!.reason, /not a StreamAccessLogsMessage/);
});

test('a stream without the collector token is refused with UNAUTHENTICATED', async () => {
  h.reset();
  const { error } = await stream(als.port, [encode(fixtureMessage('skywalking-envoy-ingress.json'))], null);
  assert.equal(error?.code, grpc.status.UNAUTHENTICATED);
  const wrong = await stream(
    als.port,
    [encode(fixtureMessage('skywalking-envoy-ingress.json'))],
    'not-the-token',
  );
  assert.equal(wrong.error?.code, grpc.status.UNAUTHENTICATED);
  await h.settle();
  assert.equal(h.events.length, 0);
});

test('a saturated bus pauses the stream instead of dropping: everything arrives after release', async () => {
  h.reset();
  const release = await h.saturate();
  const frames = Array.from({ length: 6 }, () => encode(fixtureMessage('skywalking-envoy-ingress.json')));
  const before = als.stats.messages;
  const done = stream(als.port, frames, TOKEN);
  // The server has taken a message and is held on the full bus (the stream paused behind it).
  await waitFor(
    'the first message to reach the server',
    () => (als.stats.messages > before ? true : undefined),
    5000,
  );
  assert.equal(h.events.length, 0);
  await release();
  const { error } = await done;
  assert.equal(error, null);
  await h.settle();
  assert.equal(h.events.length, 6);
});

test('ingest.envoyAls starts the listener with the ingest server', async () => {
  const bus = new MemoryBus(16);
  const port = await freePort();
  const events: unknown[] = [];
  await bus.subscribe('events', 't', async (b) => {
    events.push(...b);
  });
  const { createIngestServer } = await import('../server/ingest.ts');
  const server = await createIngestServer({
    host: '127.0.0.1',
    port: 0,
    maxBodyBytes: 64 * 1024,
    maxRecordsPerRequest: 10,
    collectors: [{ id: 'c', tokenSha256: sha256Hex(TOKEN) }],
    bus,
    log: createLogger('silent'),
    identity: createIdentityContext(FINGERPRINT_KEY, 'k1'),
    envoyAls: { enabled: true, host: '127.0.0.1', port },
  });
  try {
    const { error } = await stream(port, [encode(fixtureMessage('skywalking-envoy-ingress.json'))], TOKEN);
    assert.equal(error, null);
    await bus.flush();
    assert.equal(events.length, 1);
  } finally {
    await server.app.close();
    await bus.close();
  }
});

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
