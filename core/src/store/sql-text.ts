/**
 * Just enough ClickHouse SQL lexing to split statements and read a statement's kind and trailing
 * FORMAT clause: quotes ('…', "…", `…`), backslash escapes and comments (--, #, /* … *\/) are
 * respected, so a `;` or `FORMAT` inside a string never counts. The engine does the real parsing.
 */

/** Replaces string literals, quoted identifiers and comments by spaces (same length), keeping positions. */
export function maskSql(sql: string): string {
  const out: string[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < sql.length) {
        if (sql[j] === '\\') {
          j += 2;
          continue;
        }
        if (sql[j] === c) {
          if (sql[j + 1] === c) {
            j += 2;
            continue;
          }
          break;
        }
        j++;
      }
      const end = Math.min(j + 1, sql.length);
      out.push(c, ' '.repeat(Math.max(0, end - i - 2)), end - i >= 2 ? c : '');
      i = end;
      continue;
    }
    if ((c === '-' && next === '-') || c === '#') {
      let j = i;
      while (j < sql.length && sql[j] !== '\n') j++;
      out.push(' '.repeat(j - i));
      i = j;
      continue;
    }
    if (c === '/' && next === '*') {
      const close = sql.indexOf('*/', i + 2);
      const end = close < 0 ? sql.length : close + 2;
      out.push(sql.slice(i, end).replace(/[^\n]/g, ' '));
      i = end;
      continue;
    }
    out.push(c);
    i++;
  }
  return out.join('');
}

/** Splits a script into statements at top-level `;`; empty statements are dropped. */
export function splitStatements(sql: string): string[] {
  const masked = maskSql(sql);
  const statements: string[] = [];
  let start = 0;
  for (let i = 0; i < masked.length; i++) {
    if (masked[i] === ';') {
      statements.push(sql.slice(start, i));
      start = i + 1;
    }
  }
  statements.push(sql.slice(start));
  return statements.filter((s) => maskSql(s).trim().length > 0).map((s) => s.trim());
}

/** The statement's leading keyword, upper-cased (`SELECT`, `WITH`, `INSERT`, …); '' when none. */
export function statementKind(sql: string): string {
  const m = /^[\s(]*([A-Za-z]+)/.exec(maskSql(sql));
  return m ? m[1]!.toUpperCase() : '';
}

/** The output format named by a trailing `FORMAT <name>` clause, or null. */
export function trailingFormat(sql: string): string | null {
  const m = /\bFORMAT\s+([A-Za-z][A-Za-z0-9_]*)\s*;?\s*$/i.exec(maskSql(sql));
  return m
    ? sql
        .slice(m.index)
        .replace(/^FORMAT\s+/i, '')
        .replace(/[\s;]+$/, '')
    : null;
}

/** `INSERT INTO <table> [(<columns>)] FORMAT <fmt>` with the data in the request body. */
export interface InsertWithData {
  table: string;
  columns: string[] | null;
  format: string;
}

export function parseInsertWithData(sql: string): InsertWithData | null {
  const masked = maskSql(sql).trim();
  const m =
    /^INSERT\s+INTO\s+(?:TABLE\s+)?([A-Za-z_][\w.]*|`[^`]+`)\s*(\(([^)]*)\))?\s*(?:SETTINGS\s+[^)]*?\s+)?FORMAT\s+([A-Za-z][A-Za-z0-9_]*)\s*;?$/i.exec(
      masked,
    );
  if (!m) return null;
  const original = sql.trim();
  const table = original.slice(
    m.index + masked.indexOf(m[1]!),
    m.index + masked.indexOf(m[1]!) + m[1]!.length,
  );
  const columns =
    m[3] !== undefined
      ? m[3]
          .split(',')
          .map((c) => c.trim().replace(/^`|`$/g, ''))
          .filter(Boolean)
      : null;
  return { table: table.replace(/^`|`$/g, ''), columns, format: m[4]! };
}

/** Quotes a string as a ClickHouse string literal. */
export function quoteString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Quotes an identifier with backticks. */
export function quoteIdentifier(name: string): string {
  return `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;
}
