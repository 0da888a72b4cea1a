/**
 * Builders for the panel shapes the dashboards repeat: a single-number stat, a findings table and
 * a "top endpoints" bar chart. Each returns a plain PanelDraft, so a dashboard stays a list of
 * declarations that `place` lays out; what a builder fixes (stat height, the findings columns, the
 * top-15 endpoint ranking) is what every panel of that shape shares.
 */
import type { PanelSpec } from '../model.ts';
import { allOf, FINDING_COLUMNS, findingsSql, type PanelDraft } from './common.ts';

export type Thresholds = NonNullable<PanelSpec['thresholds']>;

/** Thresholds for a count that should stay at zero: green, then `color` from 1. */
export const alarmFromOne = (color: 'orange' | 'red'): Thresholds => [
  ['green', null],
  [color, 1],
];

export interface StatPanel {
  title: string;
  description: string;
  /** The one numeric column the SQL returns. */
  column: string;
  sql: string;
  /** Grafana unit of the panel and its column. Default `short`. */
  unit?: string;
  /** Width in grid columns. Default 6 (four to a row). */
  w?: number;
  thresholds?: Thresholds;
}

/** A stat panel showing one number (4 rows high). */
export function statPanel({
  title,
  description,
  column,
  sql,
  unit = 'short',
  w = 6,
  thresholds,
}: StatPanel): PanelDraft {
  return {
    title,
    description,
    viz: 'stat',
    w,
    h: 4,
    unit,
    ...(thresholds ? { thresholds } : {}),
    sql,
    columns: [{ name: column, kind: 'number', unit }],
  };
}

export interface FindingsTable {
  title: string;
  description: string;
  /** Which findings, besides the standard filter (findingsSql). */
  where: string;
  /** Width in grid columns. Default 24. */
  w?: number;
  h: number;
  /** Rows at most. Default findingsSql's (100). */
  limit?: number;
}

/** A table of findings with the standard columns and drill-down links, latest activity first. */
export const findingsTable = ({
  title,
  description,
  where,
  w = 24,
  h,
  limit,
}: FindingsTable): PanelDraft => ({
  title,
  description,
  viz: 'table',
  w,
  h,
  sql: findingsSql(where, limit),
  columns: FINDING_COLUMNS,
  sort: { column: 'last_seen', desc: true },
});

export interface TopEndpointsChart {
  title: string;
  description: string;
  w: number;
  h: number;
  /** The ranked number: its column name and its aggregate expression. */
  measure: { name: string; expr: string };
  /** The table (or `findings FINAL`); it must have method and route columns. */
  from: string;
  /** WHERE clauses, joined with AND. */
  where: string[];
}

/** A bar chart of the 15 endpoints ("METHOD route") with the highest `measure`. */
export const topEndpointsChart = ({
  title,
  description,
  w,
  h,
  measure,
  from,
  where,
}: TopEndpointsChart): PanelDraft => ({
  title,
  description,
  viz: 'barchart',
  w,
  h,
  sql: `SELECT trim(concat(method, ' ', route)) AS endpoint, ${measure.expr} AS ${measure.name}
FROM ${from}
WHERE ${allOf(...where)}
GROUP BY endpoint
ORDER BY ${measure.name} DESC
LIMIT 15`,
  columns: [
    { name: 'endpoint', kind: 'string' },
    { name: measure.name, kind: 'number', unit: 'short' },
  ],
  sort: { column: measure.name, desc: true },
});
