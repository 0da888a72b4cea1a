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
