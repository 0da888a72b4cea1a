-- API tokens revoked with `apiwatch tokens revoke` (POST /api/v1/tokens/{id}/revoke): the
-- token's SHA-256 (never the token), its id, name and role, who revoked it, when and why. The
-- management and alert API refuse a token whose hash is here (401). Kept forever, no TTL: a
-- revocation that expired would bring the token back.
CREATE TABLE IF NOT EXISTS {{table:api_token_revocations}} {{on_cluster}} (
    token_sha256 String,
    token_id String,
    name String,
    role LowCardinality(String),
    revoked_at DateTime64(3, 'UTC'),
    revoked_by String,
    reason String
) ENGINE = {{engine:ReplacingMergeTree(revoked_at)}}
ORDER BY token_sha256
SETTINGS non_replicated_deduplication_window = 1000;

{{distributed:api_token_revocations:cityHash64(token_sha256)}};
