import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zlib from 'node:zlib';
import type { Session } from 'chdb';
import type { Logger } from '../log.ts';
import type { ChdbStore } from './chdb.ts';
import { parseClickhouseError } from './errors.ts';
import {
  parseInsertWithData,
  quoteIdentifier,
  quoteString,
  splitStatements,
  statementKind,
  trailingFormat,
} from './sql-text.ts';

/**
 * A ClickHouse-compatible HTTP interface over the embedded engine, so the official clients
 * (`@clickhouse/client`, clickhouse-go as used by Grafana's data source, curl) can read — and,
 * for users configured so, write — a single-node apiwatch install. It speaks the protocol of
 * ClickHouse's HTTP handler: query in the body or `?query=`, `param_*` binding, `database`,
 * `default_format`, `query_id`, settings as URL parameters, `X-ClickHouse-*` headers, the
 * summary/format/timezone/exception-code response headers and `Code: N. DB::Exception:` bodies,
 * gzip/deflate/br/zstd both ways, `/ping`. What is left out is listed in docs/clickhouse-http.md.
 *
 * Every request runs on a session of its own (sessions on one data directory coexist in chDB,
 * each with its own settings), so a request's settings and `readonly` never leak into another
 * request or into the store's writer.
 */

export interface HttpEndpointUser {
  name: string;
  /** SHA-256 hex of the password. */
  passwordSha256: string;
  /** Only SELECT, WITH, SHOW, DESCRIBE, EXISTS, EXPLAIN; the session also runs with readonly=1. */
  readonly: boolean;
}

export interface HttpEndpointOptions {
  store: ChdbStore;
  host: string;
  port: number;
  users: readonly HttpEndpointUser[];
  maxBodyBytes: number;
  log: Logger;
}

export interface HttpEndpoint {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** URL parameters that belong to the HTTP layer, not to the engine's settings. */
const HTTP_PARAMS = new Set([
  'query',
  'query_id',
  'database',
  'default_format',
  'user',
  'password',
  'quota_key',
  'session_id',
  'session_timeout',
  'session_check',
  'enable_http_compression',
  'http_zlib_compression_level',
  'send_progress_in_http_headers',
  'http_headers_progress_interval_ms',
  'wait_end_of_query',
  'buffer_size',
  'http_response_buffer_size',
  'http_wait_end_of_query',
  'add_http_cors_header',
  'cancel_http_readonly_queries_on_client_close',
  'http_write_exception_in_output_format',
  'readonly',
  'role',
  'default_session_timeout',
  'client_protocol_version',
]);

const READ_KINDS = new Set(['SELECT', 'WITH', 'SHOW', 'DESCRIBE', 'DESC', 'EXISTS', 'EXPLAIN']);
const RAW_INSERT_FORMATS = new Set([
  'JSONEachRow',
  'JSONCompactEachRow',
  'CSV',
  'CSVWithNames',
  'TSV',
  'TabSeparated',
  'TSVWithNames',
  'TabSeparatedWithNames',
]);

/** ClickHouse's exceptionCodeToHTTPStatus, by error name. */
const STATUS_BY_NAME: Array<[number, readonly string[]]> = [
  [401, ['REQUIRED_PASSWORD']],
  [403, ['UNKNOWN_USER', 'WRONG_PASSWORD', 'AUTHENTICATION_FAILED', 'SET_NON_GRANTED_ROLE', 'ACCESS_DENIED']],
  [
    400,
    [
      'BAD_ARGUMENTS',
      'CANNOT_COMPILE_REGEXP',
      'CANNOT_PARSE_TEXT',
      'CANNOT_PARSE_ESCAPE_SEQUENCE',
      'CANNOT_PARSE_QUOTED_STRING',
      'CANNOT_PARSE_DATE',
      'CANNOT_PARSE_DATETIME',
      'CANNOT_PARSE_NUMBER',
      'CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING',
      'CANNOT_PARSE_IPV4',
      'CANNOT_PARSE_IPV6',
      'CANNOT_PARSE_INPUT_ASSERTION_FAILED',
      'CANNOT_PARSE_UUID',
      'DUPLICATE_COLUMN',
      'ILLEGAL_COLUMN',
      'UNKNOWN_ELEMENT_IN_AST',
      'UNKNOWN_TYPE_OF_AST_NODE',
      'THERE_IS_NO_COLUMN',
      'TOO_DEEP_AST',
      'TOO_BIG_AST',
      'UNEXPECTED_AST_STRUCTURE',
      'SYNTAX_ERROR',
      'INCORRECT_DATA',
      'TYPE_MISMATCH',
      'VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE',
    ],
  ],
  [
    404,
    [
      'UNKNOWN_TABLE',
      'UNKNOWN_FUNCTION',
      'UNKNOWN_IDENTIFIER',
      'UNKNOWN_TYPE',
      'UNKNOWN_STORAGE',
      'UNKNOWN_DATABASE',
      'UNKNOWN_SETTING',
      'UNKNOWN_DIRECTION_OF_SORTING',
      'UNKNOWN_AGGREGATE_FUNCTION',
      'UNKNOWN_FORMAT',
      'UNKNOWN_DATABASE_ENGINE',
      'UNKNOWN_TYPE_OF_QUERY',
      'UNKNOWN_ROLE',
    ],
  ],
  [413, ['QUERY_IS_TOO_LARGE']],
  [501, ['NOT_IMPLEMENTED']],
  [503, ['SOCKET_TIMEOUT', 'CANNOT_OPEN_FILE', 'CANNOT_SCHEDULE_TASK']],
  [411, ['HTTP_LENGTH_REQUIRED']],
  [408, ['TIMEOUT_EXCEEDED']],
  [415, ['UNSUPPORTED_MEDIA_TYPE']],
];

export function httpStatusForError(name: string | null): number {
  if (name) for (const [status, names] of STATUS_BY_NAME) if (names.includes(name)) return status;
  return 500;
}

/** An error raised by the endpoint itself, rendered exactly as ClickHouse renders its own. */
class ProtocolError extends Error {
  readonly code: number;
  readonly type: string;
  constructor(code: number, type: string, message: string) {
    super(`Code: ${code}. DB::Exception: ${message}. (${type})`);
    this.code = code;
    this.type = type;
  }
}

export function contentTypeFor(format: string): string {
  const f = format.toLowerCase();
  if (f.startsWith('json') || f === 'ndjson' || f === 'jsonl') return 'application/json; charset=UTF-8';
  if (f.startsWith('tsv') || f.startsWith('tabseparated')) return 'text/tab-separated-values; charset=UTF-8';
  if (f.startsWith('csv'))
    return `text/csv; charset=UTF-8; header=${f.includes('withnames') ? 'present' : 'absent'}`;
  if (/^(native|rowbinary|parquet|arrow|orc|avro|protobuf|msgpack|capnproto|npy|bson)/.test(f))
    return 'application/octet-stream';
  if (f === 'xml') return 'application/xml; charset=UTF-8';
  return 'text/plain; charset=UTF-8';
}

function sha256Hex(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Starts the endpoint. */
export async function startClickhouseHttpEndpoint(options: HttpEndpointOptions): Promise<HttpEndpoint> {
  const users = new Map(options.users.map((u) => [u.name, u]));
  const meta = options.store.openSession();
  let timezone = 'UTC';
  let version = '';
  try {
    const row = JSON.parse(
      (await meta.queryAsync('SELECT timezone() AS tz, version() AS v', { format: 'JSONEachRow' })).text(),
    ) as {
      tz: string;
      v: string;
    };
    timezone = row.tz;
    version = row.v;
  } finally {
    meta.close();
  }
  const displayName = 'apiwatch';

  const server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      options.log.error(
        { err: (e as Error).message },
        'clickhouse http endpoint: request failed unexpectedly.',
      );
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  server.keepAliveTimeout = 10_000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const params = url.searchParams;
    const queryId = params.get('query_id') || randomUUID();
    res.setHeader('X-ClickHouse-Server-Display-Name', displayName);
    res.setHeader('X-ClickHouse-Query-Id', queryId);
    res.setHeader('X-ClickHouse-Timezone', timezone);
    res.setHeader('Keep-Alive', 'timeout=10');

    if (
      url.pathname === '/ping' ||
      url.pathname === '/replicas_status' ||
      (url.pathname === '/' && req.method !== 'POST' && !params.has('query'))
    ) {
      req.resume();
      res.writeHead(200, { 'Content-Type': 'text/html; charset=UTF-8' });
      res.end(req.method === 'HEAD' ? undefined : 'Ok.\n');
      return;
    }
    if (url.pathname !== '/') {
      req.resume();
      return sendError(
        res,
        params,
        req,
        new ProtocolError(48, 'NOT_IMPLEMENTED', `There is no handle ${url.pathname}`),
        404,
      );
    }
    try {
      const user = authenticate(req, params);
      const body = await readBody(req, options.maxBodyBytes);
      await execute(req, res, params, user, body);
    } catch (e) {
      sendError(res, params, req, e);
    }
  }

  function authenticate(req: IncomingMessage, params: URLSearchParams): HttpEndpointUser {
    const headerUser = req.headers['x-clickhouse-user'];
    const headerKey = req.headers['x-clickhouse-key'];
    const basic = req.headers.authorization;
    const paramUser = params.get('user');
    let name = 'default';
    let password = '';
    const methods = [
      headerUser !== undefined || headerKey !== undefined,
      basic !== undefined,
      paramUser !== null || params.has('password'),
    ];
    if (methods.filter(Boolean).length > 1) {
      throw new ProtocolError(
        516,
        'AUTHENTICATION_FAILED',
        'Invalid authentication: it is not allowed to use Authorization HTTP header and authentication via parameters simultaneously',
      );
    }
    if (methods[0]) {
      name = String(headerUser ?? 'default');
      password = String(headerKey ?? '');
    } else if (basic) {
      const m = /^Basic\s+(.+)$/i.exec(basic);
      if (!m)
        throw new ProtocolError(
          516,
          'AUTHENTICATION_FAILED',
          'Invalid authentication: only Basic authorization is supported',
        );
      const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      name = colon < 0 ? decoded : decoded.slice(0, colon);
      password = colon < 0 ? '' : decoded.slice(colon + 1);
    } else if (methods[2]) {
      name = paramUser ?? 'default';
      password = params.get('password') ?? '';
    }
    const user = users.get(name);
    const expected = user ? Buffer.from(user.passwordSha256, 'hex') : sha256Hex(randomUUID());
    if (!user || expected.length !== 32 || !timingSafeEqual(expected, sha256Hex(password))) {
      throw new ProtocolError(
        516,
        'AUTHENTICATION_FAILED',
        `${name}: Authentication failed: password is incorrect, or there is no user with such name`,
      );
    }
    return user;
  }

  async function execute(
    req: IncomingMessage,
    res: ServerResponse,
    params: URLSearchParams,
    user: HttpEndpointUser,
    body: Buffer,
  ): Promise<void> {
    if (params.get('compress') === '1' || params.get('decompress') === '1') {
      throw new ProtocolError(
        48,
        'NOT_IMPLEMENTED',
        'ClickHouse native LZ4 block compression (compress/decompress=1) is not supported; use enable_http_compression with gzip',
      );
    }
    const queryParam = params.get('query');
    const defaultFormat =
      params.get('default_format') || headerString(req, 'x-clickhouse-format') || 'TabSeparated';
    const database = params.get('database') || headerString(req, 'x-clickhouse-database') || '';
    const readonlyParam = Number(params.get('readonly') ?? '0');
    const readonly = user.readonly || req.method === 'GET' || readonlyParam > 0;

    // The statement and, for INSERT … FORMAT, the data.
    let sql: string;
    let data: Buffer | null = null;
    if (queryParam !== null) {
      if (body.length > 0 && parseInsertWithData(queryParam)) {
        sql = queryParam;
        data = body;
      } else {
        sql = body.length > 0 ? `${queryParam}\n${body.toString('utf8')}` : queryParam;
      }
    } else {
      const text = body.toString('utf8');
      const inline = /^(\s*INSERT\b[\s\S]*?\bFORMAT\s+[A-Za-z][A-Za-z0-9_]*)[ \t]*\r?\n/i.exec(text);
      if (inline && parseInsertWithData(inline[1]!)) {
        sql = inline[1]!;
        data = body.subarray(Buffer.byteLength(inline[0]));
      } else {
        sql = text;
      }
    }
    if (maskedEmpty(sql)) throw new ProtocolError(62, 'SYNTAX_ERROR', 'Empty query');
    const statements = splitStatements(sql);
    if (statements.length > 1) {
      throw new ProtocolError(
        62,
        'SYNTAX_ERROR',
        'Syntax error (Multi-statements are not allowed): failed at position 1 (end of query)',
      );
    }
    const kind = statementKind(sql);
    if (readonly && !READ_KINDS.has(kind)) {
      throw new ProtocolError(164, 'READONLY', `${user.name}: Cannot execute query in readonly mode`);
    }

    const bind: Record<string, string> = {};
    const settings: Array<[string, string]> = [];
    for (const [k, v] of params) {
      if (k.startsWith('param_')) bind[k.slice(6)] = v;
      else if (!HTTP_PARAMS.has(k)) settings.push([k, v]);
    }

    const session = options.store.openSession();
    const started = process.hrtime.bigint();
    try {
      if (database) await session.queryAsync(`USE ${quoteIdentifier(database)}`);
      for (const [k, v] of settings) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
          throw new ProtocolError(115, 'UNKNOWN_SETTING', `Unknown setting ${k}`);
        await session.queryAsync(`SET ${k} = ${/^-?\d+(\.\d+)?$/.test(v) ? v : quoteString(v)}`);
      }
      if (readonly) await session.queryAsync('SET readonly = 1');

      if (data) {
        const written = await insertData(session, sql, data);
        const summary = {
          read_rows: String(written.rows),
          read_bytes: String(data.length),
          written_rows: String(written.rows),
          written_bytes: String(written.bytes),
          total_rows_to_read: '0',
          result_rows: String(written.rows),
          result_bytes: String(written.bytes),
          elapsed_ns: String(process.hrtime.bigint() - started),
        };
        res.setHeader('X-ClickHouse-Summary', JSON.stringify(summary));
        res.setHeader('X-ClickHouse-Format', defaultFormat);
        res.writeHead(200, { 'Content-Type': contentTypeFor(defaultFormat) });
        res.end();
        return;
      }

      const format = trailingFormat(sql) ?? defaultFormat;
      const result =
        Object.keys(bind).length > 0
          ? await session.queryBindAsync(sql, bind, { format: defaultFormat })
          : await session.queryAsync(sql, { format: defaultFormat });
      const bytes = Buffer.from(result.bytes());
      const summary = {
        read_rows: String(result.rowsRead),
        read_bytes: String(result.bytesRead),
        written_rows: '0',
        written_bytes: '0',
        total_rows_to_read: String(result.rowsRead),
        result_rows: '0',
        result_bytes: String(bytes.length),
        elapsed_ns: String(process.hrtime.bigint() - started),
      };
      res.setHeader('X-ClickHouse-Summary', JSON.stringify(summary));
      res.setHeader('X-ClickHouse-Format', format);
      sendBody(req, res, params, 200, contentTypeFor(format), bytes);
    } finally {
      session.close();
    }
  }

  async function insertData(
    session: Session,
    sql: string,
    data: Buffer,
  ): Promise<{ rows: number; bytes: number }> {
    const insert = parseInsertWithData(sql)!;
    if (RAW_INSERT_FORMATS.has(insert.format)) {
      const s = await session.insert({
        table: insert.table,
        values: data,
        format: insert.format as 'JSONEachRow',
        ...(insert.columns ? { columns: insert.columns } : {}),
      });
      return { rows: s.rowsSent ?? s.rowsWritten, bytes: s.bytesWritten };
    }
    // Other formats (RowBinary, Native, Parquet, …): stage the bytes and let file() read them
    // with the table's own structure.
    const described = JSON.parse(
      `[${(
        await session.queryAsync(`DESCRIBE TABLE ${insert.table.split('.').map(quoteIdentifier).join('.')}`, {
          format: 'JSONEachRow',
        })
      )
        .text()
        .trim()
        .split('\n')
        .filter(Boolean)
        .join(',')}]`,
    ) as Array<{ name: string; type: string; default_type: string }>;
    const storable = described.filter((c) => c.default_type !== 'ALIAS' && c.default_type !== 'MATERIALIZED');
    const wanted = insert.columns ? storable.filter((c) => insert.columns!.includes(c.name)) : storable;
    const structure = wanted.map((c) => `${quoteIdentifier(c.name)} ${c.type}`).join(', ');
    const file = join(tmpdir(), `apiwatch-http-${process.pid}-${randomUUID()}.bin`);
    writeFileSync(file, data);
    try {
      const r = await session.queryAsync(
        `INSERT INTO ${insert.table} (${wanted.map((c) => quoteIdentifier(c.name)).join(', ')}) SELECT * FROM file(${quoteString(file)}, ${quoteString(insert.format)}, ${quoteString(structure)})`,
      );
      return { rows: r.rowsRead, bytes: r.bytesRead };
    } finally {
      unlinkSync(file);
    }
  }

  function sendBody(
    req: IncomingMessage,
    res: ServerResponse,
    params: URLSearchParams,
    status: number,
    contentType: string,
    bytes: Buffer,
  ): void {
    const headers: Record<string, string> = { 'Content-Type': contentType };
    let out = bytes;
    if (params.get('enable_http_compression') === '1') {
      const accept = String(req.headers['accept-encoding'] ?? '');
      const encoding = pickEncoding(accept);
      if (encoding) {
        out = compress(encoding, bytes);
        headers['Content-Encoding'] = encoding;
      }
    }
    headers['Content-Length'] = String(out.length);
    res.writeHead(status, headers);
    res.end(out);
  }

  function sendError(
    res: ServerResponse,
    params: URLSearchParams,
    req: IncomingMessage,
    e: unknown,
    forceStatus?: number,
  ): void {
    const message = String((e as Error)?.message ?? e).trim();
    const parsed =
      e instanceof ProtocolError ? { code: e.code, name: e.type } : parseClickhouseError(message);
    const code = parsed.code ?? 1002;
    const text = /^Code: \d+/.test(message)
      ? message
      : `Code: ${code}. DB::Exception: ${message}. (UNKNOWN_EXCEPTION)`;
    res.setHeader('X-ClickHouse-Exception-Code', String(code));
    const status = forceStatus ?? httpStatusForError(parsed.name);
    sendBody(
      req,
      res,
      params,
      status,
      'text/plain; charset=UTF-8',
      Buffer.from(`${text} (version ${version})\n`),
    );
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`;
  options.log.info({ url, users: options.users.length }, 'ClickHouse-compatible HTTP endpoint listening.');
  return {
    url,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

function headerString(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function maskedEmpty(sql: string): boolean {
  return splitStatements(sql).length === 0;
}

function pickEncoding(accept: string): 'gzip' | 'deflate' | 'br' | 'zstd' | null {
  const offered = accept
    .toLowerCase()
    .split(',')
    .map((s) => s.trim().split(';')[0]);
  for (const e of ['gzip', 'deflate', 'br', 'zstd'] as const) if (offered.includes(e)) return e;
  return null;
}

function compress(encoding: 'gzip' | 'deflate' | 'br' | 'zstd', bytes: Buffer): Buffer {
  switch (encoding) {
    case 'gzip':
      return zlib.gzipSync(bytes, { level: 3 });
    case 'deflate':
      return zlib.deflateSync(bytes, { level: 3 });
    case 'br':
      return zlib.brotliCompressSync(bytes, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } });
    case 'zstd':
      return zlib.zstdCompressSync(bytes);
  }
}

async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes)
      throw new ProtocolError(202, 'QUERY_IS_TOO_LARGE', `Request body exceeds ${maxBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  const raw = Buffer.concat(chunks);
  const encoding = String(req.headers['content-encoding'] ?? '')
    .toLowerCase()
    .trim();
  try {
    switch (encoding) {
      case '':
      case 'identity':
        return raw;
      case 'gzip':
      case 'x-gzip':
        return zlib.gunzipSync(raw);
      case 'deflate':
        return zlib.inflateSync(raw);
      case 'br':
        return zlib.brotliDecompressSync(raw);
      case 'zstd':
        return zlib.zstdDecompressSync(raw);
      default:
        throw new ProtocolError(48, 'NOT_IMPLEMENTED', `Content-Encoding ${encoding} is not supported`);
    }
  } catch (e) {
    if (e instanceof ProtocolError) throw e;
    throw new ProtocolError(
      354,
      'CANNOT_DECOMPRESS',
      `Cannot decompress request body (${encoding}): ${(e as Error).message}`,
    );
  }
}
