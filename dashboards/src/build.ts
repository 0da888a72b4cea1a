import * as barchart from '@grafana/grafana-foundation-sdk/barchart';
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import {
  DATASOURCE_TYPE,
  DATASOURCE_UID,
  type DashboardSpec,
  type PanelSpec,
  PLUGIN_VERSION,
  TAG,
  type VariableSpec,
} from './model.ts';

export const DATASOURCE: dashboard.DataSourceRef = { type: DATASOURCE_TYPE, uid: DATASOURCE_UID };

/** A grafana-clickhouse-datasource target in the plugin's v4 format (src/types/sql.ts). */
export interface ClickHouseQuery extends cog.Dataquery {
  refId: string;
  hide?: boolean;
  datasource: dashboard.DataSourceRef;
  pluginVersion: string;
  editorType: 'sql';
  rawSql: string;
  /** sqlds FormatQueryOption: 0 time series, 1 table, 2 logs, 3 traces. */
  format: 0 | 1 | 2 | 3;
  queryType: 'timeseries' | 'table' | 'logs' | 'traces';
}

/** The custom query type the Foundation SDK has no built-in for (its README's custom-query pattern). */
export class ClickHouseQueryBuilder implements cog.Builder<cog.Dataquery> {
  private readonly q: ClickHouseQuery;
  constructor(refId: string, rawSql: string, timeSeries: boolean) {
    this.q = {
      refId,
      datasource: DATASOURCE,
      pluginVersion: PLUGIN_VERSION,
      editorType: 'sql',
      rawSql,
      format: timeSeries ? 0 : 1,
      queryType: timeSeries ? 'timeseries' : 'table',
      _implementsDataqueryVariant() {},
    };
  }
  build(): ClickHouseQuery {
    return this.q;
  }
}

const thresholds = (steps: PanelSpec['thresholds']) =>
  new dashboard.ThresholdsConfigBuilder()
    .mode(dashboard.ThresholdsMode.Absolute)
    .steps((steps ?? [['green', null]]).map(([color, value]) => ({ color, value })));

/** Per-column units and data links as field overrides (the column declarations are the source). */
function columnOverrides(p: PanelSpec): Array<{ name: string; props: dashboard.DynamicConfigValue[] }> {
  const out: Array<{ name: string; props: dashboard.DynamicConfigValue[] }> = [];
  for (const c of p.columns) {
    const props: dashboard.DynamicConfigValue[] = [];
    if (c.unit && c.unit !== p.unit) props.push({ id: 'unit', value: c.unit });
    if (c.link) props.push({ id: 'links', value: [{ title: c.link.title, url: c.link.url }] });
    if (props.length > 0) out.push({ name: c.name, props });
  }
  return out;
}

function panelBuilder(p: PanelSpec): cog.Builder<dashboard.Panel> {
  const target = new ClickHouseQueryBuilder('A', p.sql, p.viz === 'timeseries');
  const common_ = <
    B extends {
      id(n: number): B;
      title(t: string): B;
      description(d: string): B;
      datasource(d: dashboard.DataSourceRef): B;
      gridPos(g: dashboard.GridPos): B;
      withTarget(t: cog.Builder<cog.Dataquery>): B;
      thresholds(t: cog.Builder<dashboard.ThresholdsConfig>): B;
      unit(u: string): B;
      overrideByName(n: string, props: dashboard.DynamicConfigValue[]): B;
    },
  >(
    b: B,
  ): B => {
    let out = b
      .id(p.id)
      .title(p.title)
      .description(p.description)
      .datasource(DATASOURCE)
      .gridPos(p.grid)
      .withTarget(target)
      .thresholds(thresholds(p.thresholds));
    if (p.unit) out = out.unit(p.unit);
    for (const o of columnOverrides(p)) out = out.overrideByName(o.name, o.props);
    return out;
  };
  switch (p.viz) {
    case 'timeseries': {
      let b = common_(new timeseries.PanelBuilder())
        .lineWidth(1)
        .fillOpacity(p.stacked ? 80 : 10)
        .legend(
          new common.VizLegendOptionsBuilder()
            .showLegend(true)
            .displayMode(common.LegendDisplayMode.List)
            .placement(common.LegendPlacement.Bottom),
        )
        .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi));
      if (p.stacked)
        b = b
          .drawStyle(common.GraphDrawStyle.Bars)
          .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
      return b;
    }
    case 'stat':
      return common_(new stat.PanelBuilder())
        .graphMode(common.BigValueGraphMode.None)
        .colorMode(common.BigValueColorMode.Value)
        .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
    case 'table': {
      let b = common_(new table.PanelBuilder()).filterable(true).showHeader(true);
      if (p.sort)
        b = b.sortBy([
          new common.TableSortByFieldStateBuilder().displayName(p.sort.column).desc(p.sort.desc),
        ]);
      return b;
    }
    case 'barchart':
      return common_(new barchart.PanelBuilder())
        .xField(p.columns[0]!.name)
        .orientation(common.VizOrientation.Horizontal)
        .showValue(common.VisibilityMode.Auto);
  }
}

function variableBuilder(v: VariableSpec): cog.Builder<dashboard.VariableModel> {
  switch (v.kind) {
    case 'query':
      return new dashboard.QueryVariableBuilder(v.name)
        .label(v.label)
        .description(v.description)
        .datasource(DATASOURCE)
        .query({ editorType: 'sql', rawSql: v.sql ?? '', format: 1, pluginVersion: PLUGIN_VERSION })
        .definition(v.sql ?? '')
        .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
        .sort(dashboard.VariableSort.AlphabeticalAsc)
        .multi(v.multi ?? false)
        .includeAll(v.includeAll ?? false)
        .current({ text: 'All', value: '$__all', selected: true });
    case 'textbox':
      return new dashboard.TextBoxVariableBuilder(v.name).label(v.label).description(v.description);
    case 'custom':
      return new dashboard.CustomVariableBuilder(v.name)
        .label(v.label)
        .description(v.description)
        .values((v.options ?? []).join(','))
        .multi(v.multi ?? false)
        .includeAll(v.includeAll ?? false);
  }
}

/** The dashboard's classic (v1, schemaVersion 42) JSON, as file provisioning reads it. */
export function buildDashboard(d: DashboardSpec): dashboard.Dashboard {
  let b = new dashboard.DashboardBuilder(d.title)
    .uid(d.uid)
    .description(d.description)
    .tags(d.tags)
    .time(d.time)
    .refresh('1m')
    .timezone('utc')
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .readonly()
    .link(
      new dashboard.DashboardLinkBuilder('apiwatch dashboards')
        .type(dashboard.DashboardLinkType.Dashboards)
        .tags([TAG])
        .asDropdown(true)
        .includeVars(true)
        .keepTime(true),
    );
  for (const v of d.variables) b = b.withVariable(variableBuilder(v));
  for (const p of d.panels) b = b.withPanel(panelBuilder(p));
  return b.build();
}

/** The JSON text committed for a dashboard. */
export function dashboardJson(d: DashboardSpec): string {
  return `${JSON.stringify(buildDashboard(d), null, 2)}\n`;
}
