import { createHash } from 'node:crypto';
import type { Finding } from '@apiwatch/core';
import type { Detector } from './types.ts';

type FindingFields = Omit<
  Finding,
  | 'schemaVersion'
  | 'id'
  | 'detector'
  | 'family'
  | 'status'
  | 'endedAt'
  | 'labels'
  | 'entity'
  | 'owasp'
  | 'nist'
  | 'fingerprint'
  | 'detectedAt'
  | 'title'
> & { title?: string; entity: { kind: Finding['entity']['kind']; id: string } };

/**
 * Fills the detector-level fields. The fingerprint (detector + entity + route) is stable across
 * repeats so alerting can de-duplicate; the id adds the first-seen time, so a replay yields the
 * same ids as the live run.
 */
export function makeFinding(detector: Detector<unknown>, fields: FindingFields): Finding {
  const fingerprint = hash(`${detector.id}|${fields.entity.kind}|${fields.entity.id}|${fields.route ?? ''}`);
  return {
    schemaVersion: 2,
    id: hash(`${fingerprint}|${fields.firstSeen}`),
    detector: detector.id,
    family: detector.id.slice(0, detector.id.indexOf('.')) as Finding['family'],
    status: 'firing',
    endedAt: null,
    labels: fields.route ? { route: fields.route } : {},
    title: fields.title ?? detector.title,
    owasp: detector.owasp,
    nist: detector.nist,
    fingerprint,
    detectedAt: Date.now(),
    ...fields,
    entity: { ...fields.entity, name: fields.entity.id, ref: null },
  };
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 24);
}
