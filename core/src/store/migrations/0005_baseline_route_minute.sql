-- Route × minute baseline, kept by a materialized view as events arrive: requests, status
-- classes, auth failures, bytes, latency quantile states and distinct actors (uniq state).
-- Sums are SimpleAggregateFunction (read with sum()); states are read with -Merge.
CREATE TABLE IF NOT EXISTS {{table:baseline_route_minute}} {{on_cluster}} (
    tenant LowCardinality(String),
    route LowCardinality(String),
    method LowCardinality(String),
    minute DateTime('UTC') CODEC(Delta(4), ZSTD(1)),
    requests SimpleAggregateFunction(sum, UInt64),
    status_1xx SimpleAggregateFunction(sum, UInt64),
    status_2xx SimpleAggregateFunction(sum, UInt64),
    status_3xx SimpleAggregateFunction(sum, UInt64),
    status_4xx SimpleAggregateFunction(sum, UInt64),
    status_5xx SimpleAggregateFunction(sum, UInt64),
    status_other SimpleAggregateFunction(sum, UInt64),
    auth_failures SimpleAggregateFunction(sum, UInt64),
    request_bytes SimpleAggregateFunction(sum, UInt64),
    response_bytes SimpleAggregateFunction(sum, UInt64),
    latency_ms AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), Float32),
    actors AggregateFunction(uniq, String)
) ENGINE = {{engine:AggregatingMergeTree}}
PARTITION BY toYYYYMM(minute)
ORDER BY (tenant, route, method, minute)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{table:baseline_route_minute_mv}} {{on_cluster}}
TO {{table:baseline_route_minute}} AS
SELECT
    tenant, route, method,
    toStartOfMinute(ts) AS minute,
    count() AS requests,
    countIf(status >= 100 AND status < 200) AS status_1xx,
    countIf(status >= 200 AND status < 300) AS status_2xx,
    countIf(status >= 300 AND status < 400) AS status_3xx,
    countIf(status >= 400 AND status < 500) AS status_4xx,
    countIf(status >= 500 AND status < 600) AS status_5xx,
    countIf(status < 100 OR status >= 600) AS status_other,
    countIf(auth = 'failure') AS auth_failures,
    sum(request_bytes) AS request_bytes,
    sum(response_bytes) AS response_bytes,
    quantilesTDigestState(0.5, 0.95, 0.99)(latency_ms) AS latency_ms,
    uniqState(toString(actor)) AS actors
FROM {{table:api_events_in}}
GROUP BY tenant, route, method, minute;

{{distributed:baseline_route_minute:cityHash64(route)}};
