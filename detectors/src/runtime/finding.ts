import { createHash } from 'node:crypto';
import type { Finding } from '@apiwatch/core';
import type { Detector } from './types.ts';

type FindingFields = Omit<
  Finding,
  'schemaVersion' | 'id' | 'detector' | 'owasp' | 'nist' | 'fingerprint' | 'detectedAt' | 'title'
> & { title?: string };

/**
 * Fills the detector-level fields. The fingerprint (detector + entity + route) is stable across
 * repeats so alerting can de-duplicate; the id adds the first-seen time, so a replay yields the
 * same ids as the live run.
 */
export function makeFinding(detector: Detector<unknown>, fields: FindingFields): Finding {
  const fingerprint = hash(`${detector.id}|${fields.entity.kind}|${fields.entity.id}|${fields.route ?? ''}`);
  return {
    schemaVersion: 1,
    id: hash(`${fingerprint}|${fields.firstSeen}`),
    detector: detector.id,
    title: fields.title ?? detector.title,
    owasp: detector.owasp,
    nist: detector.nist,
    fingerprint,
    detectedAt: Date.now(),
    ...fields,
  };
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 24);
}
