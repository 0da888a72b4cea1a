/**
 * What other workspaces may use of the CLI: the pipeline wiring the end-to-end tests and benches
 * start in-process (the same code `apiwatch start` runs), and the config loader commands share.
 */
export { loadCliConfig } from './config.ts';
export { type Pipeline, parseRoles, ROLES, type Role, startPipeline } from './pipeline.ts';
export { type DetectRole, startDetectRole } from './roles/detect.ts';
export { type StoreRole, startStoreRole } from './roles/store.ts';
