/**
 * What Grafana and the ClickHouse data source (grafana-clickhouse-datasource v4) do to a panel's
 * rawSql before ClickHouse sees it, reimplemented for offline tests (docs/dashboards.md,
 * "Verification"). The order is the plugin's:
 *
 * 1. Frontend, `applyTemplateVariables`: `$__conditionalAll(cond, $var)` first, scanned from the
 *    last occurrence backwards; it becomes `1=1` when the variable's current value (as a string,
 *    arrays joined with commas) is '' or `$__all`, otherwise `cond`. Then `templateSrv.replace`:
 *    `$var`, `${var}`, `${var:format}`, `[[var]]` and the globals `${__from}`/`${__to}`; the
 *    plugin's default format renders an array as `'a','b'` and a scalar raw. Ad hoc filters are
 *    not used by apiwatch's dashboards (the endpoint refuses additional_table_filters).
 * 2. Backend, `pkg/macros`: `$__timeFilter(c)`, `$__timeFilter_ms(c)`, `$__dateFilter(c)`,
 *    `$__dateTimeFilter(d, t)` / `$__dt`, `$__fromTime`, `$__toTime`, `$__fromTime_ms`,
 *    `$__toTime_ms`, `$__timeInterval(c)`, `$__timeInterval_ms(c)`, `$__interval_s`; outside
 *    string literals, quoted identifiers and comments; unknown macros are left as they are.
 *
 * The range bounds are unix seconds (truncated) for the seconds forms and milliseconds for the
 * `_ms` forms; the interval is Grafana's intervalMs, used as `max(intervalMs / 1000, 1)` seconds.
 */

export interface VariableValue {
  /** The current value: a string (textbox, single) or the selected values (multi). */
  value: string | string[];
  /** "All" is selected: conditionalAll drops the condition; elsewhere every option is used. */
  all?: boolean;
  /** The variable's options (what All stands for outside conditionalAll). */
  options?: string[];
}

export interface ExpandContext {
  fromMs: number;
  toMs: number;
  intervalMs: number;
  vars: Record<string, VariableValue>;
}

/** Splits a macro's arguments at top-level commas; `open` is the index of its `(`. */
function macroArgs(sql: string, open: number): { args: string[]; end: number } | null {
  let depth = 0;
  let start = open + 1;
  const args: string[] = [];
  for (let i = open; i < sql.length; i++) {
    const c = sql[i];
    if (c === '(') depth++;
    else if (c === ')') {
      depth--;
      if (depth === 0) {
        args.push(sql.slice(start, i));
        return { args, end: i + 1 };
      }
    } else if (c === ',' && depth === 1) {
      args.push(sql.slice(start, i));
      start = i + 1;
    }
  }
  return null;
}

const currentString = (v: VariableValue | undefined): string => {
  if (!v) return '';
  if (v.all) return '$__all';
  return Array.isArray(v.value) ? v.value.join(',') : v.value;
};

/** Step 1a: `$__conditionalAll(cond, $var)`, from the last occurrence backwards. */
export function applyConditionalAll(sql: string, vars: Record<string, VariableValue>): string {
  const macro = '$__conditionalAll(';
  let at = sql.lastIndexOf(macro);
  while (at !== -1) {
    const parsed = macroArgs(sql, at + macro.length - 1);
    if (parsed?.args.length !== 2) return sql;
    const name = parsed.args[1]!.trim().slice(1);
    const value = currentString(vars[name]);
    const phrase = value === '' || value === '$__all' ? '1=1' : parsed.args[0]!;
    sql = sql.slice(0, at) + phrase + sql.slice(parsed.end);
    at = sql.lastIndexOf(macro);
  }
  return sql;
}

function formatValues(values: string[], format: string | undefined, multi: boolean): string {
  switch (format) {
    case 'singlequote':
      return values.map((v) => `'${v.replaceAll("'", "\\'")}'`).join(',');
    case 'doublequote':
      return values.map((v) => `"${v.replaceAll('"', '\\"')}"`).join(',');
    case 'sqlstring':
      return values.map((v) => `'${v.replaceAll("'", "''")}'`).join(',');
    case 'csv':
    case 'raw':
      return values.join(',');
    case undefined:
      // The plugin's default formatter: arrays quoted and comma-joined, scalars raw.
      return multi ? values.map((v) => `'${v}'`).join(',') : (values[0] ?? '');
    default:
      throw new Error(`variable format ${format} is not modelled by the expander`);
  }
}

const VARIABLE = /\$(\w+)|\$\{(\w+)(?::([\w]+))?\}|\[\[(\w+)(?::([\w]+))?\]\]/g;

/** Step 1b: templateSrv.replace — template variables and the `__from`/`__to` globals. */
export function replaceVariables(sql: string, ctx: ExpandContext): string {
  return sql.replace(VARIABLE, (whole, a, b, fmtB, c, fmtC) => {
    const name = (a ?? b ?? c) as string;
    const format = (fmtB ?? fmtC) as string | undefined;
    if (name === '__from' || name === '__to') {
      const ms = name === '__from' ? ctx.fromMs : ctx.toMs;
      if (format === 'seconds') return String(Math.floor(ms / 1000));
      return String(ms);
    }
    const v = ctx.vars[name];
    if (!v) return whole; // unknown (macros like $__timeFilter included): left for the backend
    const values = v.all ? (v.options ?? []) : Array.isArray(v.value) ? v.value : [v.value];
    return formatValues(values, format, v.all === true || Array.isArray(v.value));
  });
}

/** Step 2: the backend macros, skipping literals, quoted identifiers and comments. */
export function applyBackendMacros(sql: string, ctx: ExpandContext): string {
  const F = Math.floor(ctx.fromMs / 1000);
  const T = Math.floor(ctx.toMs / 1000);
  const seconds = Math.floor(Math.max(ctx.intervalMs / 1000, 1));
  const ms = Math.floor(Math.max(ctx.intervalMs, 1));
  const date = (s: number) => `toDate('${new Date(s * 1000).toISOString().slice(0, 10)}')`;
  const dt = (s: number) => `toDateTime(${s})`;
  const dt64 = (m: number) => `fromUnixTimestamp64Milli(${Math.floor(m)})`;
  const one = (name: string, args: string[]): string => {
    if (args.length !== 1) throw new Error(`$__${name} expects 1 argument, got ${args.length}`);
    return args[0]!;
  };
  const dateTimeFilter = (args: string[]): string => {
    if (args.length !== 2) throw new Error(`$__dateTimeFilter expects 2 arguments, got ${args.length}`);
    const [d, t] = args as [string, string];
    return `(${d} >= ${date(F)} AND ${d} <= ${date(T)}) AND (${t} >= ${dt(F)} AND ${t} <= ${dt(T)})`;
  };
  const macros: Record<string, (args: string[]) => string> = {
    fromTime: () => dt(F),
    toTime: () => dt(T),
    fromTime_ms: () => dt64(ctx.fromMs),
    toTime_ms: () => dt64(ctx.toMs),
    timeFilter: (a) => {
      const c = one('timeFilter', a);
      return `${c} >= ${dt(F)} AND ${c} <= ${dt(T)}`;
    },
    timeFilter_ms: (a) => {
      const c = one('timeFilter_ms', a);
      return `${c} >= ${dt64(ctx.fromMs)} AND ${c} <= ${dt64(ctx.toMs)}`;
    },
    dateFilter: (a) => {
      const c = one('dateFilter', a);
      return `${c} >= ${date(F)} AND ${c} <= ${date(T)}`;
    },
    dateTimeFilter,
    dt: dateTimeFilter,
    timeInterval: (a) =>
      `toStartOfInterval(toDateTime(${one('timeInterval', a)}), INTERVAL ${seconds} second)`,
    timeInterval_ms: (a) =>
      `toStartOfInterval(toDateTime64(${one('timeInterval_ms', a)}, 3), INTERVAL ${ms} millisecond)`,
    interval_s: () => String(seconds),
  };
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < sql.length && sql[j] !== c) j += sql[j] === '\\' ? 2 : 1;
      out += sql.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (c === '-' && next === '-') {
      const j = sql.indexOf('\n', i);
      const end = j === -1 ? sql.length : j;
      out += sql.slice(i, end);
      i = end;
      continue;
    }
    if (c === '/' && next === '*') {
      const j = sql.indexOf('*/', i + 2);
      const end = j === -1 ? sql.length : j + 2;
      out += sql.slice(i, end);
      i = end;
      continue;
    }
    if (c === '$' && sql.startsWith('$__', i)) {
      const m = /^\$__(\w+)/.exec(sql.slice(i));
      const name = m?.[1];
      const fn = name ? macros[name] : undefined;
      if (m && fn) {
        const after = i + m[0].length;
        if (sql[after] === '(') {
          const parsed = macroArgs(sql, after);
          if (!parsed) throw new Error(`$__${name}: unbalanced parentheses`);
          out += fn(parsed.args.map((s) => s.trim()));
          i = parsed.end;
        } else {
          out += fn([]);
          i = after;
        }
        continue;
      }
    }
    out += c;
    i++;
  }
  return out;
}

/** The whole pipeline: what ClickHouse receives for this rawSql in this context. */
export function expandQuery(sql: string, ctx: ExpandContext): string {
  return applyBackendMacros(replaceVariables(applyConditionalAll(sql, ctx.vars), ctx), ctx);
}

/** `$` tokens left outside literals after expansion (a variable or macro nothing expanded). */
export function leftoverTokens(sql: string): string[] {
  const stripped = sql.replace(/'(?:[^'\\]|\\.)*'/g, "''");
  return [...stripped.matchAll(/\$\{?\w+\}?|\[\[\w+\]\]/g)].map((m) => m[0]);
}

/** The variable names a text refers to (`$v`, `${v}`, `${v:fmt}`, `[[v]]`), macros and globals excluded. */
export function referencedVariables(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(VARIABLE)) {
    const name = (m[1] ?? m[2] ?? m[4]) as string;
    if (!name.startsWith('__')) names.add(name);
  }
  return [...names];
}
