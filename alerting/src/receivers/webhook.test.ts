import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { exampleFinding as sampleFinding } from '@apiwatch/core';
import type { WebhookPayload } from '../notification.ts';
import { exampleNotification } from '../testing.ts';
import { webhookPayloadValidator } from '../validate.ts';
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
  rateLimitPerSecond: 0,
});

test('posts the notification signed per Standard Webhooks; the payload matches its published schema', async () => {
  const secret = generateSecret();
  let verified = false;
  let got = null as WebhookPayload | null;
  let id = '';
  const srv = await receiver((req, body, res) => {
    verified = verify(secret, req.headers, body);
    got = JSON.parse(body);
    id = String(req.headers['webhook-id']);
    res.writeHead(204).end();
  });
  const r = createWebhookReceiver(config(srv.url), secret);
  const result = await r.send(exampleNotification({ id: 'n-42' }, [sampleFinding()]));
  srv.close();
  assert.deepEqual(result, { ok: true, status: 204 });
  assert.equal(verified, true);
  assert.equal(id, 'n-42', 'webhook-id is the notification id');
  assert.ok(webhookPayloadValidator.check(got), webhookPayloadValidator.explain(got));
  assert.equal(got!.type, 'apiwatch.notification');
  assert.equal(got!.data.findings[0]!.entity.id, '203.0.113.9');
});

test('5xx and 429 are retryable (with Retry-After), other 4xx are permanent, a dead port is retryable; all coded', async () => {
  const statuses = [503, 429, 400, 408];
  const srv = await receiver((_req, _body, res) => {
    const s = statuses.shift()!;
    res.writeHead(s, s === 429 ? { 'retry-after': '7' } : {}).end();
  });
  const r = createWebhookReceiver(config(srv.url), null);
  const n = exampleNotification();
  const a = await r.send(n);
  const b = await r.send(n);
  const c = await r.send(n);
  const d = await r.send(n);
  srv.close();
  assert.deepEqual(
    [a.ok, !a.ok && a.retryable, !a.ok && a.status, !a.ok && a.code],
    [false, true, 503, 'ALERT_DELIVERY_SERVER_ERROR'],
  );
  assert.equal(!b.ok && b.retryAfterMs, 7000);
  assert.equal(!b.ok && b.code, 'ALERT_DELIVERY_RATE_LIMITED');
  assert.deepEqual([c.ok, !c.ok && c.retryable, !c.ok && c.code], [false, false, 'ALERT_DELIVERY_REJECTED']);
  assert.deepEqual([d.ok, !d.ok && d.retryable], [false, true], '408 is retryable');
  const dead = await createWebhookReceiver(config('http://127.0.0.1:9/none'), null).send(n);
  assert.deepEqual([!dead.ok && dead.retryable, !dead.ok && dead.code], [true, 'ALERT_DELIVERY_NETWORK']);
});
