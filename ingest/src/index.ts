export { redactSecrets } from '@apiwatch/core';
export { createIdentityContext, type IdentityContext } from './identity/context.ts';
export { loadIdentityContext } from './identity/key.ts';
export { findParser, formatIds, PARSERS } from './parsers/registry.ts';
export type {
  EntryRejection,
  ParseBatch,
  ParseContext,
  ParseError,
  Parser,
  RawRecord,
} from './parsers/types.ts';
export {
  asRecordResult,
  createIngestPipeline,
  type IngestPipeline,
  type PipelineResult,
} from './pipeline.ts';
export {
  originOf as uploadedSpecOrigin,
  SpecCatalog,
  type SpecStore,
  type SpecSummary,
  type SpecUploadResult,
} from './routes/catalog.ts';
export { type LoadedSpec, loadSpecFiles } from './routes/openapi.ts';
export {
  createRouteTemplater,
  loadRouteTemplater,
  type RouteTemplater,
} from './routes/templater.ts';
export { defaultCollectorToken, sha256Hex } from './server/auth.ts';
export { createIngestServer, type IngestServerOptions } from './server/ingest.ts';
export {
  createIngestClient,
  type IngestAnswer,
  type IngestClient,
  type IngestClientOptions,
  type PostFailure,
} from './shipper/client.ts';
export {
  type ShipFailure,
  Shipper,
  type ShipperOptions,
  type ShipperRetry,
  type ShipperStats,
} from './shipper/shipper.ts';
export { documentRecords, readRecords } from './sources/records.ts';
export { loadPosition, savePosition, type TailPosition, tailFile } from './sources/tail.ts';
