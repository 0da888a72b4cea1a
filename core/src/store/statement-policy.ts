import type { Session } from 'chdb';
import { protocolError } from './http-protocol.ts';

/**
 * What a statement sent to the ClickHouse-compatible endpoint is, decided by the engine's own
 * parser, and whether its user may run it (docs/store.md, "Security";
 * docs/decisions/0006-endpoint-statement-policy.md).
 *
 * 1. `formatQuery(q)` with the text bound as a parameter: the engine parses the text — one
 *    statement or SYNTAX_ERROR, comments and every quoting form handled by the real lexer — and
 *    prints it back in canonical form. The canonical text is what runs afterwards, so what was
 *    checked is what executes.
 * 2. `EXPLAIN AST <canonical>` (with the request's query parameters bound, so
 *    `{t:Identifier}` is substituted): the parse tree, read into nodes with a strict reader
 *    that checks every node's declared child count, so a name holding a line break cannot
 *    splice lines into the tree — the tree is refused instead.
 * 3. The tree is walked: statement kind by user class; no `INTO OUTFILE`; no table function
 *    anywhere (FROM, JOIN, subqueries, CTEs, DESCRIBE, INSERT INTO FUNCTION, CREATE … AS f());
 *    tables only of the apiwatch database and the system tables clients need; no dictionary
 *    (dictGet*, the dictionary as a table) and no file/model/introspection functions for
 *    read-only users; only allowlisted settings (URL and SETTINGS clauses) within limits; for
 *    writers, only engines, dictionary sources and ALTER commands that stay inside the store.
 */

export interface AstNode {
  /** The node label without the child count, e.g. `Function file`, `TableIdentifier system.tables (alias t)`. */
  label: string;
  /** First word of the label: `Function`, `TableIdentifier`, `SelectWithUnionQuery`, … */
  type: string;
  /** The rest of the label. */
  name: string;
  children: AstNode[];
}

/** A parsed statement: the engine's canonical text and its parse tree. */
export interface InspectedStatement {
  canonical: string;
  ast: AstNode;
}

/** What the policy needs to know about the store, refreshed per request. */
export interface Catalog {
  /** The apiwatch database (the store session's current database). */
  database: string;
  /** Dictionaries in that database, lower-cased: readable only through the tables that use them. */
  dictionaries: ReadonlySet<string>;
  /** User-defined functions (origin other than System), lower-cased. */
  userFunctions: ReadonlySet<string>;
}

export interface PolicyLimits {
  maxExecutionSeconds: number;
  maxMemoryBytes: number;
  maxResultBytes: number;
  maxThreads: number;
}

/** Reads the engine's `EXPLAIN AST` text into a tree; null when it is not a well-formed single tree. */
export function parseAstDump(text: string): AstNode | null {
  const lines = text.replace(/\n$/, '').split('\n');
  let i = 0;
  const read = (depth: number): AstNode | null => {
    const line = lines[i];
    if (line === undefined) return null;
    const indent = /^ */.exec(line)![0].length;
    if (indent !== depth) return null;
    i++;
    const m = /^(.*?)(?: \(children (\d+)\))?$/.exec(line.slice(depth))!;
    const label = m[1]!;
    const count = m[2] ? Number(m[2]) : 0;
    if (!/^[A-Za-z]/.test(label)) return null;
    const space = label.indexOf(' ');
    const node: AstNode = {
      label,
      type: space < 0 ? label : label.slice(0, space),
      name: space < 0 ? '' : label.slice(space + 1),
      children: [],
    };
    for (let k = 0; k < count; k++) {
      const child = read(depth + 1);
      if (!child) return null;
      node.children.push(child);
    }
    return node;
  };
  const root = read(0);
  return root && i === lines.length ? root : null;
}

/** Parses `sql` with the engine: canonical text and tree, or the engine's SYNTAX_ERROR. */
export async function inspectStatement(
  session: Session,
  sql: string,
  params: Record<string, string>,
): Promise<InspectedStatement> {
  const formatted = await session.queryBindAsync(
    'SELECT formatQuery({q:String}) AS q',
    { q: sql },
    {
      format: 'JSONEachRow',
    },
  );
  const canonical = (JSON.parse(formatted.text()) as { q: string }).q;
  const explain = `EXPLAIN AST ${canonical}`;
  const dump =
    Object.keys(params).length > 0
      ? await session.queryBindAsync(explain, params, { format: 'TSVRaw' })
      : await session.queryAsync(explain, { format: 'TSVRaw' });
  const ast = parseAstDump(dump.text());
  if (!ast) {
    throw protocolError(
      'ACCESS_DENIED',
      'The statement was refused: its parse tree could not be verified (a name holds a line break?)',
    );
  }
  return { canonical, ast };
}

const READ_ROOTS = new Set([
  'SelectWithUnionQuery',
  'SelectIntersectExceptQuery',
  'SelectQuery',
  'Explain',
  'DescribeQuery',
  'ExistsTableQuery',
  'ExistsDatabaseQuery',
  'ExistsViewQuery',
  'ShowTables',
  'ShowColumns',
  'ShowCreateTableQuery',
  'ShowCreateViewQuery',
]);
/** SHOW statements a reader may run, by the canonical text's opening words (the tree does not say). */
const READ_SHOW =
  /^SHOW (?:FULL |EXTENDED |TEMPORARY )*(?:DATABASES|TABLES|COLUMNS|FIELDS|CREATE (?:TEMPORARY )?(?:TABLE|VIEW))\b/;
const READ_PREFIX = /^(?:SELECT|WITH|\(|DESCRIBE|DESC|EXISTS|EXPLAIN)\b|^\(/;

const WRITE_ROOTS = new Set(['InsertQuery', 'CreateQuery', 'AlterQuery', 'DropQuery', 'OptimizeQuery']);
const WRITE_PREFIX =
  /^(?:INSERT INTO (?!FUNCTION\b)|CREATE (?:TABLE|VIEW|MATERIALIZED VIEW|DICTIONARY) |ALTER TABLE |DROP (?:TABLE|VIEW|DICTIONARY) |OPTIMIZE TABLE |TRUNCATE )/;

/**
 * Query-with-output nodes whose only direct Literal child is an INTO OUTFILE target (SHOW
 * statements print LIKE patterns as literals: for them the canonical text's INTO OUTFILE line
 * decides).
 */
const WITH_OUTPUT = new Set(['SelectWithUnionQuery', 'Explain', 'DescribeQuery']);

/** System tables the official clients and Grafana's data source read (docs/store.md). */
export const SYSTEM_TABLES = new Set([
  'one',
  'databases',
  'tables',
  'columns',
  'functions',
  'data_type_families',
  'time_zones',
  // Storage size per table and column (`apiwatch store stats` through a running server, storage panels).
  'parts',
  'parts_columns',
]);
const INFORMATION_SCHEMA_TABLES = new Set(['tables', 'columns', 'schemata', 'views']);

/** Functions that read files, models, dictionaries, other tables by name, or the process. */
const DENIED_FUNCTIONS = new Set([
  'file',
  'joinget',
  'joingetornull',
  'catboostevaluate',
  'modelevaluate',
  'naivebayesclassifier',
  'addresstoline',
  'addresstolinewithinlines',
  'addresstosymbol',
  'demangle',
  'getclienthttpheader',
  'getserversetting',
  'getmergetreesetting',
  'filesystemavailable',
  'filesystemcapacity',
  'filesystemunreserved',
  'generateserialid',
  'hascolumnintable',
  'currentprofiles',
  'enabledprofiles',
  'defaultprofiles',
  'currentroles',
  'enabledroles',
  'defaultroles',
]);
const IN_FUNCTIONS = new Set([
  'in',
  'notin',
  'globalin',
  'globalnotin',
  'nullin',
  'notnullin',
  'globalnullin',
  'globalnotnullin',
]);

/** MergeTree family, Memory and Null: engines whose data stays in the store's own directory. */
const ENGINES =
  /^(?:(?:Replacing|Summing|Aggregating|Collapsing|VersionedCollapsing)?MergeTree|Memory|Null)$/;
const ALTER_COMMANDS = new Set([
  'MODIFY_TTL',
  'REMOVE_TTL',
  'MATERIALIZE_TTL',
  'ADD_COLUMN',
  'DROP_COLUMN',
  'MODIFY_COLUMN',
  'RENAME_COLUMN',
  'COMMENT_COLUMN',
  'MODIFY_COMMENT',
  'ADD_INDEX',
  'DROP_INDEX',
  'MATERIALIZE_INDEX',
  'ADD_PROJECTION',
  'DROP_PROJECTION',
  'MATERIALIZE_PROJECTION',
  'DELETE',
  'UPDATE',
  'DROP_PARTITION',
  'MODIFY_QUERY',
]);

type SettingRule =
  | { kind: 'limit'; cap?: keyof PolicyLimits }
  | { kind: 'bool' }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'token'; pattern: RegExp };

const bool = { kind: 'bool' } as const;
const overflow = { kind: 'enum', values: ['throw', 'break'] } as const;

/** Settings any user may set (URL parameters or SETTINGS clauses). Limits may only be lowered. */
const READ_SETTINGS: Record<string, SettingRule> = {
  max_execution_time: { kind: 'limit', cap: 'maxExecutionSeconds' },
  max_memory_usage: { kind: 'limit', cap: 'maxMemoryBytes' },
  max_result_bytes: { kind: 'limit', cap: 'maxResultBytes' },
  max_threads: { kind: 'limit', cap: 'maxThreads' },
  max_result_rows: { kind: 'limit' },
  max_rows_to_read: { kind: 'limit' },
  max_bytes_to_read: { kind: 'limit' },
  max_rows_to_group_by: { kind: 'limit' },
  max_block_size: { kind: 'limit' },
  timeout_overflow_mode: overflow,
  result_overflow_mode: overflow,
  read_overflow_mode: overflow,
  group_by_overflow_mode: { kind: 'enum', values: ['throw', 'break', 'any'] },
  output_format_json_quote_64bit_integers: bool,
  output_format_json_quote_64bit_floats: bool,
  output_format_json_quote_denormals: bool,
  output_format_json_quote_decimals: bool,
  output_format_json_named_tuples_as_objects: bool,
  output_format_json_validate_utf8: bool,
  output_format_write_statistics: bool,
  output_format_decimal_trailing_zeros: bool,
  output_format_tsv_crlf_end_of_line: bool,
  output_format_csv_crlf_end_of_line: bool,
  date_time_output_format: { kind: 'enum', values: ['simple', 'iso', 'unix_timestamp'] },
  date_time_input_format: { kind: 'enum', values: ['basic', 'best_effort', 'best_effort_us'] },
  session_timezone: { kind: 'token', pattern: /^[A-Za-z0-9_/+-]{0,64}$/ },
  format_csv_delimiter: { kind: 'token', pattern: /^.$/ },
  join_use_nulls: bool,
  extremes: bool,
  final: bool,
  asterisk_include_alias_columns: bool,
  asterisk_include_materialized_columns: bool,
  cast_keep_nullable: bool,
  enable_analyzer: bool,
  allow_experimental_analyzer: bool,
  prefer_column_name_to_alias: bool,
};

/** Settings a writer may set in addition: insert behaviour and MergeTree table settings. */
const WRITE_SETTINGS: Record<string, SettingRule> = {
  insert_deduplication_token: { kind: 'token', pattern: /^[A-Za-z0-9_.:@/-]{0,256}$/ },
  insert_deduplicate: bool,
  deduplicate_blocks_in_dependent_materialized_views: bool,
  async_insert: bool,
  wait_for_async_insert: bool,
  input_format_skip_unknown_fields: bool,
  input_format_null_as_default: bool,
  input_format_import_nested_json: bool,
  input_format_allow_errors_num: { kind: 'limit' },
  mutations_sync: { kind: 'enum', values: ['0', '1', '2'] },
  alter_sync: { kind: 'enum', values: ['0', '1', '2'] },
  optimize_throw_if_noop: bool,
  materialize_ttl_after_modify: bool,
  max_insert_block_size: { kind: 'limit' },
  min_insert_block_size_rows: { kind: 'limit' },
  min_insert_block_size_bytes: { kind: 'limit' },
  // MergeTree settings (CREATE TABLE … SETTINGS, ALTER … MODIFY SETTING)
  index_granularity: { kind: 'limit' },
  index_granularity_bytes: { kind: 'limit' },
  non_replicated_deduplication_window: { kind: 'limit' },
  min_compress_block_size: { kind: 'limit' },
  max_compress_block_size: { kind: 'limit' },
  ratio_of_defaults_for_sparse_serialization: { kind: 'token', pattern: /^(?:0|1|0?\.\d+)$/ },
  ttl_only_drop_parts: bool,
  merge_with_ttl_timeout: { kind: 'limit' },
  min_bytes_for_wide_part: { kind: 'limit' },
  min_rows_for_wide_part: { kind: 'limit' },
  allow_nullable_key: bool,
};

/** The settings every session of the endpoint starts with (before the caller's own). */
export function baseSettings(limits: PolicyLimits): Array<[string, string | number]> {
  return [
    ['max_execution_time', limits.maxExecutionSeconds],
    ['max_memory_usage', limits.maxMemoryBytes],
    ['max_result_bytes', limits.maxResultBytes],
    ['result_overflow_mode', 'throw'],
    ['max_threads', limits.maxThreads],
  ];
}

/** Throws SETTING_CONSTRAINT_VIOLATION unless `name = value` is allowed for this user. */
export function checkSetting(name: string, value: string, writer: boolean, limits: PolicyLimits): void {
  const rule = READ_SETTINGS[name] ?? (writer ? WRITE_SETTINGS[name] : undefined);
  const refuse = (why: string) => {
    throw protocolError('SETTING_CONSTRAINT_VIOLATION', `Setting ${name} ${why}`);
  };
  if (!rule) {
    refuse(
      writer
        ? 'is not allowed through apiwatch’s endpoint (docs/store.md lists the settings it accepts)'
        : 'is not allowed for a read-only user (docs/store.md lists the settings it accepts)',
    );
    return;
  }
  const v = value.replace(/^'(.*)'$/s, '$1');
  switch (rule.kind) {
    case 'limit': {
      if (!/^\d+$/.test(v) || Number(v) <= 0) refuse('must be a positive integer (0 would lift the limit)');
      const cap = rule.cap ? limits[rule.cap] : Number.POSITIVE_INFINITY;
      if (Number(v) > cap) refuse(`may only be lowered: at most ${cap}`);
      return;
    }
    case 'bool':
      if (!/^(?:0|1|true|false)$/i.test(v)) refuse('must be 0 or 1');
      return;
    case 'enum':
      if (!rule.values.includes(v)) refuse(`must be one of ${rule.values.join(', ')}`);
      return;
    case 'token':
      if (!rule.pattern.test(v)) refuse('has a value that is not allowed');
      return;
  }
}

/**
 * `name = value` pairs of the SETTINGS clauses in the canonical text. The engine's formatter
 * writes each clause as `SETTINGS a = 1, b = 'x'` and escapes line breaks inside literals and
 * names, so this reads a superset of the real pairs (text inside a string literal can only add
 * pairs, which are then checked too); the tree says whether there were any.
 */
function settingsOf(canonical: string): { clauses: number; pairs: Array<[string, string]> } {
  const pairs: Array<[string, string]> = [];
  let clauses = 0;
  for (const line of canonical.split('\n')) {
    const at = line.search(/(?:^|\s)SETTINGS /);
    if (at < 0) continue;
    clauses += line.slice(at).match(/(?:^|\s)SETTINGS /g)!.length;
    // From the first SETTINGS of the line on, every `name = value` after the keyword or a comma
    // (a SETTINGS inside a string literal cannot hide a real one later on the same line).
    const rest = line.slice(at).trimStart();
    for (const m of rest.matchAll(
      /(?:^SETTINGS |, | SETTINGS )([A-Za-z_][A-Za-z0-9_]*) = ('(?:[^'\\]|\\.)*'|[^,\s]*)/g,
    )) {
      pairs.push([m[1]!, m[2]!]);
    }
  }
  return { clauses, pairs };
}

function deny(message: string): never {
  throw protocolError('ACCESS_DENIED', message);
}

/** Throws the ClickHouse error the statement deserves, or returns when the user may run it. */
export function checkStatement(
  statement: InspectedStatement,
  user: { name: string; readonly: boolean },
  catalog: Catalog,
  limits: PolicyLimits,
): void {
  const { ast, canonical } = statement;
  const writer = !user.readonly;
  const readKind =
    READ_ROOTS.has(ast.type) &&
    (READ_PREFIX.test(canonical) || (ast.type.startsWith('Show') && READ_SHOW.test(canonical)));
  const writeKind = writer && WRITE_ROOTS.has(ast.type) && WRITE_PREFIX.test(canonical);
  if (!readKind && !writeKind) {
    if (user.readonly && !READ_ROOTS.has(ast.type)) {
      throw protocolError('READONLY', `${user.name}: Cannot execute query in readonly mode`);
    }
    const opening = canonical.split(/\s+/, 3).join(' ').replace(/[()]/g, '');
    deny(`${user.name}: ${opening} statements are not allowed through apiwatch’s endpoint`);
  }
  if (/^\s*INTO OUTFILE /m.test(canonical)) {
    throw protocolError('INTO_OUTFILE_NOT_ALLOWED', 'INTO OUTFILE is not allowed');
  }

  let setNodes = 0;
  const checkTable = (raw: string) => {
    const name = raw.replace(/ \(alias .*\)$/s, '');
    const dot = name.indexOf('.');
    const db = dot < 0 ? catalog.database : name.slice(0, dot);
    const table = dot < 0 ? name : name.slice(dot + 1);
    if (db === catalog.database) {
      if (catalog.dictionaries.has(table.toLowerCase()))
        deny(`dictionary ${table} is not readable through apiwatch’s endpoint`);
      return;
    }
    if (db === 'system' && SYSTEM_TABLES.has(table)) return;
    if (db.toLowerCase() === 'information_schema' && INFORMATION_SCHEMA_TABLES.has(table.toLowerCase()))
      return;
    deny(
      `table ${name} is outside what apiwatch’s endpoint serves: the ${catalog.database} database and system.{${[...SYSTEM_TABLES].join(',')}}`,
    );
  };
  const checkTarget = (node: AstNode) => {
    // CreateQuery/AlterQuery/DropQuery/OptimizeQuery labels: "<Type> [db] table".
    const parts = node.name.split(' ');
    if (parts.length >= 2 && parts[1] !== '' && parts[0] !== '' && parts[0] !== catalog.database) {
      deny(`writes go to the ${catalog.database} database only`);
    }
  };

  const walk = (node: AstNode, parent: AstNode | null): void => {
    switch (node.type) {
      case 'Function': {
        const fname = node.name.replace(/ \(alias .*\)$/s, '');
        const lower = fname.toLowerCase();
        const parentType = parent?.type ?? '';
        const parentLabel = parent?.label ?? '';
        if (
          parentType === 'TableExpression' ||
          parentType === 'InsertQuery' ||
          parentType === 'CreateQuery'
        ) {
          deny(`table function ${fname}() is not allowed through apiwatch’s endpoint`);
        }
        if (parentLabel === 'Storage definition' && parent!.children[0] === node) {
          if (!ENGINES.test(fname)) deny(`table engine ${fname} is not allowed through apiwatch’s endpoint`);
          break;
        }
        if (DENIED_FUNCTIONS.has(lower) || catalog.userFunctions.has(lower)) {
          throw protocolError(
            'FUNCTION_NOT_ALLOWED',
            `Function ${fname} is not allowed through apiwatch’s endpoint`,
          );
        }
        if (user.readonly && lower.startsWith('dict')) {
          throw protocolError(
            'FUNCTION_NOT_ALLOWED',
            `Function ${fname}: dictionaries are not readable by a read-only user`,
          );
        }
        if (IN_FUNCTIONS.has(lower)) {
          const right = node.children[0]?.children[1];
          if (right?.type === 'Identifier' && right.name.includes('.')) checkTable(right.name);
        }
        break;
      }
      case 'TableIdentifier':
        checkTable(node.name);
        break;
      case 'Literal':
        if (parent && WITH_OUTPUT.has(parent.type)) {
          throw protocolError('INTO_OUTFILE_NOT_ALLOWED', 'INTO OUTFILE is not allowed');
        }
        break;
      case 'Set':
        setNodes++;
        break;
      case 'FunctionWithKeyValueArguments':
        // A dictionary SOURCE: only a table of this store (no host, no command, no URL).
        if (
          !writer ||
          node.name.trim() !== 'clickhouse' ||
          node.children[0]?.children.length !== 1 ||
          !/^SOURCE\(CLICKHOUSE\(TABLE '[A-Za-z0-9_]+'\)\)$/m.test(canonical)
        ) {
          deny("a dictionary may only read a table of this store: SOURCE(CLICKHOUSE(TABLE 'name'))");
        }
        break;
      case 'AlterCommand':
        if (!ALTER_COMMANDS.has(node.name.trim()))
          deny(`ALTER ${node.name.trim()} is not allowed through apiwatch’s endpoint`);
        break;
      case 'CreateQuery':
      case 'AlterQuery':
      case 'DropQuery':
      case 'OptimizeQuery':
        checkTarget(node);
        break;
      case 'InsertQuery': {
        const target = node.children[0];
        if (target?.type === 'Identifier' && target.name.includes('.')) checkTable(target.name);
        break;
      }
    }
    for (const child of node.children) walk(child, node);
  };
  walk(ast, null);

  if (setNodes > 0) {
    const { clauses, pairs } = settingsOf(canonical);
    // Every Set node of the tree must be a SETTINGS clause seen in the text (MODIFY SETTING,
    // dictionary SETTINGS(…) and EXPLAIN options are not, so they are refused).
    if (clauses < setNodes || pairs.length === 0)
      deny('a settings clause apiwatch’s endpoint cannot read was refused');
    for (const [name, value] of pairs) checkSetting(name, value, writer, limits);
  }
}

/** The output format named by the statement's FORMAT clause (a top-level line of the canonical text). */
export function formatClause(canonical: string): string | null {
  const m = /^FORMAT (\S+)$/m.exec(canonical) ?? /(?:^|\s)FORMAT ([A-Za-z][A-Za-z0-9_]*)$/.exec(canonical);
  return m ? m[1]! : null;
}

/** Dictionaries and user-defined functions, read from the engine for the policy. */
export async function loadCatalog(session: Session): Promise<Catalog> {
  const rows = (
    await session.queryAsync(
      "SELECT currentDatabase() AS db, 'd' AS k, name FROM system.dictionaries WHERE database = currentDatabase() UNION ALL SELECT currentDatabase(), 'f', name FROM system.functions WHERE origin != 'System' UNION ALL SELECT currentDatabase(), 'x', ''",
      { format: 'JSONEachRow' },
    )
  )
    .text()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { db: string; k: string; name: string });
  return {
    database: rows[0]?.db ?? 'default',
    dictionaries: new Set(rows.filter((r) => r.k === 'd').map((r) => r.name.toLowerCase())),
    userFunctions: new Set(rows.filter((r) => r.k === 'f').map((r) => r.name.toLowerCase())),
  };
}
