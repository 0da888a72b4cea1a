export {
  AppendLog,
  type AppendLogOptions,
  type OpenedLog,
  openAppendLog,
  syncDirectory,
} from './bus/append-log.ts';
export {
  busCounters,
  checkMessage,
  DEFAULT_HANDLER_RETRY,
  type DeadLetterReason,
  deadLetterRecord,
  type HandlerRetryPolicy,
} from './bus/consume.ts';
export { type JournalStats, TopicJournal } from './bus/journal.ts';
export { chunkByKey, KafkaBus } from './bus/kafka.ts';
export { MemoryBus, type MemoryBusOptions } from './bus/memory.ts';
export * from './bus/types.ts';
export {
  applyEnvOverrides,
  applyEnvSources,
  checkIdentitySources,
  ENV_PREFIX,
  envSourcedKeys,
  type LoadOptions,
  loadConfig,
} from './config/load.ts';
export * from './config/schema.ts';
export {
  createSecretResolver,
  type Environment,
  parseSecretRef,
  processSecrets,
  SECRET_REF_PATTERN,
  type SecretResolver,
  type SecretSource,
} from './config/secrets.ts';
export * from './errors.ts';
export { createLogger, type LogFormat, type Logger } from './log.ts';
export { actorEntity, actorKey, memoActorKey } from './model/actor.ts';
export { buildEvent, type EventDraft, inferAuthOutcome, stableEventId } from './model/build.ts';
export * from './model/event.ts';
export { exampleFinding } from './model/examples.ts';
export * from './model/finding.ts';
export { apiEventValidator, findingValidator, type Validator } from './model/validate.ts';
export { isSecretFieldName, REDACTED, redactSecrets } from './redact.ts';
export * from './result.ts';
export { ChdbStore } from './store/chdb.ts';
export { ClickHouseStore, type ClickHouseStoreOptions } from './store/clickhouse.ts';
export {
  countPastRetention,
  retentionCutoff,
  type StoreConsumer,
  type StoreConsumerCounters,
  type StoreConsumerOptions,
  startStoreConsumer,
} from './store/consumer.ts';
export { classifyStoreError, parseClickhouseError, type StoreFailure } from './store/errors.ts';
export {
  clickhousePassword,
  createStoreFromConfig,
  type EndpointExecutor,
  httpEndpointUsers,
  runningEndpointExecutor,
} from './store/factory.ts';
export {
  contentTypeFor,
  DEFAULT_LIMITS,
  type HttpEndpoint,
  type HttpEndpointOptions,
  type HttpEndpointUser,
  httpStatusForError,
  startClickhouseHttpEndpoint,
} from './store/http-endpoint.ts';
export {
  LOCAL_READER_USER,
  type LocalReader,
  localReaderExecutor,
  startLocalReader,
} from './store/local-reader.ts';
export { type DataDirHolder, dataDirHolder, StoreLockedError } from './store/lock.ts';
export {
  applyRetention,
  checksumOf,
  loadMigrations,
  MIGRATIONS_DIR,
  type Migration,
  MigrationError,
  migrate,
  type Retention,
  renderRetention,
  renderSql,
  type SqlExecutor,
} from './store/migrate.ts';
export {
  type ApiSpecRecord,
  type ApiSpecSummary,
  auditRow,
  eventRow,
  eventTsvLine,
  findingRow,
  type NotificationDeliveryRecord,
  type ResponseActionAudit,
  type SpecUploadResult,
  type TokenRevocation,
} from './store/rows.ts';
export { quoteIdentifier, quoteString } from './store/sql-text.ts';
export { cleanStagingDir, defaultStagingRoot, stagingDirFor } from './store/staging.ts';
export {
  type Catalog,
  checkStatement,
  type InspectedStatement,
  inspectStatement,
  type PolicyLimits,
  parseAstDump,
  SYSTEM_TABLES,
} from './store/statement-policy.ts';
export {
  type ColumnStats,
  columnStats,
  EVENT_BYTES_BUDGET,
  formatEventBytes,
  formatTableStats,
  type TableStats,
  tableStats,
} from './store/stats.ts';
export type { InsertOptions, Store } from './store/types.ts';
export {
  BatchWriter,
  type BatchWriterOptions,
  dedupToken,
  type PoisonRow,
  type RetryPolicy,
  RowRejectedError,
  StoreUnavailableError,
  type WriterStats,
} from './store/writer.ts';
export { MetricsRegistry, metrics } from './telemetry/metrics.ts';
export {
  type ConsumerSpans,
  endSpan,
  FindingTraces,
  findingTraces,
  headersOf,
  TRACEPARENT_HEADER,
  TRACESTATE_HEADER,
  type TraceContext,
  type TraceHeaders,
  type TracingSetup,
  tracing,
} from './telemetry/tracing.ts';
