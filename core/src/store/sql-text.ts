/** Literal and identifier quoting for SQL the store writes itself (never for deciding what a caller's SQL is). */

/** Quotes a string as a ClickHouse string literal. */
export function quoteString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Quotes an identifier with backticks. */
export function quoteIdentifier(name: string): string {
  return `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;
}
