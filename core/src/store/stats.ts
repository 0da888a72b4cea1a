import type { SqlExecutor } from './migrate.ts';

export interface TableStats {
  table: string;
  rows: number;
  bytesOnDisk: number;
  uncompressedBytes: number;
  /** bytesOnDisk / rows; null for an empty table. */
  bytesPerRow: number | null;
  parts: number;
}

/** Rows and on-disk size per table of the current database (active parts only). */
export async function tableStats(db: SqlExecutor): Promise<TableStats[]> {
  const rows = await db.query<{ table: string; rows: string; bytes: string; raw: string; parts: string }>(
    `SELECT t.name AS table,
            sum(p.rows) AS rows,
            sum(p.bytes_on_disk) AS bytes,
            sum(p.data_uncompressed_bytes) AS raw,
            countIf(p.name != '') AS parts
     FROM system.tables AS t
     LEFT JOIN (SELECT table, name, rows, bytes_on_disk, data_uncompressed_bytes FROM system.parts
                WHERE active AND database = currentDatabase()) AS p ON p.table = t.name
     WHERE t.database = currentDatabase() AND t.engine LIKE '%MergeTree%'
     GROUP BY t.name
     ORDER BY t.name`,
  );
  return rows.map((r) => {
    const n = Number(r.rows);
    const bytes = Number(r.bytes);
    return {
      table: r.table,
      rows: n,
      bytesOnDisk: bytes,
      uncompressedBytes: Number(r.raw),
      bytesPerRow: n > 0 ? bytes / n : null,
      parts: Number(r.parts),
    };
  });
}

function human(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/** A fixed-width text table for `apiwatch store stats`. */
export function formatTableStats(stats: readonly TableStats[]): string {
  const header = ['table', 'rows', 'on disk', 'uncompressed', 'bytes/row', 'parts'];
  const body = stats.map((s) => [
    s.table,
    s.rows.toLocaleString('en-US'),
    human(s.bytesOnDisk),
    human(s.uncompressedBytes),
    s.bytesPerRow === null ? '-' : s.bytesPerRow.toFixed(1),
    String(s.parts),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return `${[line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n')}\n`;
}

export interface ColumnStats {
  column: string;
  type: string;
  /** Bytes on disk (data + marks) over all active parts. */
  bytesOnDisk: number;
  compressedBytes: number;
  uncompressedBytes: number;
  /** bytesOnDisk / rows of the wide parts; null when there is none. */
  bytesPerRow: number | null;
}

/** Per-column on-disk size of one table (active parts), largest first: where the bytes per event go. */
export async function columnStats(db: SqlExecutor, table: string): Promise<ColumnStats[]> {
  const rows = await db.query<{
    column: string;
    type: string;
    disk: string;
    comp: string;
    raw: string;
    rows: string;
  }>(
    `SELECT column, any(type) AS type,
            sum(column_bytes_on_disk) AS disk,
            sum(column_data_compressed_bytes) AS comp,
            sum(column_data_uncompressed_bytes) AS raw,
            sum(rows) AS rows
     FROM system.parts_columns
     -- Compact parts (small, fresh ones) keep all columns in one file and report no per-column
     -- bytes: the breakdown covers the wide parts, per row of those parts.
     WHERE active AND database = currentDatabase() AND table = {table:String} AND part_type = 'Wide'
     GROUP BY column
     ORDER BY disk DESC, column`,
    { table },
  );
  return rows.map((r) => {
    const n = Number(r.rows);
    const disk = Number(r.disk);
    return {
      column: r.column,
      type: r.type,
      bytesOnDisk: disk,
      compressedBytes: Number(r.comp),
      uncompressedBytes: Number(r.raw),
      bytesPerRow: n > 0 ? disk / n : null,
    };
  });
}

/** docs/design.md §5: bytes on disk per stored event in api_events. */
export const EVENT_BYTES_BUDGET = 40;

/** The per-event figure `apiwatch store stats` prints under the table, with its budget. */
export function formatEventBytes(stats: readonly TableStats[], columns: readonly ColumnStats[] = []): string {
  const events = stats.find((s) => s.table === 'api_events');
  if (!events || events.bytesPerRow === null) return 'api_events: no events stored\n';
  const verdict = events.bytesPerRow < EVENT_BYTES_BUDGET ? 'within' : 'OVER';
  let out = `api_events: ${events.bytesPerRow.toFixed(1)} bytes per stored event (${verdict} the budget of < ${EVENT_BYTES_BUDGET})\n`;
  if (columns.length > 0) {
    const width = Math.max(...columns.map((c) => c.column.length));
    for (const c of columns)
      out += `  ${c.column.padEnd(width)}  ${(c.bytesPerRow ?? 0).toFixed(2).padStart(6)}  ${c.type}\n`;
  }
  return out;
}
