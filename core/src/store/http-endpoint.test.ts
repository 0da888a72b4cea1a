import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import zlib from 'node:zlib';
import { syntheticEvents, waitFor } from '@apiwatch/test';
import { createClient } from '@clickhouse/client';
import { drainPending } from 'chdb';
import { createLogger } from '../log.ts';
import { ChdbStore } from './chdb.ts';
import { type HttpEndpoint, startClickhouseHttpEndpoint } from './http-endpoint.ts';

/**
 * Issue 7 §1: every attack a read-only (and, where it applies, a writing) user of the
 * ClickHouse-compatible endpoint tried, refused with ClickHouse's codes — no file written or
 * read, no outbound connection (a local listener counts them), memory bounded for compression
 * bombs — and the queries Grafana's ClickHouse data source and @clickhouse/client really send,
 * still answered.
 */
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const RO = { 'X-ClickHouse-User': 'grafana', 'X-ClickHouse-Key': 'g-secret' };
const RW = { 'X-ClickHouse-User': 'writer', 'X-ClickHouse-Key': 'w-secret' };
const MAX_BODY = 8 * 1024 * 1024;

let dir: string;
let store: ChdbStore;
let endpoint: HttpEndpoint;
let listener: Server;
let listenerPort: number;
let connections = 0;
let secretFile: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'apiwatch-chsec-'));
  store = new ChdbStore({ path: join(dir, 'db'), stagingRoot: dir });
  await store.start();
  await store.insertEvents(syntheticEvents(500, { seed: 3, startMs: Date.now() - 600_000 }));
  endpoint = await startClickhouseHttpEndpoint({
    store,
    host: '127.0.0.1',
    port: 0,
    users: [
      { name: 'writer', passwordSha256: sha('w-secret'), readonly: false },
      { name: 'grafana', passwordSha256: sha('g-secret'), readonly: true },
    ],
    maxBodyBytes: MAX_BODY,
    log: createLogger('silent'),
  });
  listener = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', () => r()));
  listenerPort = (listener.address() as { port: number }).port;
  secretFile = join(dir, 'secret.key');
  writeFileSync(secretFile, 'TOP-SECRET-FINGERPRINT-KEY\n', { mode: 0o600 });
});

after(async () => {
  await endpoint?.close();
  await store?.close();
  await new Promise<void>((r) => listener.close(() => r()));
  await drainPending();
  rmSync(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  code: string | null;
  text: string;
}

async function post(
  body: string | Buffer,
  headers: Record<string, string> = RO,
  query = '',
): Promise<Answer> {
  const res = await fetch(`${endpoint.url}/${query}`, { method: 'POST', headers, body });
  return { status: res.status, code: res.headers.get('x-clickhouse-exception-code'), text: await res.text() };
}

async function get(sql: string, headers: Record<string, string> = RO, extra = ''): Promise<Answer> {
  const res = await fetch(`${endpoint.url}/?query=${encodeURIComponent(sql)}${extra}`, { headers });
  return { status: res.status, code: res.headers.get('x-clickhouse-exception-code'), text: await res.text() };
}

function refused(a: Answer, code: number, status: number, what: string): void {
  assert.equal(a.code, String(code), `${what}: ${a.text}`);
  assert.equal(a.status, status, `${what}: ${a.text}`);
  assert.match(a.text, new RegExp(`^Code: ${code}\\. DB::Exception: `), what);
}

describe('attacks are refused', () => {
  test('INTO OUTFILE (POST and GET, TRUNCATE/APPEND, under EXPLAIN/SHOW) writes no file, for readers and writers', async () => {
    let n = 0;
    for (const tail of ['', ' TRUNCATE', ' APPEND']) {
      for (const headers of [RO, RW]) {
        const target = join(dir, `out-${n++}`);
        const sql = `SELECT 1 INTO OUTFILE '${target}'${tail} FORMAT RawBLOB`;
        refused(await post(sql, headers), 358, 403, sql);
        refused(await get(sql, headers), 358, 403, `GET ${sql}`);
        assert.equal(existsSync(target), false, `${target} must not exist`);
      }
    }
    const show = join(dir, 'out-show');
    refused(await post(`SHOW TABLES INTO OUTFILE '${show}'`), 358, 403, 'SHOW … INTO OUTFILE');
    assert.equal(existsSync(show), false);
    const meta = join(store.path, 'metadata', 'default', 'evil.sql');
    refused(await post(`SELECT 'x' INTO OUTFILE '${meta}' FORMAT RawBLOB`, RW), 358, 403, 'into metadata/');
    assert.equal(existsSync(meta), false);
  });

  test('dictionaries: EXECUTABLE sources, dictGet and the dictionary as a table', async () => {
    const marker = join(dir, 'pwned');
    refused(
      await post(
        `CREATE DICTIONARY d_exec (a UInt64) PRIMARY KEY a SOURCE(EXECUTABLE(COMMAND 'touch ${marker}' FORMAT TSV)) LAYOUT(FLAT())`,
        RW,
      ),
      497,
      403,
      'EXECUTABLE dictionary',
    );
    refused(
      await post(
        "CREATE DICTIONARY d_remote (a UInt64) PRIMARY KEY a SOURCE(CLICKHOUSE(HOST '127.0.0.1' PORT 9000 TABLE 'x')) LAYOUT(FLAT())",
        RW,
      ),
      497,
      403,
      'remote CLICKHOUSE dictionary',
    );
    refused(
      await post("SELECT dictGet('credentials_dict', 'fingerprint', toUInt64(1))"),
      446,
      403,
      'dictGet',
    );
    refused(
      await post("SELECT dictGetOrDefault('credentials_dict', 'fingerprint', 1, '')"),
      446,
      403,
      'dictGetOrDefault',
    );
    refused(await post('SELECT * FROM credentials_dict'), 497, 403, 'dictionary as a table');
    refused(await post("SELECT * FROM dictionary('credentials_dict')"), 497, 403, 'dictionary()');
    refused(await post("SELECT joinGet('x', 'y', 1)"), 446, 403, 'joinGet');
    assert.equal(existsSync(marker), false);
  });

  test('file(): table function (also under DESCRIBE, subqueries, CTEs, JOINs) and scalar function read nothing', async () => {
    const f = `'${secretFile}'`;
    const attempts = [
      `DESCRIBE file(${f}, 'TSVWithNames')`,
      `DESC TABLE file(${f}, 'LineAsString')`,
      `SELECT * FROM file(${f}, 'LineAsString')`,
      `SELECT file(${f})`,
      `SELECT * FROM (SELECT * FROM file(${f}, 'LineAsString'))`,
      `WITH s AS (SELECT * FROM file(${f}, 'LineAsString')) SELECT * FROM s`,
      `SELECT * FROM system.one AS o JOIN file(${f}, 'LineAsString') AS s ON 1`,
      `SELECT 1 WHERE 'x' IN (SELECT * FROM file(${f}, 'LineAsString'))`,
      `DESCRIBE (SELECT * FROM file(${f}, 'LineAsString'))`,
      `EXPLAIN SELECT * FROM file(${f}, 'LineAsString')`,
    ];
    for (const sql of attempts) {
      const a = await post(sql);
      assert.ok(a.status === 403, `${sql}: ${a.status} ${a.text}`);
      assert.ok(a.code === '497' || a.code === '446', `${sql}: ${a.text}`);
      assert.doesNotMatch(a.text, /TOP-SECRET/, sql);
    }
  });

  test('SSRF: url(), s3(), remote(), mysql(), … in every position make no connection', async () => {
    const target = `127.0.0.1:${listenerPort}`;
    const reader = [
      `DESC url('http://${target}/', CSV, headers('Authorization' = 'x'))`,
      `SELECT * FROM url('http://${target}/', CSV, 'a String')`,
      `SELECT * FROM s3('http://${target}/bucket/key.csv', 'CSV', 'a String')`,
      `SELECT * FROM remote('${target}', system.one)`,
      `SELECT * FROM remoteSecure('${target}', system.one)`,
      `SELECT * FROM mysql('${target}', 'db', 't', 'u', 'p')`,
      `SELECT * FROM postgresql('${target}', 'db', 't', 'u', 'p')`,
      `SELECT * FROM urlCluster('default', 'http://${target}/', CSV, 'a String')`,
      `SELECT * FROM azureBlobStorage('http://${target}/', 'c', 'b', 'CSV')`,
      `WITH x AS (SELECT * FROM url('http://${target}/', CSV, 'a String')) SELECT * FROM x`,
      `SELECT * FROM system.one JOIN url('http://${target}/', CSV, 'a String') AS u ON 1`,
      `SELECT 1 FROM system.one WHERE 1 IN (SELECT count() FROM url('http://${target}/', CSV, 'a String'))`,
      `SELECT (SELECT count() FROM url('http://${target}/', CSV, 'a String'))`,
    ];
    for (const sql of reader) {
      const a = await post(sql);
      refused(a, 497, 403, sql);
    }
    const writer = [
      `INSERT INTO FUNCTION url('http://${target}/', CSV, 'a String') SELECT 'x'`,
      `CREATE TABLE t_url (a String) ENGINE = URL('http://${target}/', CSV)`,
      `CREATE TABLE t_url2 AS url('http://${target}/', CSV, 'a String')`,
      `CREATE TABLE t_s3 (a String) ENGINE = S3('http://${target}/b/k', 'CSV')`,
      `CREATE DATABASE evil ENGINE = MySQL('${target}', 'db', 'u', 'p')`,
      `INSERT INTO findings SELECT * FROM url('http://${target}/', JSONEachRow)`,
    ];
    for (const sql of writer) {
      const a = await post(sql, RW);
      assert.equal(a.status, 403, `${sql}: ${a.text}`);
    }
    // A canary connection made now reaches the listener after any a statement made (each ran and
    // was answered before it), so once the canary is counted nothing else can still arrive.
    const before = connections;
    const canary = connect(listenerPort, '127.0.0.1');
    await waitFor('the canary connection', () => (connections > before ? true : undefined), 5000);
    canary.destroy();
    assert.equal(connections, 1, 'no request but the canary may reach the listener');
  });

  test('what the home-made lexer missed: nested comments, $$ strings, line breaks in names', async () => {
    // ClickHouse nests /* */ comments: the statement here is the DROP.
    refused(await post('/* /* */ SELECT 1 */ DROP TABLE findings'), 164, 403, 'nested comment');
    for (const sql of [
      "SELECT $$'$$; DROP TABLE findings; SELECT $$'$$",
      'SELECT $$a$$; DROP TABLE findings',
      'SELECT 1; DROP TABLE findings',
      "SELECT 1 /* ; */ ; SELECT 'x'",
    ]) {
      for (const headers of [RO, RW]) refused(await post(sql, headers), 62, 400, sql);
    }
    // A name holding line breaks cannot splice lines into the parse tree the policy reads.
    refused(
      await post('SELECT 1 AS `x\n      TableIdentifier system.one` FROM system.one'),
      497,
      403,
      'line break in an alias',
    );
    const still = await post(
      "SELECT count() FROM system.tables WHERE database = 'default' AND name = 'findings'",
    );
    assert.equal(still.text, '1\n', 'findings must still exist');
  });

  test('tables outside the apiwatch database and the allowed system tables', async () => {
    for (const sql of [
      'SELECT * FROM system.processes',
      'SELECT query FROM system.query_log',
      'SELECT * FROM system.users',
      'SELECT * FROM system.named_collections',
      'SELECT * FROM `system`.`disks`',
      'SELECT 1 IN system.processes',
      'SELECT * FROM {t:Identifier}',
    ]) {
      const extra = sql.includes('{t:') ? '?param_t=system.processes' : '';
      refused(await post(sql, RO, extra), 497, 403, sql);
    }
    refused(await post('SELECT 1', RO, '?database=system'), 497, 403, 'database=system');
    refused(
      await post('SELECT 1', RO, `?default_format=${encodeURIComponent('JSON; DROP TABLE findings')}`),
      73,
      404,
      'a format name that is not one',
    );
    refused(await post('SHOW PROCESSLIST'), 164, 403, 'SHOW PROCESSLIST');
    refused(await post('SHOW PROCESSLIST', RW), 497, 403, 'SHOW PROCESSLIST (writer)');
  });

  test('writes and settings: READONLY is 403 with code 164; limits cannot be lifted', async () => {
    for (const sql of [
      'INSERT INTO findings (id) SELECT 1',
      'DROP TABLE findings',
      'SET max_memory_usage = 0',
      'CREATE TABLE x (a UInt8) ENGINE = Memory',
      'SYSTEM SHUTDOWN',
      'KILL QUERY WHERE 1',
      'GRANT ALL ON *.* TO default',
    ]) {
      refused(await post(sql), 164, 403, sql);
    }
    refused(
      await post('DROP TABLE findings', RO, '?readonly=0'),
      164,
      403,
      'readonly=0 cannot lift readonly',
    );
    for (const [q, what] of [
      ['?max_memory_usage=0', 'max_memory_usage=0'],
      ['?max_execution_time=0', 'max_execution_time=0'],
      ['?max_execution_time=100000', 'max_execution_time above the cap'],
      ['?max_result_bytes=0', 'max_result_bytes=0'],
      ['?allow_ddl=1', 'allow_ddl'],
      ['?dialect=kusto', 'dialect'],
      [`?output_format_schema=${encodeURIComponent(join(dir, 'schema'))}`, 'output_format_schema'],
      ['?max_threads=1000', 'max_threads above the cap'],
    ] as const) {
      refused(await post('SELECT 1', RO, q), 452, 403, what);
      refused(await post('SELECT 1', RW, q), 452, 403, `${what} (writer)`);
    }
    refused(await post('SELECT 1 SETTINGS max_memory_usage = 0'), 452, 403, 'SETTINGS max_memory_usage = 0');
    refused(
      await post('SELECT 1 SETTINGS max_execution_time = 0'),
      452,
      403,
      'SETTINGS max_execution_time = 0',
    );
    refused(
      await post('SELECT * FROM (SELECT 1 SETTINGS max_memory_usage = 0) SETTINGS max_threads = 1'),
      452,
      403,
      'nested SETTINGS',
    );
    // A SETTINGS inside a string literal does not hide the real clause after it.
    refused(
      await post("SELECT ' SETTINGS max_threads = 1' AS s SETTINGS max_memory_usage = 0"),
      452,
      403,
      'SETTINGS after a literal that looks like one',
    );
    refused(
      await post(
        'INSERT INTO findings SETTINGS insert_deduplicate = 1, max_memory_usage = 0 FORMAT JSONEachRow\n{}',
        RW,
      ),
      452,
      403,
      'INSERT … SETTINGS',
    );
    assert.equal(existsSync(join(dir, 'schema')), false);
  });

  test('compression bombs: gzip, deflate and brotli inflate only up to the limit (413), memory stays bounded', async () => {
    const member = zlib.gzipSync(Buffer.alloc(16 * 1024 * 1024), { level: 9 });
    const gzipBomb = Buffer.concat(new Array(64).fill(member)); // 1 GiB inflated
    const deflateBomb = zlib.deflateSync(Buffer.alloc(256 * 1024 * 1024), { level: 9 });
    const brBomb = zlib.brotliCompressSync(Buffer.alloc(256 * 1024 * 1024), {
      params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1 },
    });
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sample = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 5);
    try {
      for (const [encoding, body] of [
        ['gzip', gzipBomb],
        ['deflate', deflateBomb],
        ['br', brBomb],
      ] as const) {
        for (const headers of [RO, RW]) {
          const a = await post(body, { ...headers, 'Content-Encoding': encoding });
          refused(a, 229, 413, `${encoding} bomb`);
        }
      }
    } finally {
      clearInterval(sample);
    }
    const grew = (peak - before) / 1024 / 1024;
    process.stdout.write(`# RSS grew ${grew.toFixed(1)} MiB while six 256 MiB-1 GiB bombs were refused\n`);
    assert.ok(grew < 200, `RSS grew ${grew.toFixed(0)} MiB while 1 GiB bombs were refused`);
    const zstd = (zlib as unknown as { zstdCompressSync?: (b: Buffer) => Buffer }).zstdCompressSync;
    if (zstd) {
      refused(
        await post(zstd(Buffer.alloc(64 * 1024 * 1024)), { ...RO, 'Content-Encoding': 'zstd' }),
        229,
        413,
        'zstd bomb',
      );
    } else {
      refused(
        await post(Buffer.from('x'), { ...RO, 'Content-Encoding': 'zstd' }),
        89,
        415,
        'zstd without Node support',
      );
    }
    // A plain body past the read-only query limit (1 MiB) is refused the same way.
    refused(await post(`SELECT '${'x'.repeat(1100 * 1024)}'`), 229, 413, 'oversized query text');
    // A gzip body that is not gzip.
    refused(
      await post(Buffer.from('not gzip'), { ...RO, 'Content-Encoding': 'gzip' }),
      271,
      400,
      'corrupt gzip',
    );
  });
});

describe('legitimate clients still work', () => {
  test('Grafana ClickHouse data source: schema browsing, functions, version, SETTINGS max_execution_time', async () => {
    const version = await post('SELECT version()');
    assert.equal(version.status, 200);
    assert.match(version.text, /^\d+\.\d+/);
    const dbs = await post('SHOW DATABASES');
    assert.equal(dbs.status, 200, dbs.text);
    assert.match(dbs.text, /^default$/m);
    for (const sql of ['SHOW TABLES', 'SHOW TABLES FROM "default"']) {
      const t = await post(sql);
      assert.equal(t.status, 200, `${sql}: ${t.text}`);
      assert.match(t.text, /^api_events$/m, sql);
    }
    const desc = await post('DESC TABLE "default"."api_events"');
    assert.equal(desc.status, 200, desc.text);
    assert.match(desc.text, /^route\tLowCardinality\(String\)/m);
    for (const sql of [
      "SELECT name, type, table FROM system.columns WHERE database IN ('default')",
      "SELECT name, type, table FROM system.columns WHERE database IN ('default') AND table = 'api_events'",
      'SELECT name FROM system.databases',
      "SELECT name, engine FROM system.tables WHERE database = 'default'",
      'SELECT name, is_aggregate, case_insensitive, alias_to, origin, description, syntax, arguments, returned_value, examples, categories FROM system.functions LIMIT 10000',
      'SELECT DISTINCT arrayJoin(mapKeys(map(\'a\', 1))) AS keys FROM "default"."api_events" LIMIT 1000',
      'SELECT count() FROM "default"."api_events" SETTINGS max_execution_time=10',
      'SELECT timezone()',
    ]) {
      const a = await post(`${sql} FORMAT JSON`);
      assert.equal(a.status, 200, `${sql}: ${a.text}`);
      assert.ok(JSON.parse(a.text).rows >= 1, sql);
    }
    // A dashboard panel: time series over apiwatch tables, CTE, subquery, join, the
    // credential_fingerprint ALIAS (which reads its dictionary inside the table).
    const panel = await post(
      `WITH top AS (SELECT route, count() AS n FROM api_events GROUP BY route ORDER BY n DESC LIMIT 5)
       SELECT toStartOfMinute(e.ts) AS t, e.route, count() AS c, any(e.credential_fingerprint) AS f
       FROM api_events AS e INNER JOIN top ON e.route = top.route
       WHERE e.ts >= now() - INTERVAL 1 DAY AND e.route IN (SELECT route FROM top)
       GROUP BY t, e.route ORDER BY t FORMAT JSONEachRow`,
    );
    assert.equal(panel.status, 200, panel.text);
    assert.ok(panel.text.trim().split('\n').length >= 1);
    for (const sql of [
      'EXISTS TABLE api_events',
      'EXPLAIN SELECT count() FROM api_events',
      'SELECT * FROM findings LIMIT 1',
      'SELECT 1 UNION ALL SELECT 2',
      'SHOW CREATE TABLE api_events',
      'SELECT sleep(0.01)',
    ]) {
      const a = await post(sql);
      assert.equal(a.status, 200, `${sql}: ${a.text}`);
    }
  });

  test('formats, query parameters, database, default_format and compression both ways', async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['SELECT 1 AS x FORMAT JSON', 'application/json', /"data":\s*\[\s*\{\s*"x": 1/],
      ['SELECT 1 AS x FORMAT JSONEachRow', 'application/json', /^\{"x":1\}\n$/],
      ['SELECT 1 AS x FORMAT TabSeparatedWithNamesAndTypes', 'text/tab-separated-values', /^x\nUInt8\n1\n$/],
      ['SELECT 1 AS x FORMAT CSVWithNames', 'text/csv', /^"x"\n1\n$/],
    ];
    for (const [sql, type, body] of cases) {
      const res = await fetch(`${endpoint.url}/`, { method: 'POST', headers: RO, body: sql });
      assert.equal(res.status, 200);
      assert.ok(res.headers.get('content-type')?.startsWith(type), sql);
      assert.match(await res.text(), body, sql);
    }
    const native = await fetch(`${endpoint.url}/?default_format=Native&database=default`, {
      method: 'POST',
      headers: RO,
      body: 'SELECT 1 AS x',
    });
    assert.equal(native.status, 200);
    assert.equal(native.headers.get('x-clickhouse-format'), 'Native');
    // What clickhouse-go (Grafana's driver, protocol http) sends: Basic auth, database, its
    // settings, default_format=Native and client_protocol_version on every request.
    const go = await fetch(
      `${endpoint.url}/?database=default&max_execution_time=60&default_format=Native&client_protocol_version=54460`,
      {
        method: 'POST',
        headers: { Authorization: `Basic ${Buffer.from('grafana:g-secret').toString('base64')}` },
        body: 'SELECT toStartOfMinute(ts) AS time, count() AS requests FROM api_events WHERE ts >= now() - INTERVAL 1 HOUR GROUP BY time ORDER BY time',
      },
    );
    assert.equal(go.status, 200, await go.clone().text());
    assert.ok((await go.arrayBuffer()).byteLength > 0);
    const p = await get(
      'SELECT {n:UInt32} + 1 AS v, {s:String} AS s, count() > 0 AS any FROM {t:Identifier}',
      RO,
      `&param_n=41&param_s=${encodeURIComponent("it's")}&param_t=api_events&default_format=JSONEachRow&database=default`,
    );
    assert.equal(p.status, 200, p.text);
    assert.deepEqual(JSON.parse(p.text), { v: 42, s: "it's", any: 1 });
    for (const encoding of ['gzip', 'deflate', 'br'] as const) {
      const compressed =
        encoding === 'gzip'
          ? zlib.gzipSync('SELECT count() FROM api_events')
          : encoding === 'deflate'
            ? zlib.deflateSync('SELECT count() FROM api_events')
            : zlib.brotliCompressSync('SELECT count() FROM api_events');
      const res = await fetch(`${endpoint.url}/?enable_http_compression=1`, {
        method: 'POST',
        headers: { ...RO, 'Content-Encoding': encoding, 'Accept-Encoding': encoding },
        body: compressed,
      });
      assert.equal(res.status, 200, encoding);
      assert.equal(res.headers.get('content-encoding'), encoding);
      assert.equal(await res.text(), '500\n', encoding);
    }
  });

  test('@clickhouse/client as a read-only user: ping, query params, settings, compression', async () => {
    const c = createClient({
      url: endpoint.url,
      username: 'grafana',
      password: 'g-secret',
      database: 'default',
      compression: { request: true, response: true },
      clickhouse_settings: { output_format_json_quote_64bit_integers: 1, max_execution_time: 30 },
    });
    try {
      assert.equal((await c.ping()).success, true);
      const rs = await c.query({
        query:
          'SELECT route, count() AS n FROM api_events WHERE status >= {min:UInt16} GROUP BY route ORDER BY n DESC',
        query_params: { min: 100 },
        format: 'JSONEachRow',
      });
      const rows = await rs.json<{ route: string; n: string }>();
      assert.ok(rows.length > 0);
      assert.equal(typeof rows[0]!.n, 'string', '64-bit integers quoted as asked');
      const meta = await c.query({
        query: 'SELECT name FROM system.tables WHERE database = currentDatabase()',
        format: 'JSON',
      });
      assert.ok((await meta.json<{ name: string }>()).data.some((r) => r.name === 'findings'));
      await assert.rejects(
        () => c.command({ query: 'TRUNCATE TABLE findings' }),
        (e: Error & { code?: string; type?: string }) => e.code === '164' && e.type === 'READONLY',
      );
    } finally {
      await c.close();
    }
  });
});
