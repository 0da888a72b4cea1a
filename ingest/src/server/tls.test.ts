import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { buildEvent, createLogger, MemoryBus } from '@apiwatch/core';
import { sha256Hex } from './auth.ts';
import { createIngestServer } from './ingest.ts';

const dir = mkdtempSync(join(tmpdir(), 'apiwatch-tls-'));
const pem = (name: string) => join(dir, name);
function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

let base = '';
let close: () => Promise<void>;
const bus = new MemoryBus(100);
const TOKEN = 'tls-collector-token';

before(async () => {
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=apiwatch-test-ca',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
  );
  for (const [name, cn, ext] of [
    ['server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1'],
    ['client', 'edge-collector', 'subjectAltName=URI:spiffe://example.org/collector/edge'],
  ] as const) {
    openssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      `/CN=${cn}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
    );
    writeFileSync(pem(`${name}.ext`), `${ext}\n`);
    openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '1',
      '-out',
      `${name}.crt`,
      '-extfile',
      `${name}.ext`,
    );
  }
  await bus.subscribe('events', 't', async () => {});
  const server = await createIngestServer({
    host: '127.0.0.1',
    port: 0,
    maxBodyBytes: 1 << 20,
    maxRecordsPerRequest: 1000,
    collectors: [{ id: 'edge', tokenSha256: sha256Hex(TOKEN) }],
    rateLimit: { eventsPerSecond: 1, burstEvents: 3 },
    tls: {
      certFile: pem('server.crt'),
      keyFile: pem('server.key'),
      clientCaFile: pem('ca.crt'),
      requireClientCert: true,
    },
    bus,
    log: createLogger('silent'),
  });
  base = server.url();
  close = () => server.app.close();
});
after(async () => {
  await close?.();
  await bus.close();
});

function post(
  body: string,
  withClientCert: boolean,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${base}/v1/events`,
      {
        method: 'POST',
        ca: readFileSync(pem('ca.crt')),
        ...(withClientCert
          ? { cert: readFileSync(pem('client.crt')), key: readFileSync(pem('client.key')) }
          : {}),
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson' },
      },
      (res) => {
        let text = '';
        res.on('data', (c) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const line = (i: number) =>
  JSON.stringify(
    buildEvent({
      ts: 1_700_000_000_000 + i,
      method: 'GET',
      path: '/',
      status: 200,
      sourceKind: 't',
      raw: String(i),
    }),
  );

test('mTLS: a collector with a certificate from the CA gets in; one without is refused at the handshake', async () => {
  assert.match(base, /^https:/);
  const ok = await post(line(1), true);
  assert.equal(ok.status, 200, ok.body);
  await assert.rejects(post(line(2), false), /certificate|socket hang up|ECONNRESET|alert/i);
});

test('rate limit per collector: over the bucket, 429 with Retry-After and nothing published', async () => {
  const over = await post([line(3), line(4), line(5)].join('\n'), true);
  assert.equal(over.status, 429, over.body);
  assert.ok(Number(over.headers['retry-after']) >= 1);
  assert.match(over.body, /INGEST_BACKPRESSURE/);
});
