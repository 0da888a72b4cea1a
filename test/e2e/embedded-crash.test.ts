import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateSecret, verify } from '@apiwatch/alerting';
import { buildEvent, ChdbStore } from '@apiwatch/core';
import { type ApiwatchProcess, freePort, startApiwatch, waitFor, waitUntilHealthy } from '../src/index.ts';

/**
 * Issue 7 §4: in the embedded default, a 2xx from ingest means the events are on disk, and a
 * notification the queue accepted is delivered — across `kill -9`. The real CLI is started,
 * loaded, killed with SIGKILL and started again on the same data directory.
 */

interface Server {
  app: ApiwatchProcess;
  url: string;
  token: string;
}

async function startServer(dataDir: string, port: number, env: NodeJS.ProcessEnv = {}): Promise<Server> {
  const app = startApiwatch(['start'], {
    APIWATCH__DATADIR: dataDir,
    APIWATCH__INGEST__LISTEN__PORT: String(port),
    APIWATCH_LOG_FORMAT: 'json',
    ...env,
  });
  const url = `http://127.0.0.1:${port}`;
  await waitUntilHealthy(url, app.output);
  return { app, url, token: readFileSync(join(dataDir, 'collector-token'), 'utf8').trim() };
}

async function kill9(app: ApiwatchProcess): Promise<void> {
  app.child.kill('SIGKILL');
  await app.exited;
}

/** Recent, unique events (event times inside store retention). */
function batchOf(prefix: string, from: number, n: number): { ids: string[]; body: string } {
  const now = Date.now();
  const ids: string[] = [];
  const lines: string[] = [];
  for (let i = from; i < from + n; i++) {
    const e = buildEvent({
      ts: now - 60_000 + (i % 1000),
      method: 'GET',
      path: `/api/items/${i % 500}`,
      status: 200,
      sourceKind: 'crash-test',
      raw: `${prefix}:${i}`,
      clientIp: `198.51.100.${i % 200}`,
    });
    ids.push(e.id);
    lines.push(JSON.stringify(e));
  }
  return { ids, body: lines.join('\n') };
}

/** POSTs one batch; 'acked' when ingest answered 200 with every event accepted (acknowledged). */
async function post(s: Server, body: string, n: number): Promise<string> {
  try {
    const r = await fetch(`${s.url}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/x-ndjson' },
      body,
    });
    const text = await r.text();
    if (r.status === 429) return 'throttled';
    if (r.status !== 200) return `HTTP ${r.status}: ${text.slice(0, 200)}`;
    const accepted = (JSON.parse(text) as { accepted: number }).accepted;
    return accepted === n ? 'acked' : `accepted ${accepted} of ${n}`;
  } catch (e) {
    // The connection died (with the process, or a client timeout): not acknowledged.
    return `no answer: ${(e as Error & { cause?: { code?: string } }).cause?.code ?? (e as Error).message}`;
  }
}

// A 200,000-event burst through the real pipeline, twice restarted: minutes on a loaded machine.
test('SIGKILL under steady ingest and right after a burst: every event answered 2xx is stored after restart', {
  timeout: 1_500_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-crash-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const dataDir = join(dir, 'data');
  const port = await freePort();

  // Phase 1, steady: 4 senders, a 250-event batch each every 50 ms (≈ 20k events/s), then kill -9
  // while requests are in flight.
  let s = await startServer(dataDir, port);
  t.after(() => s.app.stop('SIGKILL'));
  const steadyAcked = new Set<string>();
  let steadyUnacked = 0;
  let next = 0;
  let stop = false;
  const sender = async () => {
    while (!stop) {
      const b = batchOf('steady', next, 250);
      next += 250;
      const outcome = await post(s, b.body, 250);
      if (outcome === 'acked') for (const id of b.ids) steadyAcked.add(id);
      else steadyUnacked += 250;
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const senders = [sender(), sender(), sender(), sender()];
  // At least 4 s and 5,000 acknowledged events (a loaded machine takes longer), then the kill.
  const steadyStart = Date.now();
  while (Date.now() - steadyStart < 4000 || (steadyAcked.size < 5000 && Date.now() - steadyStart < 90_000))
    await new Promise((r) => setTimeout(r, 100));
  await kill9(s.app);
  stop = true;
  await Promise.all(senders);
  assert.ok(steadyAcked.size >= 5000, `steady phase acknowledged ${steadyAcked.size} events`);

  // Phase 2, burst: 200,000 events as fast as ingest takes them (429s are retried, as a
  // collector does), then kill -9 the moment the last one is acknowledged.
  s = await startServer(dataDir, port);
  const burstAcked = new Set<string>();
  const burstFailures: string[] = [];
  const BURST = 200_000;
  const PER_REQUEST = 5000;
  const bodies: Array<{ ids: string[]; body: string }> = [];
  for (let i = 0; i < BURST; i += PER_REQUEST) bodies.push(batchOf('burst', i, PER_REQUEST));
  let cursor = 0;
  const burster = async () => {
    for (let i = cursor++; i < bodies.length; i = cursor++) {
      // As a collector does: 429s and failures are sent again; only a 200 counts as acknowledged.
      for (let attempt = 1; ; attempt++) {
        const outcome = await post(s, bodies[i]!.body, PER_REQUEST);
        if (outcome === 'acked') {
          for (const id of bodies[i]!.ids) burstAcked.add(id);
          break;
        }
        if (outcome !== 'throttled') burstFailures.push(outcome);
        assert.ok(
          attempt < 600 && !outcome.includes('ECONNREFUSED'),
          `burst request ${i} never acknowledged: ${outcome}\n${s.app.output().slice(-4000)}`,
        );
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, burster));
  await kill9(s.app);
  if (burstFailures.length > 0)
    process.stderr.write(
      `burst: ${burstFailures.length} requests sent again after: ${burstFailures.slice(0, 3).join('; ')}\n`,
    );
  assert.equal(burstAcked.size, BURST, `burst failures: ${burstFailures.slice(0, 5).join('; ')}`);

  // Restart: the journal gives the store what it had not inserted; a clean stop drains it.
  s = await startServer(dataDir, port);
  assert.equal(await s.app.stop('SIGTERM'), 0, s.app.output());

  const store = new ChdbStore(join(dataDir, 'chdb'));
  await store.start();
  t.after(() => store.close());
  // api_events keeps sipHash64 of the event id (docs/store.md).
  const missing = async (ids: string[]): Promise<string[]> => {
    const out: string[] = [];
    for (let i = 0; i < ids.length; i += 20_000) {
      const rows = await store.query<{ i: string }>(
        'SELECT i FROM (SELECT arrayJoin({ids:Array(String)}) AS i) WHERE sipHash64(i) NOT IN (SELECT id FROM api_events)',
        { ids: ids.slice(i, i + 20_000) },
      );
      for (const r of rows) out.push(r.i);
    }
    return out;
  };
  const missingSteady = await missing([...steadyAcked]);
  const missingBurst = await missing([...burstAcked]);
  assert.equal(
    missingSteady.length,
    0,
    `${missingSteady.length} of ${steadyAcked.size} acknowledged steady events lost (${steadyUnacked} unacknowledged)`,
  );
  assert.equal(missingBurst.length, 0, `${missingBurst.length} of ${BURST} acknowledged burst events lost`);
  assert.match(s.app.output(), /bus journal: delivering again/, 'the burst was still in flight at the kill');
});

test('SIGKILL while a notification waits for its retry: it is delivered after the restart, once', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-crash-alert-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const secret = generateSecret();
  const deliveries: Array<{ id: string; status: number; finding: string; valid: boolean }> = [];
  const receiver = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      // The receiver is down once (503), then takes everything.
      const status = deliveries.length === 0 ? 503 : 204;
      deliveries.push({
        id: String(req.headers['webhook-id']),
        status,
        finding: (JSON.parse(body) as { data: { findings: Array<{ id: string }> } }).data.findings[0]!.id,
        valid: verify(secret, req.headers, body),
      });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  t.after(() => receiver.close());
  const env = {
    APIWATCH_TEST_WEBHOOK_SECRET: secret,
    // The retry is due 3 s after the 503: the kill comes well before it.
    APIWATCH__ALERT__QUEUE__BACKOFFMS: '3000',
    APIWATCH__ALERT__RECEIVERS: JSON.stringify([
      {
        id: 'crash-test',
        kind: 'webhook',
        url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`,
        secretEnv: 'APIWATCH_TEST_WEBHOOK_SECRET',
      },
    ]),
  };
  const dataDir = join(dir, 'data');
  const port = await freePort();
  let s = await startServer(dataDir, port, env);
  t.after(() => s.app.stop('SIGKILL'));

  // A brute force: failed logins from one address.
  const now = Date.now();
  const burst = Array.from({ length: 12 }, (_, i) =>
    JSON.stringify(
      buildEvent({
        ts: now + i,
        method: 'POST',
        path: '/login',
        status: 401,
        sourceKind: 'crash-test',
        raw: `login:${i}`,
        clientIp: '203.0.113.77',
      }),
    ),
  ).join('\n');
  assert.equal(await post(s, burst, 12), 'acked');
  await waitFor(
    'the first delivery attempt',
    () => (deliveries.length > 0 ? true : undefined),
    30_000,
    s.app.output,
  );
  await kill9(s.app);
  assert.equal(deliveries.length, 1, 'killed before the retry was due');
  assert.equal(deliveries[0]!.status, 503);

  s = await startServer(dataDir, port, env);
  await waitFor(
    'the retried delivery after the restart',
    () => (deliveries.some((d) => d.status === 204) ? true : undefined),
    30_000,
    s.app.output,
  );
  // Anything still to come would come now (a duplicate enqueue from the re-read finding).
  await new Promise((r) => setTimeout(r, 4000));
  assert.equal(await s.app.stop('SIGTERM'), 0, s.app.output());
  const ok = deliveries.filter((d) => d.status === 204);
  assert.equal(ok.length, 1, `delivered once: ${JSON.stringify(deliveries)}`);
  assert.equal(ok[0]!.id, deliveries[0]!.id, 'the same Standard Webhooks id as the first attempt');
  assert.equal(ok[0]!.finding, deliveries[0]!.finding);
  assert.ok(
    deliveries.every((d) => d.valid),
    'every delivery is signed',
  );
  assert.match(s.app.output(), /delivery queue resumes notifications/);
});
