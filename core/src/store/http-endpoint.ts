import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Session } from 'chdb';
import type { Logger } from '../log.ts';
import type { ChdbStore } from './chdb.ts';
import { parseClickhouseError } from './errors.ts';
import { authenticate, type HttpEndpointUser } from './http-auth.ts';
import { compress, pickEncoding, readBody } from './http-body.ts';
import {
  contentTypeFor,
  HTTP_PARAMS,
  headerString,
  httpStatusForError,
  ProtocolError,
  protocolError,
} from './http-protocol.ts';
import { quoteIdentifier, quoteString } from './sql-text.ts';
import {
  type AstNode,
  baseSettings,
  type Catalog,
  checkSetting,
  checkStatement,
  formatClause,
  type InspectedStatement,
  inspectStatement,
  loadCatalog,
  type PolicyLimits,
} from './statement-policy.ts';

export type { HttpEndpointUser } from './http-auth.ts';
export { contentTypeFor, httpStatusForError } from './http-protocol.ts';

/**
 * A ClickHouse-compatible HTTP interface over the embedded engine, so the official clients
 * (`@clickhouse/client`, clickhouse-go as used by Grafana's data source, curl) can read — and,
 * for users configured so, write — a single-node apiwatch install. It speaks the protocol of
 * ClickHouse's HTTP handler: query in the body or `?query=`, `param_*` binding, `database`,
 * `default_format`, `query_id`, settings as URL parameters, `X-ClickHouse-*` headers, the
 * summary/format/timezone/exception-code response headers and `Code: N. DB::Exception:` bodies,
 * gzip/deflate/br (zstd where Node has it) both ways, `/ping`.
 *
 * The handler only wires the concerns kept in their own files: who is calling (http-auth.ts),
 * bounded body decoding (http-body.ts), what the statement is and whether this user may run it
 * — decided by the engine's own parser (statement-policy.ts) — and ClickHouse's wire conventions
 * (http-protocol.ts). Every request runs on a session of its own, so a request's settings never
 * leak into another request or into the store's writer; what runs is the engine's canonical text
 * of the statement that was checked.
 */

export interface HttpEndpointOptions {
  store: ChdbStore;
  host: string;
  port: number;
  users: readonly HttpEndpointUser[];
  /** Largest request body, bytes, as sent and after Content-Encoding (INSERT data of writers). */
  maxBodyBytes: number;
  /** Largest query text of a read-only user, bytes after Content-Encoding. Default 1 MiB. */
  maxQueryBytes?: number;
  /** Caps every session runs under; a caller may only lower them. */
  limits?: Partial<PolicyLimits>;
  log: Logger;
}

export interface HttpEndpoint {
  url: string;
  port: number;
  close(): Promise<void>;
}

export const DEFAULT_LIMITS: PolicyLimits = {
  maxExecutionSeconds: 60,
  maxMemoryBytes: 2 * 1024 ** 3,
  maxResultBytes: 256 * 1024 ** 2,
  maxThreads: 4,
};

/** Starts the endpoint. */
export async function startClickhouseHttpEndpoint(options: HttpEndpointOptions): Promise<HttpEndpoint> {
  const users = new Map(options.users.map((u) => [u.name, u]));
  const limits: PolicyLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const maxQueryBytes = options.maxQueryBytes ?? 1024 * 1024;
  const meta = options.store.openSession();
  let timezone = 'UTC';
  let version = '';
  let database = 'default';
  try {
    const row = JSON.parse(
      (
        await meta.queryAsync('SELECT timezone() AS tz, version() AS v, currentDatabase() AS db', {
          format: 'JSONEachRow',
        })
      ).text(),
    ) as { tz: string; v: string; db: string };
    timezone = row.tz;
    version = row.v;
    database = row.db;
  } finally {
    meta.close();
  }
  const displayName = 'apiwatch';
  // Dictionaries and user-defined functions, for the policy. Reading system.functions costs
  // ~19 ms, so the catalog is kept for a few seconds and dropped after a writer's DDL.
  let catalog: { value: Catalog; at: number } | null = null;
  const catalogFor = async (session: Session): Promise<Catalog> => {
    if (!catalog || Date.now() - catalog.at > CATALOG_TTL_MS)
      catalog = { value: await loadCatalog(session), at: Date.now() };
    return catalog.value;
  };

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
    const askedId = params.get('query_id');
    const queryId = askedId && /^[\w.:@-]{1,128}$/.test(askedId) ? askedId : randomUUID();
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
        req,
        res,
        params,
        protocolError('NOT_IMPLEMENTED', `There is no handle ${url.pathname}`),
        404,
      );
    }
    try {
      // Authenticate before reading a byte of the body: nobody unknown gets anything inflated.
      const user = authenticate(req, params, users);
      const body = await readBody(req, {
        maxWireBytes: user.readonly ? maxQueryBytes : options.maxBodyBytes,
        maxInflatedBytes: user.readonly ? maxQueryBytes : options.maxBodyBytes,
      });
      await execute(req, res, params, user, body);
    } catch (e) {
      sendError(req, res, params, e);
    }
  }

  async function execute(
    req: IncomingMessage,
    res: ServerResponse,
    params: URLSearchParams,
    user: HttpEndpointUser,
    body: Buffer,
  ): Promise<void> {
    if (params.get('compress') === '1' || params.get('decompress') === '1') {
      throw protocolError(
        'NOT_IMPLEMENTED',
        'ClickHouse native LZ4 block compression (compress/decompress=1) is not supported; use enable_http_compression with gzip',
      );
    }
    const queryParam = params.get('query');
    const defaultFormat =
      params.get('default_format') || headerString(req, 'x-clickhouse-format') || 'TabSeparated';
    if (!/^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(defaultFormat)) {
      throw protocolError('UNKNOWN_FORMAT', `Unknown format ${JSON.stringify(defaultFormat.slice(0, 64))}`);
    }
    const requestedDb = params.get('database') || headerString(req, 'x-clickhouse-database') || '';
    if (requestedDb && requestedDb !== database) {
      throw protocolError(
        'ACCESS_DENIED',
        `${user.name}: apiwatch’s endpoint serves the ${database} database only (database=${requestedDb.slice(0, 64)})`,
      );
    }
    const readonly = user.readonly || req.method === 'GET' || Number(params.get('readonly') ?? '0') > 0;
    const effective = { name: user.name, readonly };

    const bind: Record<string, string> = {};
    const settings: Array<[string, string]> = [];
    for (const [k, v] of params) {
      if (k.startsWith('param_')) bind[k.slice(6)] = v;
      else if (!HTTP_PARAMS.has(k)) settings.push([k, v]);
    }
    for (const [k, v] of settings) checkSetting(k, v, !readonly, limits);

    // The statement and, for INSERT … FORMAT with data, the data. The data is never SQL: the
    // head is checked by the engine's parser and the data handed to the engine as data.
    let sql: string;
    let data: Buffer | null = null;
    if (queryParam !== null) {
      sql = queryParam;
      if (body.length > 0) {
        if (/^\s*INSERT\b/i.test(queryParam)) data = body;
        else sql = `${queryParam}\n${body.toString('utf8')}`;
      }
    } else {
      const text = body.toString('utf8');
      const inline = /^(\s*INSERT\b[\s\S]*?\bFORMAT\s+[A-Za-z][A-Za-z0-9_]*)[ \t]*\r?\n/i.exec(text);
      if (inline) {
        sql = inline[1]!;
        data = body.subarray(Buffer.byteLength(inline[0]));
      } else {
        sql = text;
      }
    }

    const session = options.store.openSession();
    const started = process.hrtime.bigint();
    try {
      const statement = await inspectStatement(session, sql, bind);
      checkStatement(statement, effective, await catalogFor(session), limits);
      // DDL may add a dictionary: the next request reads the catalog afresh.
      if (!effective.readonly && statement.ast.type !== 'SelectWithUnionQuery') catalog = null;
      const isInsert = statement.ast.type === 'InsertQuery';
      const hasSelect = statement.ast.children.some((c) => c.type === 'SelectWithUnionQuery');
      if (isInsert && !hasSelect && !data) {
        throw protocolError(
          'SYNTAX_ERROR',
          'INSERT data must follow the query: ?query=INSERT … FORMAT <format> with the data as the body, or "INSERT … FORMAT <format>", a line break, then the data',
        );
      }

      for (const [k, v] of baseSettings(limits))
        await session.queryAsync(`SET ${k} = ${typeof v === 'number' ? v : quoteString(v)}`);
      for (const [k, v] of settings) {
        await session.queryAsync(`SET ${k} = ${/^-?\d+(\.\d+)?$/.test(v) ? v : quoteString(v)}`);
      }
      if (readonly) await session.queryAsync('SET readonly = 2');

      if (isInsert && data) {
        const written = await insertData(session, statement, data);
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

      const format = formatClause(statement.canonical) ?? defaultFormat;
      const result =
        Object.keys(bind).length > 0
          ? await session.queryBindAsync(statement.canonical, bind, { format: defaultFormat })
          : await session.queryAsync(statement.canonical, { format: defaultFormat });
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
      await sendBody(req, res, params, 200, contentTypeFor(format), bytes);
    } finally {
      session.close();
    }
  }

  /** INSERT … FORMAT <f> with the data: raw text formats straight in, the rest staged for file(). */
  async function insertData(
    session: Session,
    statement: InspectedStatement,
    data: Buffer,
  ): Promise<{ rows: number; bytes: number }> {
    const target = insertTarget(statement.ast);
    const format = formatClause(statement.canonical);
    if (!target || !format)
      throw protocolError('SYNTAX_ERROR', 'INSERT … FORMAT <format> names no table or format');
    if (RAW_INSERT_FORMATS.has(format)) {
      const s = await session.insert({
        table: target.table,
        values: data,
        format: format as 'JSONEachRow',
        ...(target.columns ? { columns: target.columns } : {}),
      });
      return { rows: s.rowsSent ?? s.rowsWritten, bytes: s.bytesWritten };
    }
    // Other formats (RowBinary, Native, Parquet, Values, …): stage the bytes in the store's
    // private staging directory and let file() read them with the table's own structure.
    const described = (
      await session.queryAsync(`DESCRIBE TABLE ${target.table.split('.').map(quoteIdentifier).join('.')}`, {
        format: 'JSONEachRow',
      })
    )
      .text()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { name: string; type: string; default_type: string });
    const storable = described.filter((c) => c.default_type !== 'ALIAS' && c.default_type !== 'MATERIALIZED');
    const wanted = target.columns ? storable.filter((c) => target.columns!.includes(c.name)) : storable;
    const structure = wanted.map((c) => `${quoteIdentifier(c.name)} ${c.type}`).join(', ');
    return options.store.withStagedFile(data, 'bin', async (file) => {
      const r = await session.queryAsync(
        `INSERT INTO ${target.table.split('.').map(quoteIdentifier).join('.')} (${wanted.map((c) => quoteIdentifier(c.name)).join(', ')}) SELECT * FROM file(${quoteString(file)}, ${quoteString(format)}, ${quoteString(structure)})`,
      );
      return { rows: r.rowsRead, bytes: r.bytesRead };
    });
  }

  async function sendBody(
    req: IncomingMessage,
    res: ServerResponse,
    params: URLSearchParams,
    status: number,
    contentType: string,
    bytes: Buffer,
  ): Promise<void> {
    const headers: Record<string, string> = { 'Content-Type': contentType };
    let out = bytes;
    if (params.get('enable_http_compression') === '1') {
      const encoding = pickEncoding(String(req.headers['accept-encoding'] ?? ''));
      if (encoding) {
        out = await compress(encoding, bytes);
        headers['Content-Encoding'] = encoding;
      }
    }
    headers['Content-Length'] = String(out.length);
    res.writeHead(status, headers);
    res.end(out);
  }

  function sendError(
    req: IncomingMessage,
    res: ServerResponse,
    params: URLSearchParams,
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
    if (res.headersSent) {
      res.end();
      return;
    }
    res.setHeader('X-ClickHouse-Exception-Code', String(code));
    const status = forceStatus ?? httpStatusForError(parsed.name);
    if (status === 403 || status === 413) {
      options.log.warn({ status, code, error: parsed.name }, 'clickhouse http endpoint refused a request.');
    }
    sendBody(
      req,
      res,
      params,
      status,
      'text/plain; charset=UTF-8',
      Buffer.from(`${text} (version ${version})\n`),
    ).catch(() => res.end());
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

const CATALOG_TTL_MS = 5000;

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

/** The INSERT's table and column list, from its parse tree. */
function insertTarget(ast: AstNode): { table: string; columns: string[] | null } | null {
  const table = ast.children[0];
  if (table?.type !== 'Identifier') return null;
  const list = ast.children[1];
  const columns =
    list?.type === 'ExpressionList' && list.children.every((c) => c.type === 'Identifier')
      ? list.children.map((c) => c.name)
      : null;
  return { table: table.name, columns };
}
