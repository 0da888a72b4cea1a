import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { syntheticEvents } from '@apiwatch/test';
import { createClient } from '@clickhouse/client';
import { drainPending } from 'chdb';
import { createLogger } from '../log.ts';
import { ChdbStore } from './chdb.ts';
import { ClickHouseStore } from './clickhouse.ts';
import { type HttpEndpoint, startClickhouseHttpEndpoint } from './http-endpoint.ts';
import { loadMigrations } from './migrate.ts';

/**
 * The server driver's suite. There is no ClickHouse server here, so it runs through the official
 * @clickhouse/client against apiwatch's ClickHouse-compatible endpoint over the embedded engine.
 */
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
let dir: string;
let embedded: ChdbStore;
let endpoint: HttpEndpoint;
let server: ClickHouseStore;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'apiwatch-chttp-'));
  embedded = new ChdbStore({ path: join(dir, 'db') });
  await embedded.start();
  endpoint = await startClickhouseHttpEndpoint({
    store: embedded,
    host: '127.0.0.1',
    port: 0,
    users: [
      { name: 'writer', passwordSha256: sha('w-secret'), readonly: false },
      { name: 'grafana', passwordSha256: sha('g-secret'), readonly: true },
    ],
    maxBodyBytes: 64 * 1024 * 1024,
    log: createLogger('silent'),
  });
  server = new ClickHouseStore({
    url: endpoint.url,
    username: 'writer',
    password: 'w-secret',
    database: 'default',
    cluster: '',
    compression: true,
    requestTimeoutMs: 30_000,
    retention: { eventsDays: 30, findingsDays: 365, baselinesDays: 90, auditDays: 730 },
  });
  await server.start();
});

after(async () => {
  await server?.close();
  await endpoint?.close();
  await embedded?.close();
  await drainPending();
  rmSync(dir, { recursive: true, force: true });
});

test('server driver: migrations ran through the client and are idempotent on restart', async () => {
  const rows = await server.query<{ n: string }>('SELECT count() AS n FROM schema_migrations');
  assert.equal(Number(rows[0]!.n), loadMigrations().length);
  const again = new ClickHouseStore({ ...serverOptions(), retention: undefined });
  await again.start();
  await again.close();
  assert.equal(
    Number((await server.query<{ n: string }>('SELECT count() AS n FROM schema_migrations'))[0]!.n),
    loadMigrations().length,
  );
});

function serverOptions() {
  return {
    url: endpoint.url,
    username: 'writer',
    password: 'w-secret',
    database: 'default',
    cluster: '',
    compression: true,
    requestTimeoutMs: 30_000,
  };
}

test('server driver: inserts events with a dedup token once, MVs follow, params bind', async () => {
  const events = syntheticEvents(3000, { seed: 7, startMs: Date.now() - 3_600_000 });
  await server.insertEvents(events, { dedupToken: 'batch-1' });
  await server.insertEvents(events, { dedupToken: 'batch-1' });
  const [c] = await server.query<{ n: string; u: string }>(
    'SELECT count() AS n, uniqExact(id) AS u FROM api_events',
  );
  assert.equal(Number(c!.n), 3000);
  assert.equal(Number(c!.u), 3000);
  const [b] = await server.query<{ r: string }>('SELECT sum(requests) AS r FROM baseline_route_minute');
  assert.equal(Number(b!.r), 3000, 'the MV must not count the deduplicated retry');
  const e0 = events[0]!;
  // api_events keeps sipHash64 of the event id (docs/store.md); readable columns read back as sent.
  const [one] = await server.query<{ route: string; path: string; status: number; trace: string }>(
    'SELECT route, path, status, trace_id AS trace FROM api_events WHERE id = sipHash64({id:String})',
    { id: e0.id },
  );
  assert.equal(one!.route, e0.request.route);
  assert.equal(one!.path, e0.request.path);
  assert.equal(one!.status, e0.response.status);
  assert.equal(one!.trace, e0.trace.traceId ?? '');
  const chdbRows = await embedded.query<{ h: string }>(
    'SELECT hex(id) AS h FROM api_events WHERE id = sipHash64({id:String})',
    { id: e0.id },
  );
  assert.equal(chdbRows.length, 1, 'same rows through both drivers');
});

test('readonly user: SELECT works, writes and DDL are refused with READONLY; wrong password is 516/403', async () => {
  const ro = createClient({ url: endpoint.url, username: 'grafana', password: 'g-secret' });
  try {
    const rs = await ro.query({ query: 'SELECT count() AS n FROM api_events', format: 'JSONEachRow' });
    assert.equal(Number((await rs.json<{ n: string }>())[0]!.n), 3000);
    await assert.rejects(
      () => ro.command({ query: 'CREATE TABLE x (a UInt8) ENGINE = Memory' }),
      (e: Error & { code?: string; type?: string }) => e.code === '164' && e.type === 'READONLY',
    );
    await assert.rejects(
      () => ro.insert({ table: 'findings', values: [{ id: 'x' }], format: 'JSONEachRow' }),
      /readonly/i,
    );
    await assert.rejects(
      () => ro.query({ query: "SELECT * FROM file('/etc/hostname', 'LineAsString')" }),
      (e: Error & { code?: string; type?: string }) => e.code === '497' && e.type === 'ACCESS_DENIED',
    );
  } finally {
    await ro.close();
  }
  const bad = createClient({ url: endpoint.url, username: 'grafana', password: 'nope' });
  await assert.rejects(
    () => bad.query({ query: 'SELECT 1' }),
    (e: Error & { code?: string }) => e.code === '516',
  );
  await bad.close();
  const res = await fetch(`${endpoint.url}/?query=SELECT%201`, {
    headers: { 'X-ClickHouse-User': 'grafana', 'X-ClickHouse-Key': 'nope' },
  });
  assert.equal(res.status, 403);
  assert.equal(res.headers.get('x-clickhouse-exception-code'), '516');
  assert.match(await res.text(), /^Code: 516\. DB::Exception: grafana: Authentication failed/);
});

test('raw protocol: /ping, ?query=, headers, params, default_format, gzip both ways, errors', async () => {
  assert.equal(await (await fetch(`${endpoint.url}/ping`)).text(), 'Ok.\n');
  const auth = { Authorization: `Basic ${Buffer.from('grafana:g-secret').toString('base64')}` };
  const one = await fetch(`${endpoint.url}/?query=SELECT%201`, { headers: auth });
  assert.equal(one.status, 200);
  assert.equal(await one.text(), '1\n');
  assert.equal(one.headers.get('x-clickhouse-format'), 'TabSeparated');
  assert.ok(one.headers.get('x-clickhouse-query-id'));
  assert.ok(one.headers.get('x-clickhouse-timezone'));
  assert.equal(JSON.parse(one.headers.get('x-clickhouse-summary')!).read_rows, '1');

  const p = await fetch(
    `${endpoint.url}/?user=grafana&password=g-secret&param_n=41&default_format=JSONEachRow&query_id=q-1&max_threads=1`,
    {
      method: 'POST',
      body: "SELECT {n:UInt32} + 1 AS v, getSetting('max_threads') AS t",
    },
  );
  assert.equal(p.headers.get('x-clickhouse-query-id'), 'q-1');
  assert.equal(p.headers.get('x-clickhouse-format'), 'JSONEachRow');
  assert.deepEqual(await p.json(), { v: 42, t: 1 });

  const gz = await fetch(`${endpoint.url}/?enable_http_compression=1`, {
    method: 'POST',
    headers: { ...auth, 'Content-Encoding': 'gzip', 'Accept-Encoding': 'gzip' },
    body: gzipSync('SELECT arrayJoin([0, 1, 2]) AS number FORMAT CSV'),
  });
  assert.equal(gz.headers.get('content-encoding'), 'gzip');
  assert.equal(await gz.text(), '0\n1\n2\n');

  const err = await fetch(`${endpoint.url}/`, {
    method: 'POST',
    headers: auth,
    body: 'SELECT * FROM no_such_table',
  });
  assert.equal(err.status, 404);
  assert.equal(err.headers.get('x-clickhouse-exception-code'), '60');
  assert.match(await err.text(), /^Code: 60\. DB::Exception: .*UNKNOWN_TABLE/);
  const multi = await fetch(`${endpoint.url}/`, {
    method: 'POST',
    headers: { 'X-ClickHouse-User': 'writer', 'X-ClickHouse-Key': 'w-secret' },
    body: 'SELECT 1; SELECT 2',
  });
  assert.equal(multi.status, 400);
  const native = await fetch(`${endpoint.url}/?default_format=Native`, {
    method: 'POST',
    headers: auth,
    body: 'SELECT 1 AS x',
  });
  assert.equal(native.headers.get('content-type'), 'application/octet-stream');
  assert.ok((await native.arrayBuffer()).byteLength > 0);
});

test('client insert of JSONEachRow rows and a non-text format (RowBinary via file())', async () => {
  const c = createClient({ url: endpoint.url, username: 'writer', password: 'w-secret' });
  try {
    await c.command({
      query: 'CREATE TABLE IF NOT EXISTS t_rb (a UInt32, s String) ENGINE = MergeTree ORDER BY a',
    });
    await c.insert({
      table: 't_rb',
      values: [
        { a: 1, s: 'x' },
        { a: 2, s: "y'\n" },
      ],
      format: 'JSONEachRow',
    });
    const rb = Buffer.concat([Buffer.from([3, 0, 0, 0, 1]), Buffer.from('z')]);
    const res = await fetch(
      `${endpoint.url}/?query=${encodeURIComponent('INSERT INTO t_rb FORMAT RowBinary')}`,
      {
        method: 'POST',
        headers: { 'X-ClickHouse-User': 'writer', 'X-ClickHouse-Key': 'w-secret' },
        body: rb,
      },
    );
    assert.equal(res.status, 200, await res.clone().text());
    const rows = await (
      await c.query({ query: 'SELECT a, s FROM t_rb ORDER BY a', format: 'JSONEachRow' })
    ).json();
    assert.deepEqual(rows, [
      { a: 1, s: 'x' },
      { a: 2, s: "y'\n" },
      { a: 3, s: 'z' },
    ]);
  } finally {
    await c.close();
  }
});
