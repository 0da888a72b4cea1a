import { bruteForce } from './auth/brute-force.ts';
import { credentialAbuse } from './auth/credential-abuse.ts';
import { credentialStuffing } from './auth/credential-stuffing.ts';
import { keyGuessing } from './auth/key-guessing.ts';
import { passwordSpraying } from './auth/password-spraying.ts';
import { successAfterFailures } from './auth/success-after-failures.ts';
import { forcedBrowsing } from './recon/forced-browsing.ts';
import { injectionProbe } from './recon/injection-probe.ts';
import type { AnyDetector } from './runtime/define.ts';

/**
 * Every detector, in one ordered array (the order findings of one event are emitted in). Ids are
 * config keys under detect.detectors. Add a detector by importing it and appending it here.
 */
export const DETECTORS: readonly AnyDetector[] = [
  bruteForce,
  credentialStuffing,
  passwordSpraying,
  keyGuessing,
  credentialAbuse,
  successAfterFailures,
  forcedBrowsing,
  injectionProbe,
];
