/**
 * The minimal tables of the walking skeleton. DateTime64 columns take epoch milliseconds from
 * JSONEachRow. ReplacingMergeTree on the id makes a re-inserted row collapse on merge, and
 * queries that must be exact use FINAL.
 */
export const SCHEMA_STATEMENTS: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS api_events (
    id String,
    ts DateTime64(3, 'UTC'),
    ingest_ts DateTime64(3, 'UTC'),
    method LowCardinality(String),
    host LowCardinality(String),
    path String,
    route LowCardinality(String),
    status UInt16,
    latency_ms Float32,
    request_bytes UInt64,
    response_bytes UInt64,
    client_ip String,
    user_agent String,
    credential_kind LowCardinality(String),
    credential_fingerprint String,
    credential_ref String,
    service String,
    user String,
    tenant LowCardinality(String),
    auth LowCardinality(String),
    actor String,
    object_ids Array(String),
    source_kind LowCardinality(String),
    collector LowCardinality(String),
    trace_id String
  ) ENGINE = ReplacingMergeTree
  PARTITION BY toDate(ts)
  ORDER BY (route, ts, id)`,
  `CREATE TABLE IF NOT EXISTS findings (
    id String,
    fingerprint String,
    detector LowCardinality(String),
    severity LowCardinality(String),
    confidence Float32,
    entity_kind LowCardinality(String),
    entity_id String,
    route String,
    method LowCardinality(String),
    tenant LowCardinality(String),
    first_seen DateTime64(3, 'UTC'),
    last_seen DateTime64(3, 'UTC'),
    detected_at DateTime64(3, 'UTC'),
    owasp LowCardinality(String),
    nist LowCardinality(String),
    summary String,
    body String
  ) ENGINE = ReplacingMergeTree
  ORDER BY (detector, first_seen, id)`,
];
