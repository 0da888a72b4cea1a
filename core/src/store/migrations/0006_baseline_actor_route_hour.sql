-- Actor × route × hour baseline: requests, failures and distinct object ids (uniq state) per
-- actor, for BOLA peer comparisons and per-actor-class seasonality. actor_kind is the actor
-- key's prefix (credential, user, service, ip).
CREATE TABLE IF NOT EXISTS {{table:baseline_actor_route_hour}} {{on_cluster}} (
    tenant LowCardinality(String),
    route LowCardinality(String),
    method LowCardinality(String),
    hour DateTime('UTC') CODEC(Delta(4), ZSTD(1)),
    actor_kind LowCardinality(String),
    principal SimpleAggregateFunction(any, LowCardinality(String)),
    actor String,
    requests SimpleAggregateFunction(sum, UInt64),
    failures SimpleAggregateFunction(sum, UInt64),
    auth_failures SimpleAggregateFunction(sum, UInt64),
    forbidden SimpleAggregateFunction(sum, UInt64),
    not_found SimpleAggregateFunction(sum, UInt64),
    objects AggregateFunction(uniq, String)
) ENGINE = {{engine:AggregatingMergeTree}}
PARTITION BY toYYYYMM(hour)
ORDER BY (tenant, route, method, hour, actor_kind, actor)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{table:baseline_actor_route_hour_mv}} {{on_cluster}}
TO {{table:baseline_actor_route_hour}} AS
SELECT
    tenant, route, method,
    toStartOfHour(ts) AS hour,
    splitByChar(':', toString(actor))[1] AS actor_kind,
    any(principal) AS principal,
    toString(actor) AS actor,
    count() AS requests,
    countIf(status >= 400 OR status = 0) AS failures,
    countIf(auth = 'failure') AS auth_failures,
    countIf(status = 403) AS forbidden,
    countIf(status = 404) AS not_found,
    uniqArrayState(object_ids) AS objects
FROM {{table:api_events_in}}
GROUP BY tenant, route, method, hour, actor_kind, actor;

{{distributed:baseline_actor_route_hour:cityHash64(actor)}};
