import type { Column, DashboardSpec, PanelSpec } from './model.ts';
import type { QueryResult } from './verify.ts';

/**
 * A static HTML picture of a dashboard from its panels' query results — NOT Grafana: the same
 * grid positions, titles, units and data, drawn as plain HTML tables and SVG charts, so the docs
 * can show what each dashboard answers where no Grafana can run (docs/dashboards.md).
 */
const ROW_PX = 34;
const esc = (s: unknown) =>
  String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
/** Fixed colours for series named like a severity or outcome, as a SOC reads them. */
const NAMED: Record<string, string> = {
  critical: '#f2495c',
  high: '#ff9830',
  medium: '#fade2a',
  low: '#5794f2',
  info: '#8e8e9e',
  failed: '#f2495c',
  denied: '#ff9830',
  executed: '#73bf69',
  skipped: '#8e8e9e',
};
const colorOf = (name: string, i: number) => NAMED[name] ?? PALETTE[i % PALETTE.length]!;
const PALETTE = ['#73bf69', '#f2cc0c', '#ff9830', '#f2495c', '#5794f2', '#b877d9', '#8ab8ff', '#fade2a'];

export function formatValue(v: unknown, unit: string | undefined, kind: Column['kind']): string {
  if (v === null || v === undefined) return '—';
  if (kind === 'time') return esc(String(v).replace('.000', ''));
  if (typeof v !== 'number') return esc(v);
  switch (unit) {
    case 'percentunit':
      return `${(v * 100).toFixed(1)}%`;
    case 'ms':
      return v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(0)} ms`;
    case 's':
      return v >= 3600
        ? `${(v / 3600).toFixed(1)} h`
        : v >= 60
          ? `${(v / 60).toFixed(1)} min`
          : `${v.toFixed(0)} s`;
    case 'bytes':
      return v >= 1 << 20
        ? `${(v / (1 << 20)).toFixed(1)} MiB`
        : v >= 1024
          ? `${(v / 1024).toFixed(1)} KiB`
          : `${v} B`;
    default:
      return Math.abs(v) >= 10_000
        ? `${(v / 1000).toFixed(1)}k`
        : Number.isInteger(v)
          ? String(v)
          : v.toFixed(2);
  }
}

const toMs = (v: unknown) => Date.parse(`${String(v).replace(' ', 'T')}Z`);

function timeSeriesSvg(p: PanelSpec, r: QueryResult, w: number, h: number): string {
  // Wide (time, a, b, …) or long (time, label, value) → series.
  const long = p.columns[1]?.kind === 'string';
  const series = new Map<string, Array<[number, number]>>();
  for (const row of r.data) {
    const t = toMs(row[0]);
    if (long) {
      const k = String(row[1]);
      series.set(k, [...(series.get(k) ?? []), [t, Number(row[2])]]);
    } else
      p.columns.slice(1).forEach((c, i) => {
        series.set(c.name, [...(series.get(c.name) ?? []), [t, Number(row[i + 1])]]);
      });
  }
  const all = [...series.values()].flat();
  if (all.length === 0) return '<div class="empty">No data</div>';
  const t0 = Math.min(...all.map((x) => x[0]));
  const t1 = Math.max(...all.map((x) => x[0]));
  let maxV = Math.max(...all.map((x) => x[1]), 0);
  if (p.stacked) {
    const sums = new Map<number, number>();
    for (const [t, v] of all) sums.set(t, (sums.get(t) ?? 0) + v);
    maxV = Math.max(...sums.values(), 0);
  }
  maxV = maxV || 1;
  const L = 56;
  const B = 36;
  const pw = w - L - 8;
  const ph = h - B - 8;
  const X = (t: number) => L + (t1 === t0 ? pw / 2 : ((t - t0) / (t1 - t0)) * pw);
  const Y = (v: number) => 8 + ph - (v / maxV) * ph;
  const unit = p.unit ?? p.columns[1]?.unit;
  let body = '';
  for (let i = 0; i <= 4; i++) {
    const v = (maxV * i) / 4;
    body += `<line x1="${L}" x2="${L + pw}" y1="${Y(v)}" y2="${Y(v)}" class="grid"/><text x="${L - 4}" y="${Y(v) + 4}" class="axis" text-anchor="end">${formatValue(v, unit, 'number')}</text>`;
  }
  for (let i = 0; i <= 4; i++) {
    const t = t0 + ((t1 - t0) * i) / 4;
    body += `<text x="${X(t)}" y="${h - 20}" class="axis" text-anchor="middle">${new Date(t).toISOString().slice(5, 16).replace('T', ' ')}</text>`;
  }
  const names = [...series.keys()];
  if (p.stacked) {
    const times = [...new Set(all.map((x) => x[0]))].sort((a, b) => a - b);
    const bw = Math.max(1, (pw / Math.max(times.length, 1)) * 0.8);
    const base = new Map<number, number>();
    names.forEach((n, si) => {
      for (const [t, v] of series.get(n)!) {
        if (!v) continue;
        const b0 = base.get(t) ?? 0;
        body += `<rect x="${X(t) - bw / 2}" y="${Y(b0 + v)}" width="${bw}" height="${Y(b0) - Y(b0 + v)}" fill="${colorOf(n, si)}"/>`;
        base.set(t, b0 + v);
      }
    });
  } else
    names.forEach((n, si) => {
      const pts = series.get(n)!.map(([t, v]) => `${X(t).toFixed(1)},${Y(v).toFixed(1)}`);
      body += `<polyline fill="none" stroke="${colorOf(n, si)}" stroke-width="1.5" points="${pts.join(' ')}"/>`;
    });
  const legend = names.map((n, i) => `<tspan fill="${colorOf(n, i)}">■</tspan> ${esc(n)} `).join('&#160; ');
  body += `<text x="${L}" y="${h - 4}" class="legend">${legend}</text>`;
  return `<svg width="${w}" height="${h}">${body}</svg>`;
}

function barChartSvg(p: PanelSpec, r: QueryResult, w: number, h: number): string {
  if (r.rows === 0) return '<div class="empty">No data</div>';
  const rows = r.data.slice(0, Math.max(1, Math.floor(h / 22)));
  const max = Math.max(...rows.map((x) => Number(x[1])), 1);
  const L = Math.min(220, w * 0.45);
  const bh = Math.min(20, h / rows.length - 4);
  let body = '';
  rows.forEach((row, i) => {
    const y = i * (bh + 4) + 2;
    const bw = (Number(row[1]) / max) * (w - L - 60);
    body += `<text x="${L - 6}" y="${y + bh * 0.75}" class="axis" text-anchor="end">${esc(String(row[0]).slice(0, 34))}</text>
<rect x="${L}" y="${y}" width="${Math.max(bw, 1)}" height="${bh}" fill="${PALETTE[4]}"/>
<text x="${L + bw + 4}" y="${y + bh * 0.75}" class="axis">${formatValue(row[1], p.columns[1]?.unit, 'number')}</text>`;
  });
  return `<svg width="${w}" height="${h}">${body}</svg>`;
}

function statHtml(p: PanelSpec, r: QueryResult): string {
  const v = r.data[0]?.[0];
  let color = '#73bf69';
  for (const [c, from] of p.thresholds ?? [])
    if (from === null || (typeof v === 'number' && v >= from)) color = c;
  const css = { green: '#73bf69', red: '#f2495c', orange: '#ff9830' }[color] ?? color;
  return `<div class="stat" style="color:${css}">${formatValue(v, p.unit, 'number')}</div>`;
}

function tableHtml(p: PanelSpec, r: QueryResult, h: number): string {
  if (r.rows === 0) return '<div class="empty">No data</div>';
  const max = Math.max(1, Math.floor((h - 24) / 21));
  const head = p.columns.map((c) => `<th>${esc(c.name)}${c.link ? ' ↗' : ''}</th>`).join('');
  const rows = r.data
    .slice(0, max)
    .map(
      (row) =>
        `<tr>${row.map((v, i) => `<td class="${p.columns[i]?.link ? 'link' : ''}">${formatValue(v, p.columns[i]?.unit, p.columns[i]?.kind ?? 'string').slice(0, 80)}</td>`).join('')}</tr>`,
    )
    .join('');
  return `<table><thead><tr>${head}</tr></thead><tbody>${rows}</tbody></table>`;
}

export function renderDashboardHtml(
  d: DashboardSpec,
  results: Map<number, QueryResult>,
  caption: string,
  widthPx = 1600,
): string {
  const col = widthPx / 24;
  const panels = d.panels
    .map((p) => {
      const r = results.get(p.id) ?? { meta: [], data: [], rows: 0 };
      const w = p.grid.w * col - 8;
      const h = p.grid.h * ROW_PX - 8;
      const inner = h - 28;
      const content =
        p.viz === 'stat'
          ? statHtml(p, r)
          : p.viz === 'table'
            ? tableHtml(p, r, inner)
            : p.viz === 'barchart'
              ? barChartSvg(p, r, w - 12, inner)
              : timeSeriesSvg(p, r, w - 12, inner);
      return `<div class="panel" style="left:${p.grid.x * col}px;top:${p.grid.y * ROW_PX}px;width:${w}px;height:${h}px"><div class="title">${esc(p.title)}</div><div class="body">${content}</div></div>`;
    })
    .join('\n');
  const height = Math.max(...d.panels.map((p) => (p.grid.y + p.grid.h) * ROW_PX)) + 8;
  const vars = d.variables.map((v) => `<span class="var">${esc(v.label)}</span>`).join('');
  return `<!doctype html><html><head><meta charset="utf-8"><style>
body{margin:0;background:#111217;color:#ccccdc;font:12px/1.3 Inter,Helvetica,Arial,sans-serif}
header{padding:10px 12px 6px;border-bottom:1px solid #2c3235}
h1{font-size:17px;margin:0 0 4px;color:#fff;font-weight:500}
.note{color:#ff9830;font-size:11px}.var{display:inline-block;margin:6px 6px 0 0;padding:3px 8px;background:#22252b;border:1px solid #34373c;border-radius:2px}
.grid-area{position:relative;margin:8px 8px;height:${height}px}
.panel{position:absolute;background:#181b1f;border:1px solid #2c3235;border-radius:2px;overflow:hidden}
.title{padding:5px 8px;font-weight:500;color:#fff;font-size:12px;white-space:nowrap;overflow:hidden}
.body{padding:0 6px}.stat{font-size:38px;font-weight:500;text-align:center;padding-top:8px}
table{border-collapse:collapse;width:100%;font-size:11px}th{text-align:left;color:#6e9fff;border-bottom:1px solid #2c3235;padding:3px 4px;white-space:nowrap}
td{padding:2px 4px;border-bottom:1px solid #202226;white-space:nowrap;overflow:hidden;max-width:260px;text-overflow:ellipsis}td.link{color:#6e9fff}
.grid{stroke:#2c3235}.axis{fill:#8e8e9e;font-size:10px}.legend{fill:#ccccdc;font-size:11px}.empty{color:#8e8e9e;padding:20px;text-align:center}
</style></head><body><header><h1>${esc(d.title)}</h1><div>${esc(d.answers)}</div>${vars}
<div class="note">${esc(caption)}</div></header><div class="grid-area">${panels}</div></body></html>`;
}
