-- OpenAPI documents uploaded through the management API (POST /api/v1/specs). One row per
-- upload; the current document of a name is its newest upload (ReplacingMergeTree on
-- uploaded_at, read with FINAL). The ingest route stage loads them beside ingest.specs and
-- reloads when the set of (name, checksum) changes. Kept forever: a spec is configuration.
CREATE TABLE IF NOT EXISTS {{table:api_specs}} {{on_cluster}} (
    name String,
    uploaded_at DateTime64(3, 'UTC'),
    uploaded_by String,
    title String,
    version String,
    openapi LowCardinality(String),
    operations UInt32,
    sha256 String,
    bytes UInt32,
    document String CODEC(ZSTD(3))
) ENGINE = {{engine:ReplacingMergeTree(uploaded_at)}}
ORDER BY name
SETTINGS non_replicated_deduplication_window = 1000;

{{distributed:api_specs:cityHash64(name)}};
