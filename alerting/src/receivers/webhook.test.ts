import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { type Finding, exampleFinding as sampleFinding } from '@apiwatch/core';
import { generateSecret, verify } from './signing.ts';
import { createWebhookReceiver } from './webhook.ts';

async function receiver(
  handler: (req: IncomingMessage, body: string, res: ServerResponse) => void,
): Promise<{ url: string; close(): void }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => handler(req, body, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    close: () => server.close(),
  };
}

const config = (url: string) => ({
  id: 'hook',
  kind: 'webhook' as const,
  url,
  timeoutMs: 2000,
  minSeverity: 'low' as const,
});

test('posts the finding signed per Standard Webhooks; the receiver can verify it', async () => {
  const secret = generateSecret();
  let verified = false;
  let got: { type: string; data: Finding } | null = null;
  const srv = await receiver((req, body, res) => {
    verified = verify(secret, req.headers, body);
    got = JSON.parse(body);
    res.writeHead(204).end();
  });
  const r = createWebhookReceiver(config(srv.url), secret);
  const result = await r.send({ id: 'n1', receiver: 'hook', finding: sampleFinding(), queuedAt: Date.now() });
  srv.close();
  assert.deepEqual(result, { ok: true, status: 204 });
  assert.equal(verified, true);
  assert.equal(got!.type, 'apiwatch.finding');
  assert.equal(got!.data.entity.id, '203.0.113.9');
});

test('5xx and 429 are retryable (with Retry-After), other 4xx are permanent, a dead port is retryable', async () => {
  const statuses = [503, 429, 400];
  const srv = await receiver((_req, _body, res) => {
    const s = statuses.shift()!;
    res.writeHead(s, s === 429 ? { 'retry-after': '7' } : {}).end();
  });
  const r = createWebhookReceiver(config(srv.url), null);
  const n = { id: 'n1', receiver: 'hook', finding: sampleFinding(), queuedAt: Date.now() };
  const a = await r.send(n);
  const b = await r.send(n);
  const c = await r.send(n);
  srv.close();
  assert.deepEqual([a.ok, !a.ok && a.retryable, !a.ok && a.status], [false, true, 503]);
  assert.equal(!b.ok && b.retryAfterMs, 7000);
  assert.deepEqual([c.ok, !c.ok && c.retryable], [false, false]);
  const dead = await createWebhookReceiver(config('http://127.0.0.1:9/none'), null).send(n);
  assert.equal(!dead.ok && dead.retryable, true);
});
