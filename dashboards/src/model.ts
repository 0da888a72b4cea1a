/**
 * The single source of every dashboard: each panel is declared once, as data — its SQL (as
 * Grafana's ClickHouse data source receives it, macros and variables unexpanded), the columns the
 * SQL must return (name, kind, unit) and the order of its rows. The builder (build.ts) turns these
 * into Grafana JSON through the Foundation SDK; the test (dashboards.test.ts) expands every SQL the
 * way the plugin does (macros.ts) and runs it on chDB through the read-only ClickHouse endpoint,
 * checking the result against the same declaration.
 */

/** Fixed uid of the provisioned ClickHouse data source: every panel and variable refers to it. */
export const DATASOURCE_UID = 'apiwatch-clickhouse';
export const DATASOURCE_TYPE = 'grafana-clickhouse-datasource';
/** The plugin version the targets are written for (v4 query format). */
export const PLUGIN_VERSION = '4.20.0';
/** Tag every apiwatch dashboard carries; dashboard links list dashboards by it. */
export const TAG = 'apiwatch';

export type Viz = 'timeseries' | 'stat' | 'table' | 'barchart';

/** What a column must be: `time` = DateTime/DateTime64, `number` = any numeric type, `string`. */
export type ColumnKind = 'time' | 'number' | 'string';

export interface Column {
  name: string;
  kind: ColumnKind;
  /** Grafana unit id (e.g. short, percentunit, ms, bytes, dateTimeAsIso); checked against the kind. */
  unit?: string;
  /** A data link on this column's cells (table panels): a URL with Grafana variables. */
  link?: { title: string; url: string };
}

export interface PanelSpec {
  /** Panel id, unique in its dashboard (links and viewPanel URLs use it). */
  id: number;
  title: string;
  description: string;
  viz: Viz;
  /** Grid placement on Grafana's 24-column grid. */
  grid: { x: number; y: number; w: number; h: number };
  sql: string;
  /** Every column, in order. Time series: the time column first. */
  columns: Column[];
  /**
   * Order the rows must come in: time series are always ascending by their first column; tables
   * and bar charts name a column and direction.
   */
  sort?: { column: string; desc: boolean };
  /** Panel-wide unit (stat, time series). */
  unit?: string;
  /** Stat/bar thresholds: [color, from][] (first from is null = base). */
  thresholds?: Array<[string, number | null]>;
  /** Time series: stack the series as bars (counts by category). */
  stacked?: boolean;
}

export interface VariableSpec {
  name: string;
  label: string;
  kind: 'query' | 'textbox' | 'custom';
  /** Query variables: SQL returning one column (value) or two (value, text). */
  sql?: string;
  /** Custom variables: the options. */
  options?: string[];
  multi?: boolean;
  includeAll?: boolean;
  description: string;
}

export interface DashboardSpec {
  uid: string;
  title: string;
  /** Provisioning folder (a subdirectory of the provider's path: foldersFromFilesStructure). */
  folder: 'SOC' | 'Operations';
  /** File name (without .json). */
  file: string;
  description: string;
  /** What the dashboard answers (docs and the static render). */
  answers: string;
  tags: string[];
  time: { from: string; to: string };
  variables: VariableSpec[];
  panels: PanelSpec[];
}
