-- Records that never became events or could not be stored (apiwatch.dlq), with their reason and
-- the raw record, redacted before it got here. Kept 30 days: long enough to fix a log format and
-- replay; raw records are large and only useful while someone is looking at them.
CREATE TABLE IF NOT EXISTS {{table:dead_letters}} {{on_cluster}} (
    ts DateTime64(3, 'UTC') CODEC(Delta(8), ZSTD(1)),
    source LowCardinality(String),
    collector LowCardinality(String),
    code LowCardinality(String),
    reason String CODEC(ZSTD(3)),
    raw String CODEC(ZSTD(3))
) ENGINE = {{engine:MergeTree}}
PARTITION BY toYYYYMM(ts)
ORDER BY (ts, source)
TTL toDateTime(ts) + INTERVAL 30 DAY
SETTINGS non_replicated_deduplication_window = 1000;

{{distributed:dead_letters:rand()}};
