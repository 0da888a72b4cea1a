export { bruteForce } from './auth/brute-force.ts';
export * from './baselines/index.ts';
export { DETECTORS } from './registry.ts';
export { DetectionEngine, resolveDetectorConfigs } from './runtime/engine.ts';
export type { Detector, DetectorContext, DetectorInstance } from './runtime/types.ts';
