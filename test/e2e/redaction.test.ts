/**
 * Secrets never at rest (docs/design.md §4): records that carry raw API keys, bearer tokens, Basic
 * passwords, cookies and secret query parameters go through `apiwatch parse` (a real process),
 * the ingest server's DLQ path and a chDB insert; every output is searched for every secret.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type ApiEvent, ChdbStore, createLogger, type DlqRecord, MemoryBus } from '@apiwatch/core';
import {
  createIdentityContext,
  createIngestPipeline,
  createIngestServer,
  createRouteTemplater,
  findParser,
  formatIds,
  readRecords,
  sha256Hex,
} from '@apiwatch/ingest';
import { waitFor } from '../src/processes.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURES = join(ROOT, 'test/fixtures/public');
const CLI = join(ROOT, 'cli/bin/apiwatch');
const work = mkdtempSync(join(tmpdir(), 'apiwatch-redaction-'));

const jwt = (claims: object) =>
  `${Buffer.from('{"alg":"HS256"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.Zm9yZ2VkLXNpZ25hdHVyZS12YWx1ZQ`;

// Secrets planted in crafted records: each is distinctive, so finding it anywhere is a leak.
const S = {
  bearerJwt: jwt({ sub: 'user-7', iss: 'idp', azp: 'web', jti: 'j1' }),
  opaqueBearer: 'opaqueBearerTok3nQWERTY',
  apiKeyHeader: 'hdrApiKeyZXCV0987',
  basicPassword: 'basicPassw0rdLKJH',
  cookieSession: 'cookieSessVal5544',
  queryApiKey: 'qsApiKeyMNBV1122',
  queryAccessToken: 'qsAccessTokPOIU3344',
  querySig: 'qsSigValueASDF5566',
  queryCode: 'oauthCodeGHJK7788',
  queryPassword: 'qsPasswordTYUI9900',
  awsApiKey: 'awsRawApiKeyVBNM2468',
  kongLegacyKey: '2b64e2f0193851d4135a2e885cd08a65',
  urlPassword: 'urlUserinfoPassw0rdQAZ',
  envoyPassword: 'envoyAuthorityPassWSX1',
  otlpApiKey: 'otlpHeaderApiKeyEDC2',
  otlpAuthToken: 'otlpHeaderAuthTokRFV3',
};
const SECRETS = Object.values(S);

const basic = Buffer.from(`alice:${S.basicPassword}`).toString('base64');
const query = `api_key=${S.queryApiKey}&access_token=${S.queryAccessToken}&sig=${S.querySig}&code=${S.queryCode}&password=${S.queryPassword}&user_id=42`;

const nginxJson = [
  {
    time_iso8601: '2024-05-01T10:00:00+00:00',
    remote_addr: '198.51.100.7',
    request: `GET /api/orders/17?${query} HTTP/1.1`,
    status: '200',
    body_bytes_sent: '10',
    http_authorization: `Bearer ${S.bearerJwt}`,
    http_user_agent: 'curl/8',
  },
  {
    time_iso8601: '2024-05-01T10:00:01+00:00',
    remote_addr: '198.51.100.8',
    request: `POST /api/login?${query} HTTP/1.1`,
    status: '401',
    body_bytes_sent: '0',
    http_authorization: `Basic ${basic}`,
    http_cookie: `sessionid=${S.cookieSession}; theme=dark`,
  },
  {
    time_iso8601: '2024-05-01T10:00:02+00:00',
    remote_addr: '198.51.100.9',
    request: 'GET /api/things/9 HTTP/1.1',
    status: '200',
    body_bytes_sent: '5',
    http_x_api_key: S.apiKeyHeader,
    http_authorization: `Bearer ${S.opaqueBearer}`,
  },
]
  .map((o) => JSON.stringify(o))
  .join('\n');

/** Absolute-form request targets (a forward proxy's log) with userinfo. */
const nginxAbsolute = [
  `203.0.113.7 - - [01/May/2024:10:00:06 +0000] "GET https://bob:${S.urlPassword}@api.example.com/x HTTP/1.1" 200 5 "-" "curl/8"`,
  `203.0.113.7 - - [01/May/2024:10:00:07 +0000] "GET http://bob:${S.urlPassword}@api.example.com?user_id=3 HTTP/1.1" 200 5 "-" "curl/8"`,
].join('\n');

/** Envoy's default text format with an authority a client sent as `user:pw@host`. */
const envoyUserinfo = `[2024-05-01T10:00:08.000Z] "GET /api/v1/locations HTTP/1.1" 200 - 0 12 3 2 "10.0.35.28" "curl/8" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "envoy:${S.envoyPassword}@api.example.com" "tcp://10.0.2.1:80"`;

/** OTLP spans that captured credential headers as attributes (`{key, value}` pairs). */
const otlpHeaders = (withStart: boolean) => ({
  resourceSpans: [
    {
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'api' } }] },
      scopeSpans: [
        {
          spans: [
            {
              traceId: '5b8efff798038103d269b633813fc60c',
              spanId: 'eee19b7ec3c1b174',
              name: 'GET /orders',
              kind: 2,
              ...(withStart ? { startTimeUnixNano: '1714557600000000000' } : {}),
              endTimeUnixNano: '1714557600010000000',
              attributes: [
                { key: 'http.request.method', value: { stringValue: 'GET' } },
                { key: 'url.path', value: { stringValue: '/orders' } },
                { key: 'http.response.status_code', value: { intValue: '200' } },
                {
                  key: 'http.request.header.x-api-key',
                  value: { arrayValue: { values: [{ stringValue: S.otlpApiKey }] } },
                },
                { key: 'http.request.header.x-auth-token', value: { stringValue: S.otlpAuthToken } },
              ],
            },
          ],
        },
      ],
    },
  ],
});

const nginxText = [
  `203.0.113.5 - alice [01/May/2024:10:00:03 +0000] "GET /reset?${query} HTTP/1.1" 200 12 "https://x.example/?access_token=${S.queryAccessToken}" "curl/8"`,
  `203.0.113.6 - - [01/May/2024:10:00:04 +0000] "GET /files/a.txt?sig=${S.querySig}&se=2030 HTTP/1.1" 403 0 "-" "curl/8"`,
].join('\n');

/** AWS API Gateway JSON access log built from the documented $context template (formats.md §6). */
const awsLine = JSON.stringify({
  requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
  ip: '192.0.2.10',
  requestTime: '01/May/2024:10:00:05 +0000',
  requestTimeEpoch: '1714557605000',
  httpMethod: 'GET',
  resourcePath: '/pets/{petId}',
  path: '/prod/pets/5',
  status: '200',
  protocol: 'HTTP/1.1',
  responseLength: '42',
  apiKey: S.awsApiKey,
  apiKeyId: 'ak-id-1',
  identity: { apiKey: S.awsApiKey, apiKeyId: 'ak-id-1', sourceIp: '192.0.2.10' },
});

interface Input {
  format: string;
  name: string;
  text: string;
  /** Secrets this input carries. */
  secrets: string[];
}

const inputs: Input[] = [
  {
    format: 'nginx',
    name: 'nginx JSON with Authorization, cookies, API key and secret query params',
    text: nginxJson,
    secrets: SECRETS.filter((s) => s !== S.awsApiKey && s !== S.kongLegacyKey),
  },
  {
    format: 'nginx',
    name: 'nginx combined with secret query params in URL and referer',
    text: nginxText,
    secrets: [S.queryApiKey, S.queryAccessToken, S.querySig, S.queryCode, S.queryPassword],
  },
  {
    format: 'kong',
    name: 'Kong 0.x legacy serializer with the raw key (fixture)',
    text: readFileSync(
      join(FIXTURES, 'kong/log-serializer-0.x-legacy-loggly-docs-sample-apikey.json'),
      'utf8',
    ),
    secrets: [S.kongLegacyKey],
  },
  {
    format: 'kong',
    name: 'Kong 3.x entry with apikey header and querystring key',
    text: JSON.stringify({
      request: {
        method: 'GET',
        uri: `/x?apikey=${S.queryApiKey}`,
        url: `http://k:8000/x?apikey=${S.queryApiKey}`,
        querystring: { apikey: S.queryApiKey },
        headers: { apikey: S.apiKeyHeader, cookie: `session=${S.cookieSession}`, authorization: 'REDACTED' },
        size: 100,
      },
      response: { status: 200, size: 10, headers: {} },
      latencies: { request: 3, proxy: 2, kong: 1 },
      started_at: 1714557600000,
      client_ip: '192.0.2.1',
    }),
    secrets: [S.queryApiKey, S.apiKeyHeader, S.cookieSession],
  },
  {
    format: 'nginx',
    name: 'nginx combined with absolute-form targets carrying userinfo',
    text: nginxAbsolute,
    secrets: [S.urlPassword],
  },
  {
    format: 'envoy',
    name: 'Envoy text with user:password@host as the authority',
    text: envoyUserinfo,
    secrets: [S.envoyPassword],
  },
  {
    format: 'otlp',
    name: 'OTLP span with credential headers as {key, value} attributes',
    text: JSON.stringify(otlpHeaders(true)),
    secrets: [S.otlpApiKey, S.otlpAuthToken],
  },
  {
    format: 'aws-apigw',
    name: 'AWS API Gateway access log with identity.apiKey',
    text: awsLine,
    secrets: [S.awsApiKey],
  },
];

function runCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', [CLI, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

function assertNoSecret(where: string, text: string, secrets: readonly string[]): void {
  for (const s of secrets) {
    assert.ok(!text.includes(s), `${where}: the secret ${s.slice(0, 6)}… appears in the output`);
    // A base64 or percent-encoded copy is the same leak.
    assert.ok(
      !text.includes(Buffer.from(s).toString('base64')),
      `${where}: base64 of ${s.slice(0, 6)}… appears`,
    );
  }
}

function skipIfNoParser(t: { skip(msg: string): void }, format: string): boolean {
  if (formatIds().includes(format)) return false;
  const reason = `format ${format} is not registered yet (parsers: ${formatIds().join(', ')})`;
  process.stderr.write(`\n*** SKIPPING redaction case: ${reason} ***\n\n`);
  t.skip(reason);
  return true;
}

const spec = join(FIXTURES, 'openapi/crapi-openapi-spec.json');

for (const input of inputs) {
  test(`apiwatch parse leaks no secret: ${input.name}`, async (t) => {
    if (skipIfNoParser(t, input.format)) return;
    const file = join(work, `${input.format}-${inputs.indexOf(input)}.log`);
    writeFileSync(file, `${input.text}\n`);
    const env = { APIWATCH__DATADIR: join(work, 'data-parse'), APIWATCH_FINGERPRINT_KEY: 'cd'.repeat(32) };
    const out = await runCli(['parse', '--format', input.format, '--spec', spec, file], env);
    assert.ok(out.stdout.trim().length > 0, `parse produced no events (exit ${out.code}): ${out.stderr}`);
    assertNoSecret('stdout', out.stdout, input.secrets);
    assertNoSecret('stderr', out.stderr, input.secrets);
    for (const line of out.stdout.trim().split('\n')) {
      const e = JSON.parse(line) as ApiEvent;
      // Query values never reach the event: only keys, and id-like values as objects.
      for (const o of e.objects) if (o.in === 'query') assert.match(o.name, /id$/i);
      assert.ok(!e.request.path.includes('?'), 'the path carries no query string');
      // Absolute-form targets are reduced to their path; no userinfo in path or host.
      assert.ok(e.request.path.startsWith('/') && !e.request.path.includes('@'), e.request.path);
      assert.ok(!e.request.host?.includes('@'), `host ${e.request.host}`);
    }
  });
}

test('apiwatch parse errors on stderr leak no secret (unparseable records with secrets)', async () => {
  const file = join(work, 'garbage.log');
  writeFileSync(
    file,
    `not a log line Authorization: Bearer ${S.opaqueBearer} ?api_key=${S.queryApiKey}\n{"broken json", "password": "${S.queryPassword}"\n`,
  );
  const out = await runCli(['parse', '--format', 'nginx', file], {
    APIWATCH__DATADIR: join(work, 'data-parse'),
  });
  assert.match(out.stderr, /INGEST_PARSE/);
  assertNoSecret('stderr', out.stderr, [S.opaqueBearer, S.queryApiKey, S.queryPassword]);
  assertNoSecret('stdout', out.stdout, [S.opaqueBearer, S.queryApiKey, S.queryPassword]);
});

// ---- ingest server: invalid records go to the DLQ, redacted ---------------------------------

const TOKEN = 'redaction-test-collector-token';
const bus = new MemoryBus(1000);
const dlq: DlqRecord[] = [];
let base = '';
let closeServer: () => Promise<void> = async () => {};

before(async () => {
  await bus.subscribe('dlq', 'redaction-test', async (batch) => {
    for (const m of batch) dlq.push(m.value);
  });
  await bus.subscribe('events', 'redaction-test', async () => {});
  const server = await createIngestServer({
    host: '127.0.0.1',
    port: 0,
    maxBodyBytes: 1024 * 1024,
    maxRecordsPerRequest: 1000,
    collectors: [{ id: 'edge', tokenSha256: sha256Hex(TOKEN) }],
    bus,
    log: createLogger('silent'),
  });
  base = server.url();
  closeServer = () => server.app.close();
});
after(async () => {
  await closeServer();
  await bus.close();
});

test('ingest DLQ: invalid records carrying secrets are stored redacted, and the response leaks nothing', async () => {
  const invalidEvents = [
    // Schema-invalid canonical events (a gateway record posted as if canonical).
    {
      schemaVersion: 1,
      request: { headers: { authorization: `Bearer ${S.bearerJwt}`, 'x-api-key': S.apiKeyHeader } },
    },
    { id: 'x', identity: { apiKey: S.awsApiKey }, cookie: `sessionid=${S.cookieSession}` },
    JSON.parse(
      readFileSync(join(FIXTURES, 'kong/log-serializer-0.x-legacy-loggly-docs-sample-apikey.json'), 'utf8'),
    ),
    { url: `/reset?${query}`, note: `Authorization: Basic ${basic}` },
    { message: JSON.stringify({ apiKey: S.awsApiKey, token: S.opaqueBearer }) },
  ];
  const lines = [
    ...invalidEvents.map((o) => JSON.stringify(o)),
    // Not JSON at all: the framing error path.
    `GET /x?access_token=${S.queryAccessToken}&sig=${S.querySig} Authorization: Bearer ${S.opaqueBearer}`,
  ];
  dlq.length = 0;
  const res = await fetch(`${base}/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson' },
    body: `${lines.join('\n')}\n`,
  });
  const responseText = await res.text();
  assert.equal(res.status, 400);
  await bus.flush();
  await waitFor(
    'the invalid records in the DLQ',
    () => (dlq.length >= lines.length ? true : undefined),
    5000,
  );
  assert.equal(dlq.length, lines.length, 'every invalid record reaches the DLQ');
  const stored = JSON.stringify(dlq);
  assertNoSecret('DLQ', stored, SECRETS);
  assertNoSecret('HTTP response', responseText, SECRETS);
  assert.ok(stored.includes('[REDACTED]'));

  // OTLP: a span that cannot be read (no start time) goes to the DLQ with its attributes; the
  // credential headers are {key, value} pairs, redacted by name.
  dlq.length = 0;
  const otlp = await fetch(`${base}/v1/traces`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(otlpHeaders(false)),
  });
  const otlpText = await otlp.text();
  assert.equal(otlp.status, 200, otlpText);
  await bus.flush();
  await waitFor('the unreadable span in the DLQ', () => (dlq.length >= 1 ? true : undefined), 5000);
  assert.equal(dlq.length, 1, 'the unreadable span is dead-lettered');
  assert.ok(dlq[0]!.raw.includes('http.request.header.x-api-key'), 'the DLQ keeps the span, names included');
  assertNoSecret('OTLP DLQ', JSON.stringify(dlq), [S.otlpApiKey, S.otlpAuthToken]);
  assertNoSecret('OTLP response', otlpText, [S.otlpApiKey, S.otlpAuthToken]);
});

// ---- chDB store: parsed events inserted and read back with SELECT * --------------------------

test('chDB: events parsed from secret-bearing records store no secret (SELECT * over api_events)', async () => {
  const identity = createIdentityContext(Buffer.alloc(32, 3), 'k1');
  const routes = createRouteTemplater();
  const events: ApiEvent[] = [];
  for (const input of inputs) {
    const parser = findParser(input.format);
    if (!parser) continue;
    // The ingest pipeline every entry point runs (parse → identity → routes → redact → validate).
    const pipeline = createIngestPipeline({
      parser,
      identity: identity.forSource(parser.id),
      routes,
      gateway: 'edge-1',
    });
    const { Readable } = await import('node:stream');
    for await (const record of readRecords(Readable.from([`${input.text}\n`]), parser.framing)) {
      events.push(...pipeline.run(record).events);
    }
  }
  assert.ok(events.length >= 5, `expected events from the nginx inputs at least, got ${events.length}`);
  const store = new ChdbStore(join(work, 'chdb'));
  await store.start();
  try {
    await store.insertEvents(events);
    const rows = await store.query('SELECT * FROM api_events');
    assert.equal(rows.length, new Set(events.map((e) => e.id)).size);
    const text = JSON.stringify(rows);
    assertNoSecret('api_events rows', text, SECRETS);
    // The credentials are there as fingerprints: the JWT, API key and opaque bearer calls have them.
    assert.ok(
      rows.some((r) =>
        /^k1:/.test(String(Object.values(r).find((v) => typeof v === 'string' && v.startsWith('k1:')) ?? '')),
      ),
    );
  } finally {
    await store.close();
  }
});
