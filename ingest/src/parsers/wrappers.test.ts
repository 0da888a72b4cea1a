import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createIngestPipeline } from '../pipeline.ts';
import { readRecords } from '../sources/records.ts';
import { goldenContext } from './golden/harness.ts';
import { findParser } from './registry.ts';
import { unwrapRecord } from './wrappers.ts';

const captured = join(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/captured');

async function run(format: string, text: string) {
  const parser = findParser(format)!;
  const pipeline = createIngestPipeline({ parser, identity: goldenContext().identity, routes: null });
  const events = [];
  const rejected = [];
  for await (const record of readRecords(Readable.from([text]), parser.framing)) {
    const r = pipeline.run(record, { now: 1 });
    events.push(...r.events);
    rejected.push(...r.rejected);
  }
  return { events, rejected };
}

test('syslog prefixes: RFC 3164 with and without HOSTNAME, RFC 5424, rsyslog file format', () => {
  const line = '127.0.0.1 - - [01/Dec/2026:14:30:43 +0000] "GET /x HTTP/1.1" 200 3 "-" "curl/8"';
  for (const [prefix, host] of [
    ['<190>Dec  1 14:30:43 vm nginx: ', 'vm'],
    ['<134>Dec  1 14:30:51 haproxy[26542]: ', undefined],
    ['Dec 10 12:01:46 voyager haproxy[19312]: ', 'voyager'],
    ['<142>1 2026-12-01T14:30:51.038275+00:00 - haproxy 26542 - - ', undefined],
    ['<142>1 2026-12-01T14:30:51Z edge-1 nginx - - [meta sequenceId="1"] ', 'edge-1'],
    ['2026-12-01T14:30:51.123456+00:00 edge-2 nginx: ', 'edge-2'],
  ] as const) {
    const u = unwrapRecord({ text: `${prefix}${line}` });
    assert.equal(u.wrapper, 'syslog', prefix);
    assert.equal(u.record.text, line, prefix);
    assert.equal(u.host, host, prefix);
  }
  // An access line is not taken for a wrapper.
  assert.equal(unwrapRecord({ text: line }).wrapper, null);
});

test('nginx: captured syslog lines, CRI (P lines joined) and Docker json-file read; error-log lines reported per line', async () => {
  const syslog = await run('nginx', readFileSync(join(captured, 'nginx-1.22-syslog-combined.log'), 'utf8'));
  assert.deepEqual(
    syslog.events.map((e) => [e.request.method, e.request.path, e.response.status, e.source.gateway]),
    [
      ['GET', '/api/items/7', 200, 'vm'],
      ['POST', '/api/orders', 200, 'vm'],
      ['GET', '/missing/file.txt', 404, 'vm'],
    ],
  );
  const plain = await run('nginx', readFileSync(join(captured, 'nginx-1.22-access-combined.log'), 'utf8'));
  const strip = (e: { id: string; source: object }) => ({
    ...e,
    id: '',
    source: { ...e.source, gateway: null },
  });
  assert.deepEqual(
    syslog.events.map(strip),
    plain.events.map(strip),
    'the same events as the file access log',
  );

  const mixed = await run('nginx', readFileSync(join(captured, 'nginx-wrapped-mixed.log'), 'utf8'));
  assert.deepEqual(
    mixed.events.map((e) => e.request.path),
    ['/api/items/7', '/api/items/7', '/api/orders', '/missing/file.txt'],
  );
  assert.deepEqual(
    mixed.rejected.map((r) => r.code),
    ['INGEST_NOT_ACCESS_LOG', 'INGEST_NOT_ACCESS_LOG'],
  );
  assert.match(mixed.rejected[0]!.reason, /nginx error-log line/);

  const docker = await run('nginx', readFileSync(join(captured, 'nginx-docker-json-file.log'), 'utf8'));
  assert.deepEqual(
    docker.events.map((e) => e.request.path),
    ['/api/items/7', '/missing/file.txt'],
  );
  assert.deepEqual(
    docker.rejected.map((r) => r.code),
    ['INGEST_NOT_ACCESS_LOG'],
  );
});

test('envoy reads CRI-wrapped JSON (split lines joined); haproxy reads its captured syslog lines', async () => {
  const envoy = await run('envoy', readFileSync(join(captured, 'envoy-gateway-cri-json.log'), 'utf8'));
  assert.equal(envoy.events.length, 2);
  assert.ok(envoy.events.every((e) => e.request.path === '/get'));
  assert.deepEqual(
    envoy.rejected.map((r) => r.code),
    ['INGEST_NOT_ACCESS_LOG'],
  );
  const haproxy = await run(
    'haproxy',
    readFileSync(join(captured, 'haproxy-2.6-syslog-rfc3164-rfc5424.log'), 'utf8'),
  );
  assert.deepEqual(
    haproxy.events.map((e) => [e.request.path, e.response.status]),
    [
      ['/api/items/7', 200],
      ['/api/items/7', 200],
      ['/nope', 404],
      ['/nope', 404],
    ],
  );
});

test('JSON formats read CRI-wrapped lines line by line (not as one document)', async () => {
  const kong = JSON.stringify({
    request: { method: 'GET', uri: '/k/1', headers: {} },
    response: { status: 200 },
    started_at: 1_700_000_000_000,
  });
  const text = `2026-12-01T14:30:45.1Z stdout F ${kong}\n2026-12-01T14:30:45.2Z stdout F ${kong.replace('/k/1', '/k/2')}\n`;
  const r = await run('kong', text);
  assert.deepEqual(
    r.events.map((e) => e.request.path),
    ['/k/1', '/k/2'],
  );
});

test('Apache combined is nginx combined: the httpd docs example line reads with --format nginx', async () => {
  // https://httpd.apache.org/docs/2.4/logs.html ("Combined Log Format" example).
  const line =
    '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"';
  const r = await run('nginx', `${line}\n${line.replace(' 200 2326 ', ' 304 - ')}\n`);
  assert.deepEqual(
    r.events.map((e) => [e.request.path, e.response.status, e.response.bytes, e.identity.user]),
    [
      ['/apache_pb.gif', 200, 2326, 'frank'],
      ['/apache_pb.gif', 304, null, 'frank'],
    ],
  );
});
