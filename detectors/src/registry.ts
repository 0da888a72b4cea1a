import { bruteForce } from './auth/brute-force.ts';
import { credentialAbuse } from './auth/credential-abuse.ts';
import { credentialStuffing } from './auth/credential-stuffing.ts';
import { keyGuessing } from './auth/key-guessing.ts';
import { passwordSpraying } from './auth/password-spraying.ts';
import { BitCounter, CappedDistinct, Hll } from './auth/sketch.ts';
import { successAfterFailures } from './auth/success-after-failures.ts';
import { LinearCounter, TopK } from './bola/common.ts';
import { crossPrincipal } from './bola/cross-principal.ts';
import { crossTenant } from './bola/cross-tenant.ts';
import { objectEnumeration } from './bola/object-enumeration.ts';
import { forcedBrowsing } from './recon/forced-browsing.ts';
import { injectionProbe } from './recon/injection-probe.ts';
import type { AnyDetector } from './runtime/define.ts';
import { registerStateClass } from './runtime/state-codec.ts';
import { missingScope } from './spec/missing-scope.ts';
import { parameterViolation } from './spec/parameter-violation.ts';
import { shadowEndpoint } from './spec/shadow-endpoint.ts';
import { EndpointTally } from './spec/tally.ts';
import { unauthenticatedAccess } from './spec/unauthenticated-access.ts';
import { undocumentedOperation } from './spec/undocumented-operation.ts';
import { zombieEndpoint } from './spec/zombie-endpoint.ts';
import { actorSpike } from './volume/actor-spike.ts';
import { errorSpike } from './volume/error-spike.ts';
import { exfiltration } from './volume/exfiltration.ts';
import { routeDrop } from './volume/route-drop.ts';
import { routeSpike } from './volume/route-spike.ts';
import { scraping } from './volume/scraping.ts';

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
  objectEnumeration,
  crossPrincipal,
  crossTenant,
  shadowEndpoint,
  zombieEndpoint,
  parameterViolation,
  undocumentedOperation,
  unauthenticatedAccess,
  missingScope,
  routeSpike,
  actorSpike,
  errorSpike,
  exfiltration,
  routeDrop,
  scraping,
];

// The classes the built-in detectors keep in their state, so checkpoints restore them with their
// methods (runtime/state-codec.ts). The names are written into checkpoints: never rename one.
registerStateClass('Hll', Hll);
registerStateClass('BitCounter', BitCounter);
registerStateClass('CappedDistinct', CappedDistinct);
registerStateClass('LinearCounter', LinearCounter);
registerStateClass('TopK', TopK);
registerStateClass('EndpointTally', EndpointTally);
