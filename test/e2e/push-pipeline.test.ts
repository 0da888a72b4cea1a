/**
 * One ingest pipeline for every entry point (issue 7 §5): the same records go through
 * `apiwatch parse --spec` (the real CLI) and through each push endpoint of an ingest server that
 * has the same spec in `specs` (ingest.specs) and the same fingerprint key; the events must be the
 * same, ids and ingest stamps aside — route templates, object ids and spec annotations included.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  type ApiEvent,
  buildEvent,
  createLogger,
  createSecretResolver,
  loadConfig,
  MemoryBus,
} from '@apiwatch/core';
import {
  createIngestServer,
  envoyProtos,
  fromProtoJson,
  loadIdentityContext,
  sha256Hex,
} from '@apiwatch/ingest';
import * as grpc from '@grpc/grpc-js';
import { ROOT, runApiwatch, waitFor } from '../src/processes.ts';

const TOKEN = 'e2e-push-pipeline-token';
const KEY_HEX = '8899aabbccddeeff00112233445566778899aabbccddeeff0011223344556677';
const SPEC = join(ROOT, 'test/fixtures/public/openapi/petstore-v3-openapi.yaml');
const work = mkdtempSync(join(tmpdir(), 'apiwatch-push-pipeline-'));
const env = { APIWATCH_FINGERPRINT_KEY: KEY_HEX, APIWATCH__DATADIR: join(work, 'data') };

const bus = new MemoryBus(10_000);
const published: ApiEvent[] = [];
let base = '';
let alsPort = 0;
let close: () => Promise<void> = async () => {};

before(async () => {
  await bus.subscribe('events', 'e2e-push-pipeline', async (batch) => {
    for (const m of batch) published.push(m.value);
  });
  const server = await createIngestServer({
    host: '127.0.0.1',
    port: 0,
    maxBodyBytes: 1 << 20,
    maxRecordsPerRequest: 1000,
    collectors: [{ id: 'e2e', tokenSha256: sha256Hex(TOKEN) }],
    bus,
    log: createLogger('silent'),
    identity: loadIdentityContext(loadConfig(undefined, env), createSecretResolver(env)),
    specs: [SPEC],
    inferRoutes: true,
    envoyAls: { enabled: true, host: '127.0.0.1', port: 0 },
  });
  base = server.url();
  alsPort = server.envoyAlsPort() ?? 0;
  close = () => server.app.close();
});

after(async () => {
  await close();
  await bus.close();
  rmSync(work, { recursive: true, force: true });
});

const t0 = Date.parse('2026-03-02T10:00:00Z');

const kongRecord = {
  request: {
    method: 'GET',
    uri: '/pet/42?status=sold',
    url: 'http://api.example.com:8000/pet/42?status=sold',
    headers: { host: 'api.example.com', 'user-agent': 'curl/8.5.0', apikey: 'kong-secret-key-1' },
    querystring: { status: 'sold' },
    size: 120,
  },
  response: { status: 200, size: 512, headers: {} },
  latencies: { request: 12, kong: 2, proxy: 10 },
  client_ip: '198.51.100.7',
  started_at: t0,
  consumer: { username: 'alice', id: 'c-1' },
  authenticated_entity: { id: 'cred-1' },
};

const awsLine = {
  requestId: 'req-e2e-1',
  ip: '198.51.100.8',
  requestTime: '02/Mar/2026:10:00:01 +0000',
  httpMethod: 'DELETE',
  path: '/store/order/77',
  status: '204',
  protocol: 'HTTP/1.1',
  responseLength: '0',
};
const firehose = {
  requestId: 'fh-e2e-1',
  timestamp: t0,
  records: [{ data: Buffer.from(JSON.stringify(awsLine)).toString('base64') }],
};

const span = (path: string, spanId: string) => ({
  traceId: '5b8efff798038103d269b633813fc60c',
  spanId,
  name: `GET ${path}`,
  kind: 2,
  startTimeUnixNano: String(BigInt(t0) * 1_000_000n),
  endTimeUnixNano: String((BigInt(t0) + 15n) * 1_000_000n),
  attributes: [
    { key: 'http.request.method', value: { stringValue: 'GET' } },
    { key: 'url.path', value: { stringValue: path } },
    { key: 'http.response.status_code', value: { intValue: '200' } },
    { key: 'server.address', value: { stringValue: 'api.example.com' } },
    { key: 'client.address', value: { stringValue: '198.51.100.9' } },
  ],
});
const otlp = {
  resourceSpans: [
    {
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'petstore' } }] },
      scopeSpans: [
        { spans: [span('/user/bob', 'eee19b7ec3c1b174'), span('/pet/findByStatus', 'eee19b7ec3c1b175')] },
      ],
    },
  ],
};

const alsMessage = {
  identifier: { node: { id: 'sidecar~10.1.2.3~petstore.default', cluster: 'petstore' }, logName: 'als' },
  httpLogs: {
    logEntry: [
      {
        commonProperties: {
          downstreamRemoteAddress: { socketAddress: { address: '198.51.100.10', portValue: 50000 } },
          startTime: '2026-03-02T10:00:02.000Z',
          timeToLastDownstreamTxByte: '0.012s',
        },
        protocolVersion: 'HTTP11',
        request: { requestMethod: 'GET', scheme: 'http', authority: 'api.example.com', path: '/pet/7' },
        response: { responseCode: 200, responseBodyBytes: '100' },
      },
    ],
  },
};

// What `apiwatch collect` sends: a canonical event (its route left to ingest's route stage here).
const canonical = (): ApiEvent =>
  buildEvent(
    {
      ts: t0 + 3000,
      method: 'GET',
      path: '/store/order/9',
      status: 200,
      sourceKind: 'canonical',
      raw: 'canonical-e2e-1',
      host: 'api.example.com',
      clientIp: '198.51.100.11',
      gateway: 'edge',
    },
    t0 + 3000,
  );

interface Case {
  format: string;
  endpoint: string;
  /** The file `apiwatch parse` reads. */
  file: string;
  send(): Promise<void>;
  events: number;
}

async function post(path: string, body: string, headers: Record<string, string>): Promise<void> {
  const res = await fetch(`${base}${path}`, { method: 'POST', body, headers });
  assert.equal(res.status, 200, `${path}: ${res.status} ${await res.text()}`);
}
const bearer = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

async function sendAls(message: Record<string, unknown>): Promise<void> {
  const Message = envoyProtos().lookupType('envoy.service.accesslog.v3.StreamAccessLogsMessage');
  const frame = Buffer.from(Message.encode(Message.fromObject(fromProtoJson(Message, message))).finish());
  const client = new grpc.Client(`127.0.0.1:${alsPort}`, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${TOKEN}`);
  await new Promise<void>((resolve, reject) => {
    const call = client.makeClientStreamRequest<Buffer, Buffer>(
      '/envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs',
      (b) => b,
      (b) => b,
      metadata,
      (error) => {
        client.close();
        if (error) reject(error);
        else resolve();
      },
    );
    call.write(frame);
    call.end();
  });
}

const file = (name: string, content: unknown) => {
  const p = join(work, name);
  writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
  return p;
};

const CASES: Case[] = [
  {
    format: 'kong',
    endpoint: '/v1/kong/http-log',
    file: file('kong.json', [kongRecord]),
    send: () => post('/v1/kong/http-log', JSON.stringify([kongRecord]), bearer),
    events: 1,
  },
  {
    format: 'aws-apigw',
    endpoint: '/v1/aws/firehose',
    file: file('firehose.json', firehose),
    send: () =>
      post('/v1/aws/firehose', JSON.stringify(firehose), {
        'x-amz-firehose-access-key': TOKEN,
        'x-amz-firehose-request-id': 'fh-e2e-1',
        'content-type': 'application/json',
      }),
    events: 1,
  },
  {
    format: 'otlp',
    endpoint: '/v1/traces',
    file: file('otlp.json', otlp),
    send: () => post('/v1/traces', JSON.stringify(otlp), bearer),
    events: 2,
  },
  {
    format: 'envoy-als',
    endpoint: 'ALS gRPC',
    file: file('als.json', alsMessage),
    send: () => sendAls(alsMessage),
    events: 1,
  },
  {
    format: 'canonical',
    endpoint: '/v1/events',
    file: file('canonical.ndjson', `${JSON.stringify(canonical())}\n`),
    send: () =>
      post('/v1/events', `${JSON.stringify(canonical())}\n`, {
        ...bearer,
        'content-type': 'application/x-ndjson',
      }),
    events: 1,
  },
];

/** An event without what legitimately differs between two arrivals: id and ingest stamps. */
function comparable(e: ApiEvent): unknown {
  const { id: _id, ingestTs: _ingestTs, ...rest } = e;
  return { ...rest, source: { ...rest.source, collector: null } };
}

for (const c of CASES) {
  test(`${c.format}: apiwatch parse --spec and ${c.endpoint} give the same events`, async () => {
    const parsed = await runApiwatch(['parse', '--format', c.format, '--spec', SPEC, c.file], env);
    assert.equal(parsed.code, 0, parsed.stderr);
    const viaParse = parsed.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as ApiEvent);
    assert.equal(viaParse.length, c.events, parsed.stderr);
    const before = published.length;
    await c.send();
    await waitFor(
      `${c.format} events`,
      () => (published.length >= before + c.events ? true : undefined),
      10_000,
    );
    const viaPush = published.slice(before, before + c.events);
    assert.deepEqual(viaPush.map(comparable), viaParse.map(comparable));
    // Every event went through the route stage with the spec: a template from the spec.
    for (const e of viaPush)
      assert.ok(e.request.route?.includes('/'), `${c.format}: no route on ${e.request.path}`);
  });
}

test('the Kong record posted to /v1/kong/http-log carries the route template and object ids of apiwatch parse --spec', async () => {
  const before = published.length;
  await post('/v1/kong/http-log', JSON.stringify(kongRecord), bearer);
  await waitFor('kong event', () => (published.length > before ? true : undefined), 10_000);
  const e = published[before]!;
  assert.equal(e.request.route, '/pet/{petId}');
  assert.deepEqual(e.objects, [{ name: 'petId', value: '42', in: 'path' }]);
  // The spec annotation of the route stage too (event.spec).
  assert.equal(e.spec?.status, 'documented');
  assert.equal(e.spec?.operationId, 'getPetById');
  // And no secret: the key-auth key is a fingerprint.
  assert.ok(!JSON.stringify(e).includes('kong-secret-key-1'));
});
