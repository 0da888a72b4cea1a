-- Canonical API call events (DESIGN.md §3), one row per call.
--
-- ORDER BY (tenant, route, ts, id): detectors and dashboards ask "this route (of this tenant)
-- over this time range" far more than anything else, so the primary index prunes to one route's
-- granules inside a day partition, and rows of one route sit together, which is what makes
-- method, status, host and user agent compress to almost nothing and ts to ~2 bytes (Delta).
-- `id` last makes the key unique per event, which ReplacingMergeTree needs to collapse a
-- re-delivered event. Clustering by credential inside an hour bucket was measured and rejected
-- (docs/store.md): it doubled ts and did not shrink the fingerprints.
-- Lookups by IP across routes (entity investigation) use the bloom-filter skip index.
-- Retention (TTL) is not part of this file: the store applies store.retention with
-- ALTER … MODIFY TTL, so changing the config never changes a migration.
CREATE TABLE IF NOT EXISTS {{table:api_events}} {{on_cluster}} (
    id String CODEC(ZSTD(3)),
    ts DateTime64(3, 'UTC') CODEC(Delta(8), ZSTD(1)),
    ingest_ts DateTime64(3, 'UTC') CODEC(Delta(8), ZSTD(1)),
    tenant LowCardinality(String),
    method LowCardinality(String),
    scheme LowCardinality(String),
    host LowCardinality(String),
    path String CODEC(ZSTD(3)),
    route LowCardinality(String),
    query_keys Array(LowCardinality(String)),
    status UInt16 CODEC(T64, ZSTD(1)),
    latency_ms Float32 CODEC(ZSTD(1)),
    request_bytes UInt32 CODEC(T64, ZSTD(1)),
    response_bytes UInt32 CODEC(T64, ZSTD(1)),
    client_ip String CODEC(ZSTD(3)),
    peer_ip LowCardinality(String),
    user_agent LowCardinality(String),
    credential_kind LowCardinality(String),
    credential_fingerprint String CODEC(ZSTD(3)),
    credential_ref String CODEC(ZSTD(3)),
    credential_issuer LowCardinality(String),
    principal LowCardinality(String),
    service LowCardinality(String),
    user String CODEC(ZSTD(3)),
    scopes Array(LowCardinality(String)),
    auth LowCardinality(String),
    -- The actor key (model/actor.ts actorKey), computed on read: storing it would cost ~20 bytes per
    -- event for a value the other identity columns already determine. Keep the two in step.
    actor String ALIAS multiIf(
        auth = 'failure',
            if(credential_kind = 'mtls' AND service != '', concat('service:', service),
               concat('ip:', if(client_ip != '', client_ip, if(peer_ip != '', peer_ip, 'unknown')))),
        credential_fingerprint != '', concat('credential:', credential_fingerprint),
        user != '', concat('user:', user),
        service != '', concat('service:', service),
        concat('ip:', if(client_ip != '', client_ip, if(peer_ip != '', peer_ip, 'unknown')))),
    object_names Array(LowCardinality(String)),
    object_ids Array(String) CODEC(ZSTD(3)),
    trace_id String CODEC(ZSTD(3)),
    span_id String CODEC(ZSTD(3)),
    source_kind LowCardinality(String),
    gateway LowCardinality(String),
    collector LowCardinality(String),
    INDEX idx_client_ip client_ip TYPE bloom_filter(0.01) GRANULARITY 4
) ENGINE = {{engine:ReplacingMergeTree}}
PARTITION BY toDate(ts)
ORDER BY (tenant, route, ts, id)
-- Larger compression blocks give ZSTD a longer window over the high-cardinality identity columns
-- (fingerprints, IPs, users repeat across minutes, not within a 1 MiB block): measured in docs/store.md.
SETTINGS non_replicated_deduplication_window = 1000, min_compress_block_size = 1048576, max_compress_block_size = 8388608;

{{distributed:api_events:cityHash64(actor)}};
