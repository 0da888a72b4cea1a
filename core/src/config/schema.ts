import { type Static, Type as T, type TOptional, type TSchema } from '@sinclair/typebox';

/**
 * The whole configuration: one schema that yields the types, the defaults, start-up validation
 * (errors name the key and the file) and docs/config.md. Secrets are never values here: a key
 * ending in `Env` names an environment variable, one ending in `File` names a file.
 */

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

export const IdentityConfig = T.Object(
  {
    ...identityRules(true),
    sources: T.Record(T.String({ pattern: '^[a-z0-9-]{1,64}$' }), IdentitySourceOverride, {
      default: {},
      description:
        'Per-source overrides keyed by format id (nginx, kong, envoy, …); each replaces only the keys it names.',
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
      },
      { additionalProperties: false, default: {} },
    ),
    kafka: KafkaConfig,
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
      description: 'TTL of response_actions_audit, days; 0 keeps forever.',
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
      description: 'Environment variable holding the password.',
    }),
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
            "Kafka: snapshot each owned events partition's detector state this often and commit offsets only up to the snapshot, so a restart resumes exactly (docs/decisions/0013); 0: off (a restart loses open windows).",
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

const WebhookReceiver = T.Object(
  {
    id: T.String({ pattern: '^[a-zA-Z0-9_.-]{1,64}$' }),
    kind: T.Literal('webhook'),
    url: T.String({ pattern: '^https?://', description: 'Where findings are POSTed.' }),
    secretEnv: T.Optional(
      T.String({ description: 'Environment variable holding the whsec_ signing secret.' }),
    ),
    secretFile: T.Optional(T.String({ description: 'File holding the whsec_ signing secret.' })),
    timeoutMs: T.Integer({ minimum: 100, default: 5000 }),
    minSeverity: T.Union(
      ['info', 'low', 'medium', 'high', 'critical'].map((s) => T.Literal(s)),
      { default: 'low' },
    ),
  },
  { additionalProperties: false },
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
        name: T.String({ default: 'apiwatch-notifications' }),
        attempts: T.Integer({ minimum: 1, default: 8, description: 'Delivery attempts before a job fails.' }),
        backoffMs: T.Integer({
          minimum: 1,
          default: 1000,
          description: 'First retry delay; doubles each attempt.',
        }),
        concurrency: T.Integer({ minimum: 1, default: 8 }),
      },
      { additionalProperties: false, default: {} },
    ),
    dedupWindowSeconds: T.Integer({
      minimum: 0,
      default: 900,
      description: 'A finding with the same fingerprint within this window is not re-sent.',
    }),
    receivers: T.Array(WebhookReceiver, { default: [] }),
  },
  { additionalProperties: false, default: {} },
);

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
  },
  {
    additionalProperties: false,
    $id: 'https://apiwatch.dev/schemas/config.schema.json',
    title: 'apiwatch config',
  },
);

export type Config = Static<typeof ConfigSchema>;
export type WebhookReceiverConfig = Static<typeof WebhookReceiver>;
export type DetectConfigValue = Static<typeof DetectConfig>;
export type DetectSuppressionValue = Static<typeof DetectSuppression>;
export type DetectBaselinesConfigValue = Static<typeof DetectBaselinesConfig>;
export type KafkaConfigValue = Static<typeof KafkaConfig>;
export type StoreConfigValue = Static<typeof StoreConfig>;
export type ClickhouseConfigValue = Static<typeof ClickhouseConfig>;
export type StoreHttpUserConfig = Static<typeof StoreHttpUser>;
export type IdentityConfigValue = Static<typeof IdentityConfig>;
export type IdentitySourceOverrideValue = Static<typeof IdentitySourceOverride>;
