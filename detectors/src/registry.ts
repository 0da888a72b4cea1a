import { bruteForce } from './auth/brute-force.ts';
import type { AnyDetector } from './runtime/define.ts';

/**
 * Every detector, in one ordered array (the order findings of one event are emitted in). Ids are
 * config keys under detect.detectors. Add a detector by importing it and appending it here.
 */
export const DETECTORS: readonly AnyDetector[] = [bruteForce];
