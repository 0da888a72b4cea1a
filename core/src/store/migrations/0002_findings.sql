-- Findings as detectors raised them. ReplacingMergeTree on the finding id: a finding re-delivered
-- by the bus collapses; `body` keeps the whole JSON for the API and the alert pipeline.
CREATE TABLE IF NOT EXISTS {{table:findings}} {{on_cluster}} (
    id String,
    fingerprint String,
    detector LowCardinality(String),
    title String,
    severity LowCardinality(String),
    confidence Float32,
    entity_kind LowCardinality(String),
    entity_id String,
    route LowCardinality(String),
    method LowCardinality(String),
    tenant LowCardinality(String),
    first_seen DateTime64(3, 'UTC') CODEC(Delta(8), ZSTD(1)),
    last_seen DateTime64(3, 'UTC') CODEC(Delta(8), ZSTD(1)),
    detected_at DateTime64(3, 'UTC') CODEC(Delta(8), ZSTD(1)),
    owasp LowCardinality(String),
    nist LowCardinality(String),
    observed Float64,
    baseline Nullable(Float64),
    summary String CODEC(ZSTD(3)),
    body String CODEC(ZSTD(3))
) ENGINE = {{engine:ReplacingMergeTree}}
PARTITION BY toYYYYMM(detected_at)
ORDER BY (detector, first_seen, id)
SETTINGS non_replicated_deduplication_window = 1000;

{{distributed:findings:cityHash64(fingerprint)}};
