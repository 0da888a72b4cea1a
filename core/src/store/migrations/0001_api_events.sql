-- Canonical API call events (DESIGN.md §3), one row per call, in two tables
-- (docs/decisions/0005-event-storage-size.md):
--
-- api_events_in (Null engine) takes the canonical row as the writers produce it (readable ids,
-- fingerprints, hex trace ids) and keeps nothing. Materialized views read each inserted block:
-- api_events_mv writes the compact stored row into api_events, credentials_mv keeps the readable
-- fingerprint per credential hash, and the inventory and baseline views (0003, 0005, 0006) read
-- the readable row too, so `actor` there is exactly model/actor.ts's key. The insert's
-- deduplication token deduplicates every view's target (deduplicate_blocks_in_dependent_materialized_views).
--
-- api_events stores what can be stored small, losslessly or as a documented hash:
--   id          sipHash64 of the event id (look up with `WHERE id = sipHash64('<event id>')`);
--   credential  sipHash64 of the credential fingerprint, 0 when none; readable in `credentials`
--               and through the credential_fingerprint ALIAS (credentials_dict);
--   ingest_ts   ALIAS over ingest_lag_ms (ms after ts);
--   path        ALIAS: path_raw, or '' there when the path is exactly the route template with its
--               {placeholders} filled by object_ids in order (checked at insert, so lossless);
--   client_ip   ALIAS over 16 binary bytes (IPv6; IPv4 read back as dotted quad) when the text is
--               the address's canonical form, else over client_ip_raw; the bloom-filter index is
--               on client_ip_bin (`WHERE client_ip_bin = toIPv6('10.1.2.3')` uses it);
--   trace_id / span_id  ALIASes over 16 / 8 binary bytes when the id is canonical lower-case hex
--               (32 / 16 digits), else over the *_raw text, so every value reads back unchanged.
--
-- ORDER BY (tenant, route, ts, id): detectors and dashboards ask "this route (of this tenant)
-- over this time range" far more than anything else, so the primary index prunes to one route's
-- granules inside a day partition, and rows of one route sit together, which is what makes
-- method, status, host and user agent compress to almost nothing and ts to ~2 bytes (Delta).
-- `id` last makes the key unique per event, which ReplacingMergeTree needs to collapse a
-- re-delivered event. Clustering by credential inside an hour bucket was measured and rejected
-- (docs/store.md): it doubled ts and did not shrink the fingerprints.
-- Retention (TTL) is not part of this file: the store applies store.retention with
-- ALTER … MODIFY TTL, so changing the config never changes a migration.
CREATE TABLE IF NOT EXISTS {{table:api_events_in}} {{on_cluster}} (
    id String,
    ts DateTime64(3, 'UTC'),
    ingest_ts DateTime64(3, 'UTC'),
    tenant String,
    method String,
    scheme String,
    host String,
    path String,
    route String,
    query_keys Array(String),
    status UInt16,
    latency_ms Float32,
    request_bytes UInt32,
    response_bytes UInt32,
    client_ip String,
    peer_ip String,
    user_agent String,
    credential_kind String,
    credential_fingerprint String,
    credential_ref String,
    credential_issuer String,
    principal String,
    service String,
    user String,
    scopes Array(String),
    auth String,
    -- The actor key, exactly model/actor.ts actorKey (keep the two in step): a failed call is its
    -- origin; a JWT is its subject (or client); else the credential, user, service, client IP.
    actor String ALIAS multiIf(
        auth = 'failure',
            if(credential_kind = 'mtls' AND service != '', concat('service:', service),
               concat('ip:', if(client_ip != '', client_ip, if(peer_ip != '', peer_ip, 'unknown')))),
        credential_kind = 'jwt' AND user != '', concat('user:', user),
        credential_kind = 'jwt' AND service != '', concat('service:', service),
        credential_fingerprint != '', concat('credential:', credential_fingerprint),
        user != '', concat('user:', user),
        service != '', concat('service:', service),
        concat('ip:', if(client_ip != '', client_ip, if(peer_ip != '', peer_ip, 'unknown')))),
    object_names Array(String),
    object_ids Array(String),
    trace_id String,
    span_id String,
    source_kind String,
    gateway String,
    collector String
) ENGINE = Null;

{{distributed:api_events_in:cityHash64(actor)}};

-- Credential hash → readable fingerprint (and what else the credential says), first/last seen.
-- Read with: SELECT credential, any(fingerprint), min(first_seen), max(last_seen), sum(events)
--   FROM credentials GROUP BY credential; join api_events on `credential`.
CREATE TABLE IF NOT EXISTS {{table:credentials}} {{on_cluster}} (
    credential UInt64,
    fingerprint SimpleAggregateFunction(any, String),
    kind SimpleAggregateFunction(any, LowCardinality(String)),
    ref SimpleAggregateFunction(any, String),
    issuer SimpleAggregateFunction(any, String),
    first_seen SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_seen SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    events SimpleAggregateFunction(sum, UInt64)
) ENGINE = {{engine:AggregatingMergeTree}}
ORDER BY credential
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{table:credentials_mv}} {{on_cluster}}
TO {{table:credentials}} AS
SELECT
    sipHash64(credential_fingerprint) AS credential,
    any(credential_fingerprint) AS fingerprint,
    any(credential_kind) AS kind,
    any(credential_ref) AS ref,
    any(credential_issuer) AS issuer,
    min(ts) AS first_seen,
    max(ts) AS last_seen,
    count() AS events
FROM {{table:api_events_in}}
WHERE credential_fingerprint != ''
GROUP BY credential_fingerprint;

{{distributed:credentials:cityHash64(credential)}};

-- Reads `credentials` on every lookup (DIRECT layout: never stale); backs the
-- api_events.credential_fingerprint ALIAS. With a cluster it reads the Distributed table.
CREATE DICTIONARY IF NOT EXISTS credentials_dict {{on_cluster}} (
    credential UInt64,
    fingerprint String
)
PRIMARY KEY credential
SOURCE(CLICKHOUSE(TABLE 'credentials'))
LAYOUT(DIRECT());

CREATE TABLE IF NOT EXISTS {{table:api_events}} {{on_cluster}} (
    id UInt64 CODEC(ZSTD(1)),
    ts DateTime64(3, 'UTC') CODEC(Delta(8), T64, ZSTD(1)),
    ingest_lag_ms Int64 CODEC(T64, ZSTD(1)),
    ingest_ts DateTime64(3, 'UTC') ALIAS ts + toIntervalMillisecond(ingest_lag_ms),
    tenant LowCardinality(String) CODEC(ZSTD(3)),
    method LowCardinality(String) CODEC(ZSTD(3)),
    scheme LowCardinality(String) CODEC(ZSTD(3)),
    host LowCardinality(String) CODEC(ZSTD(3)),
    route LowCardinality(String) CODEC(ZSTD(3)),
    path_raw String CODEC(ZSTD(9)),
    query_keys Array(LowCardinality(String)) CODEC(ZSTD(3)),
    status UInt16 CODEC(ZSTD(3)),
    latency_ms Float32 CODEC(ZSTD(3)),
    request_bytes UInt32 CODEC(T64, ZSTD(3)),
    response_bytes UInt32 CODEC(T64, ZSTD(3)),
    client_ip_bin IPv6 CODEC(ZSTD(9)),
    client_ip_raw String CODEC(ZSTD(3)),
    client_ip String ALIAS if(client_ip_bin = toIPv6('::'), client_ip_raw,
        if(startsWith(toString(client_ip_bin), '::ffff:') AND isIPv4String(substring(toString(client_ip_bin), 8)),
           substring(toString(client_ip_bin), 8), toString(client_ip_bin))),
    peer_ip LowCardinality(String) CODEC(ZSTD(3)),
    user_agent LowCardinality(String) CODEC(ZSTD(9)),
    credential_kind LowCardinality(String) CODEC(ZSTD(3)),
    credential UInt64 CODEC(ZSTD(9)),
    credential_fingerprint String ALIAS
        if(credential = 0, '', dictGetOrDefault('credentials_dict', 'fingerprint', credential, '')),
    credential_ref LowCardinality(String) CODEC(ZSTD(3)),
    credential_issuer LowCardinality(String) CODEC(ZSTD(3)),
    principal LowCardinality(String) CODEC(ZSTD(3)),
    service LowCardinality(String) CODEC(ZSTD(3)),
    user String CODEC(ZSTD(3)),
    scopes Array(LowCardinality(String)) CODEC(ZSTD(3)),
    auth LowCardinality(String) CODEC(ZSTD(3)),
    object_names Array(LowCardinality(String)) CODEC(ZSTD(3)),
    object_ids Array(String) CODEC(ZSTD(3)),
    path String ALIAS if(path_raw != '', path_raw, arrayStringConcat(arrayMap(
        (part, i) -> concat(part, if(i < length(splitByRegexp('\\{[^}]*\\}', route)), object_ids[i], '')),
        splitByRegexp('\\{[^}]*\\}', route), arrayEnumerate(splitByRegexp('\\{[^}]*\\}', route))))),
    trace_bin FixedString(16) CODEC(ZSTD(1)),
    trace_id_raw String CODEC(ZSTD(3)),
    trace_id String ALIAS if(trace_bin = toFixedString('', 16), trace_id_raw, lower(hex(trace_bin))),
    span_bin FixedString(8) CODEC(ZSTD(1)),
    span_id_raw String CODEC(ZSTD(3)),
    span_id String ALIAS if(span_bin = toFixedString('', 8), span_id_raw, lower(hex(span_bin))),
    source_kind LowCardinality(String) CODEC(ZSTD(3)),
    gateway LowCardinality(String) CODEC(ZSTD(3)),
    collector LowCardinality(String) CODEC(ZSTD(3)),
    INDEX idx_client_ip client_ip_bin TYPE bloom_filter(0.01) GRANULARITY 4
) ENGINE = {{engine:ReplacingMergeTree}}
PARTITION BY toDate(ts)
ORDER BY (tenant, route, ts, id)
-- Larger compression blocks give ZSTD a longer window over the high-cardinality identity columns
-- (credential hashes, IPs, users repeat across minutes, not within a 1 MiB block).
-- Columns at least half default (trace/span ids of untraced calls, the *_raw fallbacks, request
-- bytes of GETs) are stored sparse: only the non-default values and their positions.
SETTINGS non_replicated_deduplication_window = 1000, min_compress_block_size = 1048576, max_compress_block_size = 8388608,
    ratio_of_defaults_for_sparse_serialization = 0.5;

{{distributed:api_events:cityHash64(id)}};

CREATE MATERIALIZED VIEW IF NOT EXISTS {{table:api_events_mv}} {{on_cluster}}
TO {{table:api_events}} AS
SELECT
    sipHash64(e.id) AS id,
    e.ts AS ts,
    toUnixTimestamp64Milli(e.ingest_ts) - toUnixTimestamp64Milli(e.ts) AS ingest_lag_ms,
    e.tenant AS tenant, e.method AS method, e.scheme AS scheme, e.host AS host, e.route AS route,
    if(e.path = arrayStringConcat(arrayMap(
        (part, i) -> concat(part, if(i < length(splitByRegexp('\\{[^}]*\\}', e.route)), e.object_ids[i], '')),
        splitByRegexp('\\{[^}]*\\}', e.route), arrayEnumerate(splitByRegexp('\\{[^}]*\\}', e.route)))),
       '', e.path) AS path_raw, e.query_keys AS query_keys, e.status AS status, e.latency_ms AS latency_ms,
    e.request_bytes AS request_bytes, e.response_bytes AS response_bytes,
    if(toIPv6OrDefault(e.client_ip) != toIPv6('::') AND e.client_ip = if(
           startsWith(toString(toIPv6OrDefault(e.client_ip)), '::ffff:')
               AND isIPv4String(substring(toString(toIPv6OrDefault(e.client_ip)), 8)),
           substring(toString(toIPv6OrDefault(e.client_ip)), 8), toString(toIPv6OrDefault(e.client_ip))),
       toIPv6OrDefault(e.client_ip), toIPv6('::')) AS client_ip_bin,
    if(client_ip_bin = toIPv6('::'), e.client_ip, '') AS client_ip_raw,
    e.peer_ip AS peer_ip, e.user_agent AS user_agent,
    e.credential_kind AS credential_kind,
    if(e.credential_fingerprint = '', 0, sipHash64(e.credential_fingerprint)) AS credential,
    e.credential_ref AS credential_ref, e.credential_issuer AS credential_issuer,
    e.principal AS principal, e.service AS service, e.user AS user, e.scopes AS scopes, e.auth AS auth,
    e.object_names AS object_names, e.object_ids AS object_ids,
    if(match(e.trace_id, '^[0-9a-f]{32}$') AND e.trace_id != repeat('0', 32),
       toFixedString(unhex(e.trace_id), 16), toFixedString('', 16)) AS trace_bin,
    if(trace_bin = toFixedString('', 16), e.trace_id, '') AS trace_id_raw,
    if(match(e.span_id, '^[0-9a-f]{16}$') AND e.span_id != repeat('0', 16),
       toFixedString(unhex(e.span_id), 8), toFixedString('', 8)) AS span_bin,
    if(span_bin = toFixedString('', 8), e.span_id, '') AS span_id_raw,
    e.source_kind AS source_kind, e.gateway AS gateway, e.collector AS collector
FROM {{table:api_events_in}} AS e;
