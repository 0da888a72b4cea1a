-- Every automatic or manual response action (API-key revocation, …), append-only: who or what
-- decided, on which finding, against which target, and what the gateway answered. Never
-- replaced or collapsed; re-delivery is absorbed by the per-batch insert deduplication token.
CREATE TABLE IF NOT EXISTS {{table:response_actions_audit}} {{on_cluster}} (
    ts DateTime64(3, 'UTC') CODEC(Delta(8), ZSTD(1)),
    action_id String,
    action LowCardinality(String),
    mode LowCardinality(String),
    outcome LowCardinality(String),
    target_kind LowCardinality(String),
    target_ref String,
    gateway LowCardinality(String),
    finding_id String,
    finding_fingerprint String,
    detector LowCardinality(String),
    initiated_by String,
    reason String CODEC(ZSTD(3)),
    response_status UInt16,
    details String CODEC(ZSTD(3))
) ENGINE = {{engine:MergeTree}}
PARTITION BY toYYYYMM(ts)
ORDER BY (ts, action_id)
SETTINGS non_replicated_deduplication_window = 1000;

{{distributed:response_actions_audit:cityHash64(action_id)}};
