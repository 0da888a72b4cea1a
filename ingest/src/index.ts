export { redactSecrets } from '@apiwatch/core';
export { createIdentityContext, type IdentityContext } from './identity/context.ts';
export { loadIdentityContext } from './identity/key.ts';
export { parseJson } from './parsers/json.ts';
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
export { fromProtoJson, toProtoJson } from './proto/json.ts';
export { envoyProtos, otlpProtos } from './proto/load.ts';
export {
  originOf as uploadedSpecOrigin,
  SpecCatalog,
  type SpecStore,
} from './routes/catalog.ts';
export {
  classifyInventory,
  INVENTORY_STATUSES,
  type InventoryEntry,
  type InventoryRow,
  type InventoryStatus,
  readInventory,
  saveSpecStatus,
} from './routes/inventory.ts';
export { type LoadedSpec, loadSpecFiles } from './routes/openapi.ts';
export {
  createRouteTemplater,
  loadRouteTemplater,
  type RouteTemplater,
  type RouteTemplaterOptions,
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
