export { buildDashboard, ClickHouseQueryBuilder, DATASOURCE, dashboardJson } from './build.ts';
export { DASHBOARDS } from './dashboards/index.ts';
export {
  applyBackendMacros,
  applyConditionalAll,
  type ExpandContext,
  expandQuery,
  leftoverTokens,
  referencedVariables,
  replaceVariables,
  type VariableValue,
} from './macros.ts';
export * from './model.ts';
export { datasourceYaml, GRAFANA_DASHBOARDS_PATH, generatedFiles, providerYaml } from './provisioning.ts';
