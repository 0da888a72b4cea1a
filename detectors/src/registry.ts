import { bruteForce } from './auth/brute-force.ts';
import type { Detector } from './runtime/types.ts';

/** Every detector, in one ordered list. Ids are config keys under detect.detectors. */
export const DETECTORS: readonly Detector<unknown>[] = [bruteForce as Detector<unknown>];
