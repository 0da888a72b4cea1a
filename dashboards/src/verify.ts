import { type ExpandContext, expandQuery, leftoverTokens, referencedVariables } from './macros.ts';
import type { ColumnKind, DashboardSpec, PanelSpec } from './model.ts';
import { DATASOURCE_TYPE, DATASOURCE_UID } from './model.ts';

/** A result as ClickHouse's JSONCompact format gives it. */
export interface QueryResult {
  meta: Array<{ name: string; type: string }>;
  data: unknown[][];
  rows: number;
}

/** Runs SQL through a ClickHouse HTTP endpoint as Grafana's data source would (a read-only user). */
export async function runSql(url: string, user: string, password: string, sql: string): Promise<QueryResult> {
  const res = await fetch(`${url}/?default_format=JSONCompact&output_format_json_quote_64bit_integers=0`, {
    method: 'POST',
    headers: { 'X-ClickHouse-User': user, 'X-ClickHouse-Key': password },
    body: sql,
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${text.trim()}\n--- SQL ---\n${sql}`);
  return JSON.parse(text) as QueryResult;
}

const KIND_OF_TYPE: Array<[RegExp, ColumnKind]> = [
  [/^(Nullable\()?DateTime(64)?\b/, 'time'],
  [/^(Nullable\()?(U?Int\d+|Float\d+|Decimal)/, 'number'],
  [/^(Nullable\()?(LowCardinality\()?(String|FixedString|Enum|IPv[46]|UUID)/, 'string'],
];

export function kindOf(type: string): ColumnKind | null {
  for (const [re, kind] of KIND_OF_TYPE) if (re.test(type)) return kind;
  return null;
}

/** Grafana unit ids the panels may use, and the column kind each applies to. */
export const UNITS: Record<string, ColumnKind> = {
  short: 'number',
  none: 'number',
  percentunit: 'number',
  ms: 'number',
  s: 'number',
  bytes: 'number',
  dateTimeAsIso: 'time',
};

const toMs = (v: unknown): number =>
  typeof v === 'number' ? v * 1000 : Date.parse(`${String(v).replace(' ', 'T')}Z`);

/** Problems of one panel's result against its declaration (empty = fine). */
export function checkPanelResult(p: PanelSpec, r: QueryResult): string[] {
  const errs: string[] = [];
  const names = r.meta.map((m) => m.name);
  const declared = p.columns.map((c) => c.name);
  if (names.join(',') !== declared.join(','))
    errs.push(`columns ${names.join(',')} ≠ declared ${declared.join(',')}`);
  r.meta.forEach((m, i) => {
    const c = p.columns[i];
    if (!c) return;
    const kind = kindOf(m.type);
    if (kind !== c.kind) errs.push(`column ${m.name}: type ${m.type} is ${kind}, declared ${c.kind}`);
    if (c.unit && UNITS[c.unit] !== c.kind)
      errs.push(`column ${m.name}: unit ${c.unit} does not fit a ${c.kind}`);
    if (c.kind === 'number')
      for (const row of r.data) {
        const v = row[i];
        if (v === null) continue;
        if (typeof v !== 'number' || !Number.isFinite(v)) {
          errs.push(`column ${m.name}: value ${JSON.stringify(v)} is not a finite number`);
          break;
        }
        if (
          (c.unit === 'percentunit' && m.name !== 'deviation' && (v < 0 || v > 1)) ||
          (c.unit !== 'percentunit' && m.name !== 'deviation' && v < 0)
        ) {
          errs.push(`column ${m.name}: value ${v} out of range for unit ${c.unit}`);
          break;
        }
      }
  });
  if (p.unit && !UNITS[p.unit]) errs.push(`panel unit ${p.unit} unknown`);
  switch (p.viz) {
    case 'timeseries': {
      if (p.columns[0]?.kind !== 'time' || kindOf(r.meta[0]?.type ?? '') !== 'time')
        errs.push('time series: the first column must be the time');
      if (!p.columns.slice(1).some((c) => c.kind === 'number')) errs.push('time series: no numeric column');
      const long = p.columns.slice(1).some((c) => c.kind === 'string');
      for (let i = 1; i < r.data.length; i++) {
        const a = toMs(r.data[i - 1]![0]);
        const b = toMs(r.data[i]![0]);
        if (b < a || (!long && b === a)) {
          errs.push(
            `time series: rows not ascending by time at row ${i} (${r.data[i - 1]![0]} then ${r.data[i]![0]})`,
          );
          break;
        }
      }
      break;
    }
    case 'stat':
      if (r.rows !== 1) errs.push(`stat: ${r.rows} rows, expected exactly 1`);
      if (p.columns.some((c) => c.kind !== 'number')) errs.push('stat: every column must be numeric');
      break;
    case 'barchart':
      if (p.columns[0]?.kind !== 'string') errs.push('bar chart: first column must be the category');
      break;
    case 'table':
      break;
  }
  if (p.sort) {
    const i = names.indexOf(p.sort.column);
    if (i < 0) errs.push(`sort column ${p.sort.column} missing`);
    else {
      const key = (v: unknown) => (p.columns[i]!.kind === 'time' ? toMs(v) : (v as number | string));
      for (let k = 1; k < r.data.length; k++) {
        const a = key(r.data[k - 1]![i]);
        const b = key(r.data[k]![i]);
        if (p.sort.desc ? a < b : a > b) {
          errs.push(`rows not sorted by ${p.sort.column} ${p.sort.desc ? 'desc' : 'asc'} at row ${k}`);
          break;
        }
      }
    }
  }
  return errs;
}

/** Expands a panel's SQL for a context and checks nothing is left unexpanded. */
export function expandPanel(sql: string, ctx: ExpandContext): string {
  const out = expandQuery(sql, ctx);
  const left = leftoverTokens(out);
  if (left.length > 0) throw new Error(`unexpanded tokens ${left.join(', ')} in\n${out}`);
  return out;
}

const GLOBALS = new Set([
  '__from',
  '__to',
  '__url_time_range',
  '__data',
  '__value',
  '__interval',
  '__interval_ms',
]);

interface JsonPanel {
  id?: number;
  type?: string;
  gridPos?: { x: number; y: number; w: number; h: number };
  datasource?: { type?: string; uid?: string };
  targets?: Array<Record<string, unknown>>;
  fieldConfig?: {
    defaults?: unknown;
    overrides?: Array<{ properties?: Array<{ id: string; value?: unknown }> }>;
  };
  options?: unknown;
}

/** Problems of one generated dashboard JSON (empty = fine). `uids` are every shipped dashboard's. */
export function checkDashboardJson(
  json: Record<string, unknown>,
  spec: DashboardSpec,
  uids: Set<string>,
): string[] {
  const errs: string[] = [];
  if (json.uid !== spec.uid) errs.push(`uid ${String(json.uid)} ≠ ${spec.uid}`);
  if (json.schemaVersion !== 42) errs.push(`schemaVersion ${String(json.schemaVersion)}, the SDK emits 42`);
  if ('__inputs' in json) errs.push('__inputs: file provisioning does not resolve them');
  const panels = (json.panels ?? []) as JsonPanel[];
  const vars = ((json.templating as { list?: Array<Record<string, unknown>> })?.list ?? []) as Array<
    Record<string, unknown>
  >;
  const defined = new Set(vars.map((v) => String(v.name)));
  const ids = new Set<number>();
  const texts: string[] = [];
  for (const v of vars) {
    if (v.type === 'query') {
      const ds = v.datasource as { uid?: string; type?: string } | undefined;
      if (ds?.uid !== DATASOURCE_UID || ds?.type !== DATASOURCE_TYPE)
        errs.push(`variable ${String(v.name)}: data source ref`);
      const q = v.query as { rawSql?: string; editorType?: string };
      if (q?.editorType !== 'sql' || !q.rawSql)
        errs.push(`variable ${String(v.name)}: query is not a v4 sql query`);
      texts.push(q?.rawSql ?? '');
    }
  }
  for (const p of panels) {
    const label = `panel ${p.id}`;
    if (typeof p.id !== 'number') errs.push(`a panel has no id (${p.type})`);
    else if (ids.has(p.id)) errs.push(`${label}: duplicate id`);
    else ids.add(p.id);
    const g = p.gridPos;
    if (!g || g.x < 0 || g.w <= 0 || g.h <= 0 || g.x + g.w > 24)
      errs.push(`${label}: gridPos outside the 24 columns`);
    if (p.datasource?.uid !== DATASOURCE_UID || p.datasource?.type !== DATASOURCE_TYPE)
      errs.push(`${label}: data source ref`);
    if (!p.fieldConfig?.defaults || !p.options) errs.push(`${label}: no fieldConfig.defaults/options`);
    for (const t of p.targets ?? []) {
      const ds = t.datasource as { uid?: string; type?: string } | undefined;
      if (ds?.uid !== DATASOURCE_UID || ds?.type !== DATASOURCE_TYPE)
        errs.push(`${label}: target data source ref`);
      if (t.editorType !== 'sql' || typeof t.rawSql !== 'string')
        errs.push(`${label}: target is not editorType sql`);
      if (typeof t.pluginVersion !== 'string' || !t.pluginVersion.startsWith('4.'))
        errs.push(`${label}: pluginVersion`);
      const wantFormat = p.type === 'timeseries' ? 0 : 1;
      if (t.format !== wantFormat) errs.push(`${label}: format ${String(t.format)} for a ${p.type}`);
      texts.push(String(t.rawSql));
    }
    if ((p.targets ?? []).length === 0) errs.push(`${label}: no target`);
    for (const o of p.fieldConfig?.overrides ?? [])
      for (const prop of o.properties ?? [])
        if (prop.id === 'links') for (const l of prop.value as Array<{ url: string }>) texts.push(l.url);
  }
  // No two panels overlap.
  for (let i = 0; i < panels.length; i++)
    for (let j = i + 1; j < panels.length; j++) {
      const a = panels[i]!.gridPos!;
      const b = panels[j]!.gridPos!;
      if (a && b && a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h)
        errs.push(`panels ${panels[i]!.id} and ${panels[j]!.id} overlap`);
    }
  for (const t of texts) {
    for (const name of referencedVariables(t))
      if (!defined.has(name) && !GLOBALS.has(name)) errs.push(`$${name} used but not defined`);
    for (const m of t.matchAll(/\$\{(__\w+)/g)) if (!GLOBALS.has(m[1]!)) errs.push(`unknown global ${m[1]}`);
    for (const m of t.matchAll(/\/d\/([\w-]+)/g))
      if (!uids.has(m[1]!)) errs.push(`link to unknown dashboard ${m[1]}`);
  }
  return errs;
}
