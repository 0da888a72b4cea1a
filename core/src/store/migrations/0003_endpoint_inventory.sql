-- API inventory: every (tenant, host, method, route) seen, with first/last seen and counts, kept
-- by a materialized view as events arrive. Spec status comes from whoever compares traffic with
-- the OpenAPI specs: it inserts a row with argMaxState(status, classified_at) and the latest
-- classification wins; the view itself contributes 'unknown' at the epoch, which always loses.
-- Read with: SELECT tenant, host, method, route, min(first_seen), max(last_seen), sum(requests),
--   argMaxMerge(spec_status) FROM endpoint_inventory GROUP BY tenant, host, method, route
CREATE TABLE IF NOT EXISTS {{table:endpoint_inventory}} {{on_cluster}} (
    tenant LowCardinality(String),
    host LowCardinality(String),
    method LowCardinality(String),
    route LowCardinality(String),
    first_seen SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_seen SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    requests SimpleAggregateFunction(sum, UInt64),
    errors SimpleAggregateFunction(sum, UInt64),
    auth_failures SimpleAggregateFunction(sum, UInt64),
    sample_path SimpleAggregateFunction(any, String),
    spec_status AggregateFunction(argMax, String, DateTime64(3, 'UTC'))
) ENGINE = {{engine:AggregatingMergeTree}}
ORDER BY (tenant, host, method, route)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{table:endpoint_inventory_mv}} {{on_cluster}}
TO {{table:endpoint_inventory}} AS
SELECT
    tenant, host, method, route,
    min(ts) AS first_seen,
    max(ts) AS last_seen,
    count() AS requests,
    countIf(status >= 500 OR status = 0) AS errors,
    countIf(auth = 'failure') AS auth_failures,
    any(path) AS sample_path,
    argMaxState('unknown', toDateTime64(0, 3, 'UTC')) AS spec_status
FROM {{table:api_events_in}}
GROUP BY tenant, host, method, route;

{{distributed:endpoint_inventory:cityHash64(route)}};
