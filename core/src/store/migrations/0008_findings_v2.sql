-- Findings v2 (schemaVersion 2): status, ended_at, family, entity name and ref, labels. An
-- episode's firing and resolved updates share the id (fingerprint + episode start) and so the
-- sort key; ReplacingMergeTree(version) keeps the newest update whatever the insert order:
-- version = detected_at (ms) * 2 + (1 if resolved), so a resolved update replaces the firing one
-- and a later firing update (the episode grew) replaces an earlier one. Partitioned by the
-- episode start, not by detected_at, so both updates of an episode always meet in one partition.
-- Read current state with FINAL (or argMax(…, version) GROUP BY id).
CREATE TABLE IF NOT EXISTS {{table:findings_v2}} {{on_cluster}} (
    id String,
    fingerprint String,
    detector LowCardinality(String),
    family LowCardinality(String),
    status LowCardinality(String),
    version UInt64,
    title String,
    severity LowCardinality(String),
    confidence Float32,
    entity_kind LowCardinality(String),
    entity_id String,
    entity_name String,
    entity_ref String,
    route LowCardinality(String),
    method LowCardinality(String),
    tenant LowCardinality(String),
    first_seen DateTime64(3, 'UTC') CODEC(Delta(8), ZSTD(1)),
    last_seen DateTime64(3, 'UTC') CODEC(Delta(8), ZSTD(1)),
    ended_at Nullable(DateTime64(3, 'UTC')),
    detected_at DateTime64(3, 'UTC') CODEC(Delta(8), ZSTD(1)),
    owasp LowCardinality(String),
    nist LowCardinality(String),
    observed Float64,
    baseline Nullable(Float64),
    labels Map(LowCardinality(String), String),
    summary String CODEC(ZSTD(3)),
    body String CODEC(ZSTD(3))
) ENGINE = {{engine:ReplacingMergeTree(version)}}
PARTITION BY toYYYYMM(first_seen)
ORDER BY (detector, first_seen, id)
SETTINGS non_replicated_deduplication_window = 1000;

INSERT INTO {{table:findings_v2}} (id, fingerprint, detector, family, status, version, title, severity,
    confidence, entity_kind, entity_id, entity_name, entity_ref, route, method, tenant, first_seen,
    last_seen, ended_at, detected_at, owasp, nist, observed, baseline, labels, summary, body)
SELECT id, fingerprint, detector, splitByChar('.', detector)[1], 'firing',
    toUInt64(toUnixTimestamp64Milli(detected_at)) * 2, title, severity, confidence, entity_kind,
    entity_id, entity_id, '', route, method, tenant, first_seen, last_seen, NULL, detected_at, owasp,
    nist, observed, baseline, map(), summary, body
FROM {{table:findings}};

EXCHANGE TABLES {{table:findings}} AND {{table:findings_v2}} {{on_cluster}};

DROP TABLE IF EXISTS {{table:findings_v2}} {{on_cluster}} SYNC;
