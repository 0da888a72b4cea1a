import { type Static, Type as T } from '@sinclair/typebox';

/**
 * The whole configuration: one schema that yields the types, the defaults, start-up validation
 * (errors name the key and the file) and docs/config.md. Secrets are never values here: a key
 * ending in `Env` names an environment variable, one ending in `File` names a file.
 */

const Listen = T.Object(
  {
    host: T.String({ default: '127.0.0.1', description: 'Address to bind.' }),
    port: T.Integer({ minimum: 0, maximum: 65535, default: 8080, description: 'TCP port; 0 picks a free one.' }),
  },
  { additionalProperties: false, default: {} },
);

const Collector = T.Object(
  {
    id: T.String({ pattern: '^[a-zA-Z0-9_.-]{1,64}$', description: 'Collector name; becomes source.collector.' }),
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
    maxBodyBytes: T.Integer({ minimum: 1024, default: 16 * 1024 * 1024, description: 'Largest request body, bytes.' }),
    maxRecordsPerRequest: T.Integer({ minimum: 1, default: 50_000, description: 'Most records in one request.' }),
    collectors: T.Array(Collector, {
      default: [],
      description:
        'Collectors allowed to post. Empty: a token is generated into <dataDir>/collector-token on first start.',
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
      },
      { additionalProperties: false, default: {} },
    ),
    partitions: T.Integer({ minimum: 1, default: 4, description: 'Partitions when apiwatch creates a topic.' }),
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

export const StoreConfig = T.Object(
  {
    kind: T.Union([T.Literal('chdb'), T.Literal('none')], { default: 'chdb' }),
    chdb: T.Object(
      { path: T.String({ default: '', description: 'Data directory; empty means <dataDir>/chdb.' }) },
      { additionalProperties: false, default: {} },
    ),
    maxBatchRows: T.Integer({ minimum: 1, default: 50_000, description: 'Rows per insert.' }),
    maxBatchDelayMs: T.Integer({ minimum: 10, default: 1000, description: 'Longest a row waits before insert.' }),
  },
  { additionalProperties: false, default: {} },
);

export const DetectConfig = T.Object(
  {
    allowedLatenessMs: T.Integer({
      minimum: 0,
      default: 1000,
      description: 'How far behind the newest event time an event may arrive and still be ordered (watermark lag).',
    }),
    maxActors: T.Integer({
      minimum: 100,
      default: 200_000,
      description: 'Per-detector cap on tracked actors; the least recently seen are evicted (counted).',
    }),
    detectors: T.Record(T.String(), T.Record(T.String(), T.Unknown()), {
      default: {},
      description: 'Per-detector settings keyed by detector id; each detector validates its own.',
    }),
  },
  { additionalProperties: false, default: {} },
);

const WebhookReceiver = T.Object(
  {
    id: T.String({ pattern: '^[a-zA-Z0-9_.-]{1,64}$' }),
    kind: T.Literal('webhook'),
    url: T.String({ pattern: '^https?://', description: 'Where findings are POSTed.' }),
    secretEnv: T.Optional(T.String({ description: 'Environment variable holding the whsec_ signing secret.' })),
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
        backoffMs: T.Integer({ minimum: 1, default: 1000, description: 'First retry delay; doubles each attempt.' }),
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
    dataDir: T.String({ default: '.apiwatch', description: 'Where embedded state lives (chDB data, tokens, offsets).' }),
    logLevel: T.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((s) => T.Literal(s)),
      { default: 'info' },
    ),
    ingest: IngestConfig,
    bus: BusConfig,
    store: StoreConfig,
    detect: DetectConfig,
    alert: AlertConfig,
  },
  { additionalProperties: false, $id: 'https://apiwatch.dev/schemas/config.schema.json', title: 'apiwatch config' },
);

export type Config = Static<typeof ConfigSchema>;
export type WebhookReceiverConfig = Static<typeof WebhookReceiver>;
export type KafkaConfigValue = Static<typeof KafkaConfig>;
