import { type Static, Type as T, type TOptional, type TSchema } from '@sinclair/typebox';
import { SECRET_REF_PATTERN } from './secrets.ts';

/**
 * The whole configuration: one schema that yields the types, the defaults, start-up validation
 * (errors name the key and the file) and docs/config.md. Secrets are never values here: a key
 * ending in `Env` names an environment variable, one ending in `File` names a file, and a secret
 * reference (`env:NAME` / `file:/path`) names either; core/src/config/secrets.ts resolves them all.
 */

/**
 * An environment variable that sets a key: the names apiwatch documented before `APIWATCH__*`
 * overrides existed, kept working. `value`: the key takes the variable's text; `env-ref`: the key
 * becomes `env:<name>` (the secret itself stays in the environment); `file-ref`: the key becomes
 * `file:<the variable's text>`. The first one set wins; the loader applies them over the file and
 * under `APIWATCH__*` overrides, and docs/config.md lists them.
 */
export interface EnvSource {
  name: string;
  as: 'value' | 'env-ref' | 'file-ref';
}
const fromEnv = (...envSources: EnvSource[]) => ({ envSources });

/** A secret reference: `env:NAME` or `file:/path`. */
const SecretReference = (description: string, ...sources: EnvSource[]) =>
  T.String({ pattern: SECRET_REF_PATTERN, description, ...fromEnv(...sources) });

const Listen = T.Object(
  {
    host: T.String({ default: '127.0.0.1', description: 'Address to bind.' }),
    port: T.Integer({
      minimum: 0,
      maximum: 65535,
      default: 8080,
      description: 'TCP port; 0 picks a free one.',
    }),
  },
  { additionalProperties: false, default: {} },
);

const Collector = T.Object(
  {
    id: T.String({
      pattern: '^[a-zA-Z0-9_.-]{1,64}$',
      description: 'Collector name; becomes source.collector.',
    }),
    tokenSha256: T.String({
      pattern: '^[0-9a-f]{64}$',
      description: 'SHA-256 (hex) of the collector bearer token; the token itself is never stored.',
    }),
  },
  { additionalProperties: false },
);

export const IngestConfig = T.Object(
  {
    listen: Listen,
    maxBodyBytes: T.Integer({
      minimum: 1024,
      default: 16 * 1024 * 1024,
      description: 'Largest request body, bytes.',
    }),
    maxRecordsPerRequest: T.Integer({
      minimum: 1,
      default: 50_000,
      description: 'Most records in one request.',
    }),
    maxInflatedBytes: T.Integer({
      minimum: 1024,
      default: 64 * 1024 * 1024,
      description:
        'Most bytes one push request may decompress to, all decompression together (Content-Encoding and gzip record data such as Firehose CloudWatch envelopes); past it the request is answered 413.',
    }),
    rateLimit: T.Object(
      {
        eventsPerSecond: T.Integer({
          minimum: 0,
          default: 100_000,
          description:
            'Sustained events per second each collector may send; 0 disables the limit. Over it: 429 + Retry-After.',
        }),
        burstEvents: T.Integer({
          minimum: 1,
          default: 200_000,
          description: 'Events a collector may send at once.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    tls: T.Optional(
      T.Object(
        {
          certFile: T.String({ description: 'PEM server certificate (chain).' }),
          keyFile: T.String({ description: 'PEM private key of the server certificate.' }),
          clientCaFile: T.Optional(
            T.String({ description: 'PEM CA bundle that signs collector client certificates.' }),
          ),
          requireClientCert: T.Boolean({
            default: false,
            description: 'Mutual TLS: refuse collectors without a certificate signed by clientCaFile.',
          }),
        },
        { additionalProperties: false, description: 'Serve ingest over HTTPS (and optionally mTLS).' },
      ),
    ),
    collectors: T.Array(Collector, {
      default: [],
      description:
        'Collectors allowed to post. Empty: a token is generated into <dataDir>/collector-token on first start.',
    }),
    specs: T.Array(T.String(), {
      default: [],
      description:
        'OpenAPI 3.x / Swagger 2.0 files (YAML or JSON) whose paths give route templates (docs/routes.md).',
    }),
    specsReloadSeconds: T.Integer({
      minimum: 0,
      maximum: 86_400,
      default: 30,
      description:
        'How often ingest re-reads the specs uploaded through the management API (api_specs in the store); an upload served by the same process applies at once. 0: only at start.',
    }),
    inferRoutes: T.Boolean({
      default: true,
      description: 'Infer route templates from traffic for paths no spec matches (docs/routes.md).',
    }),
    envoyAls: T.Object(
      {
        enabled: T.Boolean({
          default: false,
          description: 'Serve the Envoy gRPC Access Log Service (docs/formats/envoy-als.md).',
        }),
        host: T.String({ default: '127.0.0.1', description: 'Address the ALS gRPC server binds.' }),
        port: T.Integer({
          minimum: 0,
          maximum: 65535,
          default: 18000,
          description: 'ALS gRPC port; 0 picks a free one.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);

/** One claim name or an ordered list of them: the first claim present wins. */
const ClaimNames = T.Union([
  T.String({ minLength: 1 }),
  T.Array(T.String({ minLength: 1 }), { maxItems: 16 }),
]);
const HeaderNames = T.Array(T.String({ pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$" }), { maxItems: 16 });

/**
 * Identity mapping rules (docs/identity.md). Built twice: once with the defaults (the top level)
 * and once with every key optional (a per-source override that replaces only what it names).
 */
function identityRules<D extends boolean>(withDefaults: D) {
  type Opt<S extends TSchema> = D extends true ? S : TOptional<S>;
  const d = <V>(value: V) => (withDefaults ? { default: value } : {});
  const opt = <S extends TSchema>(schema: S): Opt<S> =>
    (withDefaults ? schema : T.Optional(schema)) as Opt<S>;
  return {
    jwt: opt(
      T.Object(
        {
          userClaim: opt(
            T.Union(ClaimNames.anyOf, { ...d('sub'), description: 'Claim(s) naming the end user.' }),
          ),
          serviceClaim: opt(
            T.Union(ClaimNames.anyOf, {
              ...d(['client_id', 'azp', 'cid', 'appid']),
              description: 'Claim(s) naming the calling client.',
            }),
          ),
          tenantClaim: opt(
            T.Union(ClaimNames.anyOf, {
              ...d(['tid', 'tenant', 'tenant_id', 'org_id']),
              description: 'Claim(s) naming the tenant.',
            }),
          ),
          scopesClaim: opt(
            T.Union(ClaimNames.anyOf, {
              ...d(['scope', 'scp']),
              description: 'Claim(s) holding scopes (space-separated or a list).',
            }),
          ),
          issuerClaim: opt(T.String({ ...d('iss'), description: 'Claim naming the issuer.' })),
          refClaim: opt(
            T.String({ ...d('jti'), description: 'Claim kept as the non-secret credential ref.' }),
          ),
        },
        { additionalProperties: false, ...d({}) },
      ),
    ),
    apiKeyHeaders: opt(
      T.Array(HeaderNames.items, {
        ...d(['x-api-key', 'apikey', 'api-key', 'x-apikey']),
        maxItems: 16,
        description: 'Headers carrying an API key (fingerprinted).',
      }),
    ),
    sessionCookies: opt(
      T.Array(T.String(), {
        ...d([
          'session',
          'sessionid',
          'session_id',
          'sid',
          'jsessionid',
          'phpsessid',
          'connect.sid',
          'asp.net_sessionid',
        ]),
        maxItems: 32,
        description: 'Cookie names (case-insensitive) whose value is a session credential (fingerprinted).',
      }),
    ),
    trustedHeaders: opt(
      T.Object(
        {
          user: opt(
            T.Array(HeaderNames.items, {
              ...d([]),
              maxItems: 16,
              description: 'Headers an authenticating proxy sets to the end user (e.g. ext_authz x-user-id).',
            }),
          ),
          service: opt(
            T.Array(HeaderNames.items, {
              ...d([]),
              maxItems: 16,
              description: 'Headers naming the calling service.',
            }),
          ),
          tenant: opt(
            T.Array(HeaderNames.items, { ...d([]), maxItems: 16, description: 'Headers naming the tenant.' }),
          ),
          kerberosPrincipal: opt(
            T.Array(HeaderNames.items, {
              ...d([]),
              maxItems: 16,
              description:
                'Headers carrying the Kerberos principal the gateway authenticated (e.g. x-remote-user).',
            }),
          ),
          clientCert: opt(
            T.Array(HeaderNames.items, {
              ...d([]),
              maxItems: 16,
              description:
                'Headers carrying the verified client certificate as XFCC (e.g. x-forwarded-client-cert).',
            }),
          ),
        },
        { additionalProperties: false, ...d({}) },
      ),
    ),
  };
}

export const IdentitySourceOverride = T.Object(identityRules(false), { additionalProperties: false });

const FingerprintKey = (which: 'current' | 'previous') => {
  const prefix = which === 'current' ? 'APIWATCH_FINGERPRINT_KEY' : 'APIWATCH_FINGERPRINT_PREVIOUS_KEY';
  return T.Object(
    {
      secret: T.Optional(
        SecretReference(
          which === 'current'
            ? 'The HMAC key credentials are fingerprinted with (hex or base64, at least 16 bytes), as env:NAME or file:path; unset: <dataDir>/fingerprint-key, created on first start. Every ingest replica must share it.'
            : 'During a rotation, the key fingerprints were made with before (env:NAME or file:path): secrets are then fingerprinted under both (docs/identity.md).',
          { name: prefix, as: 'env-ref' },
          { name: `${prefix}_FILE`, as: 'file-ref' },
        ),
      ),
      id:
        which === 'current'
          ? T.String({
              default: 'k1',
              description: 'Id every fingerprint carries (`<id>:…`); give a new key a new id.',
              ...fromEnv({ name: `${prefix}_ID`, as: 'value' }),
            })
          : T.Optional(
              T.String({
                description: 'Id of the previous key (required with its secret).',
                ...fromEnv({ name: `${prefix}_ID`, as: 'value' }),
              }),
            ),
    },
    { additionalProperties: false, default: {} },
  );
};

export const IdentityConfig = T.Object(
  {
    fingerprintKey: FingerprintKey('current'),
    previousFingerprintKey: FingerprintKey('previous'),
    ...identityRules(true),
    sources: T.Record(T.String({ pattern: '^[a-z0-9-]{1,64}$' }), IdentitySourceOverride, {
      default: {},
      description:
        'Per-source overrides keyed by format id (nginx, kong, envoy, …; a key no parser has is a start-up error naming the formats); each replaces only the keys it names.',
    }),
  },
  { additionalProperties: false, default: {} },
);

export const KafkaConfig = T.Object(
  {
    brokers: T.Array(T.String(), { minItems: 1, default: ['127.0.0.1:9092'] }),
    clientId: T.String({ default: 'apiwatch' }),
    groupPrefix: T.String({ default: 'apiwatch', description: 'Consumer groups are <groupPrefix>.<role>.' }),
    topics: T.Object(
      {
        events: T.String({ default: 'apiwatch.events' }),
        findings: T.String({ default: 'apiwatch.findings' }),
        dlq: T.String({ default: 'apiwatch.dlq' }),
        rekeyed: T.String({
          default: 'apiwatch.detect-rekeyed',
          description:
            'Second detection stage: events re-keyed by a global detector key (route, account, tenant) plus watermark marks (docs/decisions/0012).',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    partitions: T.Integer({
      minimum: 1,
      default: 4,
      description: 'Partitions when apiwatch creates a topic.',
    }),
    maxBatchEvents: T.Integer({ minimum: 1, default: 1000, description: 'Events per producer send.' }),
    connectionTimeoutMs: T.Integer({ minimum: 100, default: 5000 }),
  },
  { additionalProperties: false, default: {} },
);

export const BusConfig = T.Object(
  {
    kind: T.Union([T.Literal('memory'), T.Literal('kafka')], { default: 'memory' }),
    memory: T.Object(
      {
        capacity: T.Integer({
          minimum: 1,
          default: 65_536,
          description: 'Messages buffered per topic before publishers wait (backpressure).',
        }),
        journal: T.Object(
          {
            enabled: T.Boolean({
              default: true,
              description:
                'Write-ahead journal under <dataDir>/bus: a publish (an ingest 2xx) is acknowledged once on disk, and what consumers had not finished is delivered again after a crash (docs/decisions/0010-embedded-durability.md).',
            }),
            fsync: T.Boolean({
              default: true,
              description:
                'fdatasync each group commit; false survives a process crash but not an OS crash or power loss.',
            }),
            segmentBytes: T.Integer({
              minimum: 65_536,
              default: 64 * 1024 * 1024,
              description: 'Journal segment size, bytes; consumed segments are removed.',
            }),
          },
          { additionalProperties: false, default: {} },
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    kafka: KafkaConfig,
    consumerRetry: T.Object(
      {
        attempts: T.Integer({
          minimum: 1,
          default: 5,
          description:
            'Tries of a failing consumer batch before it is split and the message it fails on is dead-lettered (errors marked retryable, e.g. the store being down, are retried without bound).',
        }),
        initialBackoffMs: T.Integer({
          minimum: 1,
          default: 200,
          description: 'First retry delay, ms; doubles each attempt.',
        }),
        maxBackoffMs: T.Integer({ minimum: 1, default: 30_000, description: 'Longest retry delay, ms.' }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);

const StoreInsertRetry = T.Object(
  {
    attempts: T.Integer({
      minimum: 1,
      default: 8,
      description: 'Insert attempts on transient errors before the batch fails.',
    }),
    initialBackoffMs: T.Integer({
      minimum: 1,
      default: 200,
      description: 'First retry delay, ms; doubles each attempt.',
    }),
    maxBackoffMs: T.Integer({ minimum: 1, default: 10_000, description: 'Longest retry delay, ms.' }),
  },
  { additionalProperties: false, default: {} },
);

const StoreRetention = T.Object(
  {
    eventsDays: T.Integer({
      minimum: 0,
      default: 30,
      description: 'TTL of api_events, days; 0 keeps forever.',
    }),
    findingsDays: T.Integer({
      minimum: 0,
      default: 365,
      description: 'TTL of findings, days; 0 keeps forever.',
    }),
    baselinesDays: T.Integer({
      minimum: 0,
      default: 90,
      description: 'TTL of the baseline tables, days; 0 keeps forever.',
    }),
    auditDays: T.Integer({
      minimum: 0,
      default: 730,
      description: 'TTL of response_actions_audit and notification_deliveries, days; 0 keeps forever.',
    }),
  },
  { additionalProperties: false, default: {} },
);

const StoreHttpUser = T.Object(
  {
    name: T.String({ pattern: '^[a-zA-Z0-9_.-]{1,64}$' }),
    passwordSha256: T.Optional(
      T.String({ pattern: '^[0-9a-f]{64}$', description: 'SHA-256 (hex) of the password.' }),
    ),
    passwordEnv: T.Optional(T.String({ description: 'Environment variable holding the password.' })),
    passwordFile: T.Optional(T.String({ description: 'File holding the password.' })),
    readonly: T.Boolean({
      default: true,
      description:
        'Only SELECT, WITH, SHOW, DESCRIBE, EXISTS, EXPLAIN over the apiwatch database and the system tables clients need (docs/store.md, Security).',
    }),
  },
  { additionalProperties: false },
);

const StoreHttp = T.Object(
  {
    enabled: T.Boolean({
      default: false,
      description: 'Serve a ClickHouse-compatible HTTP endpoint over the embedded store.',
    }),
    listen: T.Object(
      {
        host: T.String({ default: '127.0.0.1', description: 'Address to bind.' }),
        port: T.Integer({
          minimum: 0,
          maximum: 65535,
          default: 8123,
          description: 'TCP port; 0 picks a free one.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    users: T.Array(StoreHttpUser, {
      default: [],
      description: 'Who may connect; none configured means nobody can.',
    }),
    maxBodyBytes: T.Integer({
      minimum: 1024,
      default: 256 * 1024 * 1024,
      description:
        'Largest request body of a writer, bytes, as sent and after Content-Encoding is undone (413 past it).',
    }),
    maxQueryBytes: T.Integer({
      minimum: 1024,
      default: 1024 * 1024,
      description:
        'Largest query text of a read-only user, bytes after Content-Encoding is undone (413 past it).',
    }),
    maxExecutionSeconds: T.Integer({
      minimum: 1,
      default: 60,
      description: 'max_execution_time of every query; a caller may only lower it.',
    }),
    maxMemoryBytes: T.Integer({
      minimum: 16 * 1024 * 1024,
      default: 2 * 1024 ** 3,
      description: 'max_memory_usage of every query, bytes; a caller may only lower it.',
    }),
    maxResultBytes: T.Integer({
      minimum: 1024,
      default: 256 * 1024 ** 2,
      description:
        'max_result_bytes of every query (the answer is held in memory); a caller may only lower it.',
    }),
    maxThreads: T.Integer({
      minimum: 1,
      default: 4,
      description: 'max_threads of every query; a caller may only lower it.',
    }),
  },
  { additionalProperties: false, default: {} },
);

/** A ClickHouse server or cluster (store.kind: clickhouse). */
export const ClickhouseConfig = T.Object(
  {
    url: T.String({ default: 'http://127.0.0.1:8123', description: 'HTTP(S) URL of the server.' }),
    username: T.String({ default: 'default' }),
    passwordEnv: T.String({
      default: 'APIWATCH_CLICKHOUSE_PASSWORD',
      description: 'Environment variable holding the password (unset: no password).',
    }),
    passwordFile: T.Optional(T.String({ description: 'File holding the password (wins over passwordEnv).' })),
    database: T.String({ default: 'default' }),
    cluster: T.String({
      default: '',
      description: 'Cluster name: DDL is rendered ON CLUSTER with Replicated*MergeTree + Distributed tables.',
    }),
    compression: T.Boolean({ default: true, description: 'gzip requests and responses.' }),
    requestTimeoutMs: T.Integer({ minimum: 100, default: 60_000 }),
  },
  { additionalProperties: false, default: {} },
);

export const StoreConfig = T.Object(
  {
    localReader: T.Object(
      {
        enabled: T.Boolean({
          default: true,
          description:
            "With the embedded store, serve it read-only on an ephemeral 127.0.0.1 port for the CLI's read commands (findings, store stats, demo) while the server holds the data directory; where and how to connect is written to <dataDir>/store-reader.json (mode 0600) and removed at stop.",
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    kind: T.Union([T.Literal('chdb'), T.Literal('clickhouse'), T.Literal('none')], {
      default: 'chdb',
      description: 'chdb: embedded engine; clickhouse: a server or cluster (see the clickhouse section).',
    }),
    chdb: T.Object(
      { path: T.String({ default: '', description: 'Data directory; empty means <dataDir>/chdb.' }) },
      { additionalProperties: false, default: {} },
    ),
    maxBatchRows: T.Integer({ minimum: 1, default: 50_000, description: 'Rows per insert.' }),
    maxBatchDelayMs: T.Integer({
      minimum: 10,
      default: 1000,
      description: 'Longest a row waits before insert.',
    }),
    maxBufferedRows: T.Integer({
      minimum: 1,
      default: 200_000,
      description:
        'Rows the store writer holds (pending plus being inserted) before consumers wait (backpressure).',
    }),
    insertRetry: StoreInsertRetry,
    retention: StoreRetention,
    http: StoreHttp,
  },
  { additionalProperties: false, default: {} },
);

/** A static level used where a baseline has too little history (cold start). */
const StaticLevelConfig = (median: number, mad: number, what: string) =>
  T.Object(
    {
      median: T.Number({ minimum: 0, default: median, description: `Expected ${what} per hour.` }),
      mad: T.Number({
        minimum: 0,
        default: mad,
        description: `Expected median absolute deviation of ${what} per hour.`,
      }),
    },
    { additionalProperties: false, default: {} },
  );

export const DetectBaselinesConfig = T.Object(
  {
    enabled: T.Boolean({
      default: true,
      description:
        'Learn baselines from the store (read-only: chDB embedded, ClickHouse distributed); false: every detector sees the static fallback (confidence low).',
    }),
    refreshMinutes: T.Integer({
      minimum: 1,
      maximum: 10_080,
      default: 60,
      description:
        'Event-time interval between snapshot refreshes: a new snapshot is built when the watermark crosses a multiple of it (replay refreshes on the replayed time).',
    }),
    lookbackWeeks: T.Integer({
      minimum: 1,
      maximum: 26,
      default: 4,
      description: 'History each refresh reads, weeks.',
    }),
    minWeeks: T.Integer({
      minimum: 1,
      maximum: 26,
      default: 2,
      description: 'Weeks an hour of the week needs before its seasonal median is trusted (confidence high).',
    }),
    minActors: T.Integer({
      minimum: 1,
      default: 20,
      description: 'Actors a route needs for its object percentiles to be trusted.',
    }),
    minRequests: T.Integer({
      minimum: 1,
      default: 1000,
      description: 'Requests a route needs for its auth-failure rate to be trusted.',
    }),
    maxKeys: T.Integer({
      minimum: 1,
      default: 2000,
      description: 'Cap on keys per baseline (busiest kept, the rest read as the fallback and are counted).',
    }),
    ownershipRefreshMinutes: T.Integer({
      minimum: 1,
      maximum: 10_080,
      default: 360,
      description:
        'Object ownership (bola.cross_principal, decision 0027) is re-read from the stored events when the watermark crosses a multiple of this: ownership is a habit of days, and one scan of the lookback per hourly refresh would dominate it.',
    }),
    maxObjects: T.Integer({
      minimum: 1,
      default: 500_000,
      description:
        'Cap on objects in the ownership table (the most recently used kept, ~24 B each): objects beyond it read as unowned, so nothing is judged on them.',
    }),
    fallback: T.Object(
      {
        requestsPerHour: StaticLevelConfig(1000, 500, 'requests'),
        actorsPerHour: StaticLevelConfig(100, 50, 'active actors'),
        objects: T.Object(
          {
            p50: T.Number({ minimum: 0, default: 10 }),
            p95: T.Number({ minimum: 0, default: 50 }),
            p99: T.Number({ minimum: 0, default: 100 }),
          },
          {
            additionalProperties: false,
            default: {},
            description: 'Distinct objects per actor per hour on a route, assumed without peer history.',
          },
        ),
        authFailureRate: T.Number({
          minimum: 0,
          maximum: 1,
          default: 0.05,
          description: 'Auth-failure share assumed without history.',
        }),
      },
      {
        additionalProperties: false,
        default: {},
        description: 'Static values read at cold start and for keys without history.',
      },
    ),
  },
  { additionalProperties: false, default: {} },
);

export const DetectSuppression = T.Object(
  {
    id: T.Optional(
      T.String({
        pattern: '^[a-zA-Z0-9_.-]{1,64}$',
        description: 'Name in metrics and logs; default: its position.',
      }),
    ),
    detector: T.String({
      minLength: 1,
      maxLength: 128,
      description: 'Detector id, or a pattern with * (auth.*, *).',
    }),
    entity: T.Optional(
      T.String({
        minLength: 1,
        maxLength: 600,
        description:
          'kind:id of the finding entity (ip:203.0.113.9, credential:…, endpoint:GET /health); * allowed.',
      }),
    ),
    route: T.Optional(T.String({ minLength: 1, maxLength: 1024, description: 'Route template; * allowed.' })),
    method: T.Optional(T.String({ minLength: 1, maxLength: 32 })),
    tenant: T.Optional(T.String({ minLength: 1, maxLength: 256 })),
    reason: T.String({
      minLength: 3,
      maxLength: 512,
      description: 'Why: kept in the audit trail and metrics.',
    }),
    expiresAt: T.String({
      pattern: '^\\d{4}-\\d{2}-\\d{2}T',
      description:
        'ISO 8601; after it (event time of the finding) the suppression no longer applies and is counted as expired.',
    }),
  },
  { additionalProperties: false },
);

export const DetectConfig = T.Object(
  {
    allowedLatenessMs: T.Integer({
      minimum: 0,
      default: 250,
      description:
        'How far behind the newest event time of its partition an event may arrive and still be ordered (watermark lag); live, also the longest an event waits for ordering.',
    }),
    maxActors: T.Integer({
      minimum: 100,
      default: 200_000,
      description:
        'Per-detector cap on state keys; at the cap the least recently seen key is evicted (counted per detector).',
    }),
    idleWatermarkMs: T.Integer({
      minimum: 0,
      default: 30_000,
      description:
        'Live only: when no event arrived for this long (wall clock), the watermark advances with the wall clock minus this, so open episodes still resolve; 0: never.',
    }),
    detectors: T.Record(T.String(), T.Record(T.String(), T.Unknown()), {
      default: {},
      description:
        "Per-detector settings keyed by detector id: the detector's own keys, `enabled`, and `overrides` ([{route, method, tenant, entity, set: {…}}]); each detector validates its own.",
    }),
    suppressions: T.Array(DetectSuppression, {
      default: [],
      maxItems: 1000,
      description:
        'Findings matching one of these are not emitted (counted per suppression) until it expires.',
    }),
    baselines: DetectBaselinesConfig,
    checkpoint: T.Object(
      {
        intervalSeconds: T.Integer({
          minimum: 0,
          default: 10,
          description:
            "Snapshot each owned events partition's detector state this often and commit offsets only up to the snapshot, so a restart resumes exactly (docs/decisions/0013): Kafka, and the embedded bus with its journal (one partition, global detectors included); 0: off (a restart loses open windows).",
        }),
        dir: T.String({
          default: '',
          description:
            'Where snapshots are kept; empty: <dataDir>/detect-checkpoints. Shared storage lets another host take a partition over.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);

// ---------------------------------------------------------------------------------------------
// alert: routing (Alertmanager's model), receivers, delivery, response actions. docs/alerting.md
// and docs/actions.md explain each part; decision 0019 says why the receiver and revoker config
// schemas live here while their code lives in alerting/ (the registries there use these objects).
// ---------------------------------------------------------------------------------------------

const SeverityName = T.Union(
  ['info', 'low', 'medium', 'high', 'critical'].map((s) => T.Literal(s)),
  { default: 'low' },
);
const ComponentId = T.String({ pattern: '^[a-zA-Z0-9_.-]{1,64}$' });
const SecretRef = {
  secretEnv: T.Optional(T.String({ description: 'Environment variable holding the secret.' })),
  secretFile: T.Optional(T.String({ description: 'File holding the secret.' })),
};
const Matchers = T.Array(T.String({ minLength: 3, maxLength: 512 }), {
  default: [],
  description:
    'Alertmanager matchers, all must hold: label=value, label!=value, label=~regex, label!~regex (regexes are anchored). Labels: detector, family, severity, status, entity_kind, entity, tenant, route, method, fingerprint and the finding labels (environment, service, …).',
});

const receiverCommon = {
  id: ComponentId,
  timeoutMs: T.Integer({ minimum: 100, default: 5000, description: 'Per-request timeout, ms.' }),
  minSeverity: SeverityName,
  rateLimitPerSecond: T.Number({
    minimum: 0,
    default: 0,
    description: "Most deliveries per second to this receiver (its own queue's limiter); 0: unlimited.",
  }),
};

export const WebhookReceiverConfig = T.Object(
  {
    ...receiverCommon,
    kind: T.Literal('webhook'),
    url: T.String({ pattern: '^https?://', description: 'Where notifications are POSTed.' }),
    ...SecretRef,
  },
  { additionalProperties: false, description: 'Generic webhook signed per Standard Webhooks.' },
);
export const SlackReceiverConfig = T.Object(
  {
    ...receiverCommon,
    kind: T.Literal('slack'),
    url: T.Optional(
      T.String({
        pattern: '^https?://',
        description: 'Incoming webhook URL; prefer urlEnv/urlFile (the URL is a secret).',
      }),
    ),
    urlEnv: T.Optional(T.String({ description: 'Environment variable holding the incoming webhook URL.' })),
    urlFile: T.Optional(T.String({ description: 'File holding the incoming webhook URL.' })),
  },
  { additionalProperties: false, description: 'Slack incoming webhook (Block Kit message).' },
);
export const PagerdutyReceiverConfig = T.Object(
  {
    ...receiverCommon,
    kind: T.Literal('pagerduty'),
    url: T.String({
      pattern: '^https?://',
      default: 'https://events.pagerduty.com/v2/enqueue',
      description: 'Events API v2 endpoint.',
    }),
    routingKeyEnv: T.Optional(
      T.String({ description: 'Environment variable holding the integration (routing) key.' }),
    ),
    routingKeyFile: T.Optional(T.String({ description: 'File holding the integration (routing) key.' })),
    source: T.String({ default: 'apiwatch', description: 'payload.source of every event.' }),
  },
  { additionalProperties: false, description: 'PagerDuty Events API v2.' },
);
export const AlertmanagerReceiverConfig = T.Object(
  {
    ...receiverCommon,
    kind: T.Literal('alertmanager'),
    url: T.String({
      pattern: '^https?://',
      description: 'Alertmanager base URL (alerts go to <url>/api/v2/alerts).',
    }),
    resolveTimeoutSeconds: T.Integer({
      minimum: 60,
      default: 3600,
      description:
        'endsAt of a firing alert, seconds ahead: Alertmanager resolves it by itself if apiwatch stops re-sending (repeatInterval should be shorter).',
    }),
  },
  { additionalProperties: false, description: 'Prometheus Alertmanager (POST /api/v2/alerts).' },
);
/** In the order of alerting/src/receivers/registry.ts (a test checks they agree). */
export const RECEIVER_CONFIG_SCHEMAS = [
  WebhookReceiverConfig,
  SlackReceiverConfig,
  PagerdutyReceiverConfig,
  AlertmanagerReceiverConfig,
] as const;

const routeFields = {
  receiver: T.Optional(ComponentId),
  matchers: Matchers,
  continue: T.Boolean({
    default: false,
    description: 'Keep matching the following sibling routes after this one matched.',
  }),
  groupBy: T.Optional(
    T.Array(T.String(), {
      description: "Labels whose values form a group ('...' = every label). Inherited when unset.",
    }),
  ),
  groupWaitSeconds: T.Optional(
    T.Number({ minimum: 0, description: 'Wait before the first notification of a new group. Inherited.' }),
  ),
  groupIntervalSeconds: T.Optional(
    T.Number({ minimum: 0, description: 'Wait before notifying about changes to a group. Inherited.' }),
  ),
  repeatIntervalSeconds: T.Optional(
    T.Number({ minimum: 0, description: 'Wait before re-sending an unchanged firing group. Inherited.' }),
  ),
};
const Route3 = T.Object(routeFields, { additionalProperties: false });
const Route2 = T.Object(
  { ...routeFields, routes: T.Array(Route3, { default: [] }) },
  { additionalProperties: false },
);
const Route1 = T.Object(
  { ...routeFields, routes: T.Array(Route2, { default: [] }) },
  { additionalProperties: false },
);
export const RootRouteConfig = T.Object(
  {
    receiver: T.Optional(ComponentId),
    groupBy: T.Array(T.String(), { default: ['detector', 'tenant', 'route'] }),
    groupWaitSeconds: T.Number({ minimum: 0, default: 5 }),
    groupIntervalSeconds: T.Number({ minimum: 0, default: 60 }),
    repeatIntervalSeconds: T.Number({ minimum: 0, default: 14_400 }),
    routes: T.Array(Route1, {
      default: [],
      description:
        'Child routes (three levels below the root). With no receiver and no routes, every receiver hears every finding at or above its minSeverity.',
    }),
  },
  { additionalProperties: false, default: {} },
);
export type RouteConfigValue = Static<typeof Route3> & { routes?: RouteConfigValue[] };

const InhibitRule = T.Object(
  {
    sourceMatchers: Matchers,
    targetMatchers: Matchers,
    equal: T.Array(T.String(), {
      default: [],
      description: 'Labels that must have equal values in source and target.',
    }),
  },
  { additionalProperties: false },
);

const RedisState = T.Object(
  {
    kind: T.Union([T.Literal('memory'), T.Literal('file'), T.Literal('redis')], {
      default: 'file',
      description:
        "Where groups, silences, the finding lifecycle and response-action state live: file (embedded default: an fsync'd journal under <dataDir>/alert-state, survives restarts of this process), redis (survives restarts, shared by the alert role wherever it runs), memory (forgotten on restart).",
    }),
    fsync: T.Boolean({
      default: true,
      description: 'kind file: fdatasync each change (false: survives a process crash, not a power loss).',
    }),
    redisUrl: T.String({ default: 'redis://127.0.0.1:6379' }),
    keyPrefix: T.String({ default: 'apiwatch:alert', description: 'Prefix of every Redis key.' }),
  },
  { additionalProperties: false, default: {} },
);

const ApiToken = T.Object(
  {
    name: ComponentId,
    role: T.Union([T.Literal('viewer'), T.Literal('analyst'), T.Literal('admin')], {
      description:
        'viewer reads; analyst silences, acknowledges, approves and undoes; admin also resets the breaker.',
    }),
    tokenSha256: T.String({ pattern: '^[0-9a-f]{64}$', description: 'SHA-256 (hex) of the bearer token.' }),
  },
  { additionalProperties: false },
);

const revokerCommon = { id: ComponentId, timeoutMs: T.Integer({ minimum: 100, default: 5000 }) };
export const KongRevokerConfig = T.Object(
  {
    ...revokerCommon,
    kind: T.Literal('kong'),
    adminUrl: T.String({ pattern: '^https?://', description: 'Kong Admin API base URL.' }),
    method: T.Union([T.Literal('acl-deny'), T.Literal('delete')], {
      default: 'acl-deny',
      description:
        "acl-deny: add the credential's consumer to denyGroup (reversible: undo and TTL restore it); delete: DELETE /key-auths/{ref} (irreversible, no undo).",
    }),
    denyGroup: T.String({ default: 'apiwatch-revoked', description: 'ACL group the ACL plugin denies.' }),
    adminTokenEnv: T.Optional(T.String({ description: 'Environment variable with the Kong-Admin-Token.' })),
    adminTokenFile: T.Optional(T.String({ description: 'File with the Kong-Admin-Token.' })),
  },
  { additionalProperties: false },
);
export const AwsApigwRevokerConfig = T.Object(
  {
    ...revokerCommon,
    kind: T.Literal('aws-apigw'),
    region: T.String({ default: 'us-east-1' }),
    endpoint: T.Optional(
      T.String({ pattern: '^https?://', description: 'Override the API Gateway endpoint.' }),
    ),
  },
  { additionalProperties: false },
);
export const HttpRevokerConfig = T.Object(
  {
    ...revokerCommon,
    kind: T.Literal('http'),
    revoke: T.Object(
      {
        method: T.String({ default: 'POST' }),
        url: T.String({ description: 'URL template: {{ref}}, {{entity.id}}, {{finding.id}}, {{action}} …' }),
        body: T.Optional(T.String({ description: 'Body template (values JSON-escaped).' })),
      },
      { additionalProperties: false },
    ),
    restore: T.Optional(
      T.Object(
        {
          method: T.String({ default: 'POST' }),
          url: T.String(),
          body: T.Optional(T.String()),
        },
        { additionalProperties: false },
      ),
    ),
    headers: T.Record(T.String(), T.String(), { default: {} }),
    ...SecretRef,
  },
  {
    additionalProperties: false,
    description: 'Generic HTTP hook; the secret, if any, is sent as a bearer token.',
  },
);
/** In the order of alerting/src/actions/registry.ts. */
export const REVOKER_CONFIG_SCHEMAS = [KongRevokerConfig, AwsApigwRevokerConfig, HttpRevokerConfig] as const;

const ActionRule = T.Object(
  {
    id: ComponentId,
    matchers: Matchers,
    revoker: ComponentId,
    minSeverity: T.Union(
      ['info', 'low', 'medium', 'high', 'critical'].map((s) => T.Literal(s)),
      { default: 'high' },
    ),
    minConfidence: T.Number({ minimum: 0, maximum: 1, default: 0.8 }),
    requireApproval: T.Boolean({ default: false, description: 'Pending until an analyst approves.' }),
    ttlSeconds: T.Integer({
      minimum: 0,
      default: 3600,
      description: 'Restore the credential automatically after this long; 0: until undone.',
    }),
  },
  { additionalProperties: false },
);

export const ActionsConfig = T.Object(
  {
    mode: T.Union([T.Literal('dry-run'), T.Literal('enforce')], {
      default: 'dry-run',
      description: 'dry-run records what would be done and does nothing.',
    }),
    rules: T.Array(ActionRule, { default: [] }),
    revokers: T.Array(T.Union([...REVOKER_CONFIG_SCHEMAS]), { default: [] }),
    allowlist: T.Object(
      {
        refs: T.Array(T.String(), { default: [], description: 'Credential refs never revoked.' }),
        entities: T.Array(T.String(), {
          default: [],
          description: 'Entity ids or names (service, user, consumer) never acted on.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    budget: T.Object(
      {
        maxPerHour: T.Integer({
          minimum: 1,
          default: 10,
          description: 'Actions in any rolling hour before the circuit breaker opens.',
        }),
        pageReceiver: T.Optional(ComponentId),
      },
      { additionalProperties: false, default: {} },
    ),
    decision: T.Object(
      {
        cacheTtlMs: T.Integer({ minimum: 0, default: 1000, description: 'How long a decision is cached.' }),
        failMode: T.Union([T.Literal('open'), T.Literal('closed')], {
          default: 'open',
          description: 'Answer when the revocation state cannot be read: open allows, closed denies.',
        }),
        apiKeyHeaders: T.Array(T.String(), { default: ['x-api-key', 'apikey'] }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);

export const AlertConfig = T.Object(
  {
    queue: T.Object(
      {
        kind: T.Union([T.Literal('memory'), T.Literal('bullmq')], {
          default: 'memory',
          description: 'bullmq needs redisUrl.',
        }),
        redisUrl: T.String({ default: 'redis://127.0.0.1:6379' }),
        name: T.String({
          default: 'apiwatch-notifications',
          description: 'Queue name prefix: one queue per receiver is <name>.<receiver id>.',
        }),
        attempts: T.Integer({
          minimum: 1,
          default: 12,
          description: 'Delivery attempts before a job is dead-lettered.',
        }),
        backoffMs: T.Integer({
          minimum: 1,
          default: 1000,
          description: 'First retry delay; doubles each attempt (with jitter).',
        }),
        maxBackoffMs: T.Integer({ minimum: 1, default: 300_000, description: 'Longest retry delay.' }),
        jitterRatio: T.Number({
          minimum: 0,
          maximum: 1,
          default: 0.2,
          description: 'Each delay is shortened by a random share up to this ratio.',
        }),
        concurrency: T.Integer({ minimum: 1, default: 4, description: 'Deliveries in flight per receiver.' }),
        outbox: T.Object(
          {
            enabled: T.Boolean({
              default: true,
              description:
                'kind memory: keep queued and retrying notifications in <dataDir>/outbox (fsync), so they survive a crash as BullMQ jobs survive in Redis.',
            }),
            fsync: T.Boolean({
              default: true,
              description:
                'fdatasync each outbox write; false survives a process crash but not a power loss.',
            }),
          },
          { additionalProperties: false, default: {} },
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    dedupWindowSeconds: T.Integer({
      minimum: 0,
      default: 86_400,
      description:
        'How long a notification id is remembered: a re-queued notification within it is not sent again.',
    }),
    dashboardUrl: T.Optional(
      T.String({
        pattern: '^https?://',
        description: 'Base URL for links in messages (Grafana or apiwatch UI).',
      }),
    ),
    maxFindingsPerNotification: T.Integer({
      minimum: 1,
      default: 50,
      description: 'Findings listed in one notification; the rest are counted.',
    }),
    state: RedisState,
    route: RootRouteConfig,
    inhibitRules: T.Array(InhibitRule, { default: [] }),
    receivers: T.Array(T.Union([...RECEIVER_CONFIG_SCHEMAS]), { default: [] }),
    api: T.Object(
      {
        enabled: T.Boolean({
          default: false,
          description:
            'Serve the alert API (silences, acknowledgements, actions, dead letters) and the gateway decision endpoint (/decide).',
        }),
        host: T.String({ default: '127.0.0.1' }),
        port: T.Integer({
          minimum: 0,
          maximum: 65535,
          default: 8090,
          description: 'TCP port; 0 picks a free one.',
        }),
        tokens: T.Array(ApiToken, { default: [] }),
        clientToken: T.Optional(
          SecretReference(
            "Bearer token the CLI's alert-API commands (actions, silences, dead letters) send, as env:NAME or file:path; --token-file wins.",
            { name: 'APIWATCH_API_TOKEN', as: 'env-ref' },
          ),
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    actions: ActionsConfig,
  },
  { additionalProperties: false, default: {} },
);

/** The pipeline's own traces (docs/telemetry.md): off unless an exporter is configured. */
export const TelemetryTracesConfig = T.Object(
  {
    sampleRatio: T.Number({
      minimum: 0,
      maximum: 1,
      default: 0.01,
      description:
        'Share of ingest batches (one push request each) whose trace is recorded; every later stage follows that decision (parent-based sampling).',
    }),
    maxQueuedSpans: T.Integer({
      minimum: 1,
      default: 2048,
      description: 'Spans waiting for the OTLP exporter; past it new spans are dropped, never waited for.',
    }),
    otlp: T.Object(
      {
        endpoint: T.String({
          default: '',
          description:
            'OTLP/HTTP traces URL (e.g. http://127.0.0.1:4318/v1/traces); empty: no traces are exported, and none recorded. Headers come from the standard OTEL_EXPORTER_OTLP_TRACES_HEADERS.',
        }),
        timeoutMs: T.Integer({ minimum: 100, default: 10_000, description: 'One export request, ms.' }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);
export type TelemetryTracesConfigValue = Static<typeof TelemetryTracesConfig>;

export const ConfigSchema = T.Object(
  {
    dataDir: T.String({
      default: '.apiwatch',
      description: 'Where embedded state lives (chDB data, tokens, offsets).',
    }),
    logLevel: T.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((s) => T.Literal(s)),
      { default: 'info' },
    ),
    logFormat: T.Union([T.Literal('auto'), T.Literal('json'), T.Literal('text')], {
      default: 'auto',
      description:
        'Logs on stderr: json (one JSON object a line), text (one readable line an entry), auto (text on a terminal, json otherwise).',
      ...fromEnv({ name: 'APIWATCH_LOG_FORMAT', as: 'value' }),
    }),
    telemetry: T.Object(
      {
        metrics: T.Object(
          {
            host: T.String({ default: '127.0.0.1', description: 'Address of the /metrics listener.' }),
            port: T.Integer({
              minimum: 0,
              maximum: 65535,
              default: 0,
              description:
                'Port of a /metrics listener for processes without the ingest role; 0: none (ingest serves /metrics on its own port).',
            }),
          },
          { additionalProperties: false, default: {} },
        ),
        traces: TelemetryTracesConfig,
      },
      { additionalProperties: false, default: {} },
    ),
    ingest: IngestConfig,
    identity: IdentityConfig,
    bus: BusConfig,
    store: StoreConfig,
    clickhouse: ClickhouseConfig,
    detect: DetectConfig,
    alert: AlertConfig,
    collect: T.Object(
      {
        token: T.Optional(
          SecretReference(
            'Collector bearer token `apiwatch collect` sends, as env:NAME or file:path; --token-file wins; unset: <dataDir>/collector-token (what `start` writes).',
            { name: 'APIWATCH_COLLECTOR_TOKEN', as: 'env-ref' },
          ),
        ),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  {
    additionalProperties: false,
    $id: 'https://apiwatch.dev/schemas/config.schema.json',
    title: 'apiwatch config',
  },
);

export type Config = Static<typeof ConfigSchema>;
export type AlertConfigValue = Static<typeof AlertConfig>;
export type WebhookReceiverConfigValue = Static<typeof WebhookReceiverConfig>;
export type SlackReceiverConfigValue = Static<typeof SlackReceiverConfig>;
export type PagerdutyReceiverConfigValue = Static<typeof PagerdutyReceiverConfig>;
export type AlertmanagerReceiverConfigValue = Static<typeof AlertmanagerReceiverConfig>;
export type ReceiverConfigValue =
  | WebhookReceiverConfigValue
  | SlackReceiverConfigValue
  | PagerdutyReceiverConfigValue
  | AlertmanagerReceiverConfigValue;
export type KongRevokerConfigValue = Static<typeof KongRevokerConfig>;
export type AwsApigwRevokerConfigValue = Static<typeof AwsApigwRevokerConfig>;
export type HttpRevokerConfigValue = Static<typeof HttpRevokerConfig>;
export type RevokerConfigValue = KongRevokerConfigValue | AwsApigwRevokerConfigValue | HttpRevokerConfigValue;
export type ActionsConfigValue = Static<typeof ActionsConfig>;
export type RootRouteConfigValue = Static<typeof RootRouteConfig>;
export type InhibitRuleConfigValue = Static<typeof InhibitRule>;
export type ActionRuleConfigValue = Static<typeof ActionRule>;
export type DetectConfigValue = Static<typeof DetectConfig>;
export type DetectSuppressionValue = Static<typeof DetectSuppression>;
export type DetectBaselinesConfigValue = Static<typeof DetectBaselinesConfig>;
export type KafkaConfigValue = Static<typeof KafkaConfig>;
export type StoreConfigValue = Static<typeof StoreConfig>;
export type ClickhouseConfigValue = Static<typeof ClickhouseConfig>;
export type StoreHttpUserConfig = Static<typeof StoreHttpUser>;
export type IdentityConfigValue = Static<typeof IdentityConfig>;
export type IdentitySourceOverrideValue = Static<typeof IdentitySourceOverride>;
