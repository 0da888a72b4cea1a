-- One row per delivery attempt of a notification to a receiver (alerting/src/queue): what the
-- queue decided after the receiver answered — delivered, retried (a retryable failure with
-- attempts left) or dead_lettered (permanent, or attempts exhausted) — with the receiver's
-- error code and HTTP status, how long the send took, and how long after it was queued.
-- Append-only; the TTL follows store.retention.auditDays (it is the audit of what was sent).
CREATE TABLE IF NOT EXISTS {{table:notification_deliveries}} {{on_cluster}} (
    ts DateTime64(3, 'UTC') CODEC(Delta(8), ZSTD(1)),
    notification_id String,
    receiver LowCardinality(String),
    type LowCardinality(String),
    group_key String,
    status LowCardinality(String),
    attempt UInt16,
    outcome LowCardinality(String),
    code LowCardinality(String),
    http_status UInt16,
    send_ms UInt32,
    queued_at DateTime64(3, 'UTC') CODEC(Delta(8), ZSTD(1)),
    latency_ms UInt64,
    findings UInt32,
    error String CODEC(ZSTD(3))
) ENGINE = {{engine:MergeTree}}
PARTITION BY toYYYYMM(ts)
ORDER BY (receiver, ts, notification_id, attempt)
SETTINGS non_replicated_deduplication_window = 1000;

{{distributed:notification_deliveries:cityHash64(notification_id)}};
