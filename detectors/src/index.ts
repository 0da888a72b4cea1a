export { bruteForce } from './auth/brute-force.ts';
export * from './baselines/index.ts';
export { DETECTORS } from './registry.ts';
export {
  type BacktestResult,
  type BacktestRow,
  backtest,
  eventFromRow,
  storedEvents,
} from './runtime/backtest.ts';
export {
  type Checkpoint,
  CheckpointedPartitions,
  emittedKey,
  FileCheckpoints,
} from './runtime/checkpoint.ts';
export {
  type CompiledSuppression,
  compileSuppressions,
  type DetectorDescription,
  describeDetectors,
  globMatcher,
  type ResolvedDetector,
  RUNTIME_KEYS,
  resolveDetectors,
} from './runtime/config.ts';
export {
  type AnyDetector,
  type DetectorContext,
  type DetectorDefinition,
  defineDetector,
  type FindingDraft,
  type FingerprintField,
  type KeyScope,
} from './runtime/define.ts';
export {
  DetectionEngine,
  type DetectorStats,
  type EngineCounters,
  type EngineOptions,
  fallbacksOf,
  type GlobalMode,
} from './runtime/engine.ts';
export { buildFinding, episodeId, fingerprintOf } from './runtime/envelope.ts';
export { ReplayRunner, type ReplayRunnerOptions } from './runtime/replay.ts';
export { Stage2Merger } from './runtime/stage2.ts';
export { registerStateClass } from './runtime/state-codec.ts';
