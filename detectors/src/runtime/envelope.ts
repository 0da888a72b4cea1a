import { hash } from 'node:crypto';
import type { DetectorFamily, Finding } from '@apiwatch/core';
import type { AnyDetector, FindingDraft } from './define.ts';

/**
 * The finding envelope: everything a finding carries that is not the detector's judgement.
 *
 * - fingerprint = hash(detector id, tenant, method, the declared fingerprint fields): stable
 *   across repeats and episodes, so alerting groups and de-duplicates on it;
 * - id = hash(fingerprint, firstSeen): one per episode, the same for its firing and resolved
 *   updates, and the same in a replay as live;
 * - detectedAt = the runtime clock (the watermark, event time), never the wall clock.
 */

const LABEL_KEY = /^[a-z][a-z0-9_]{0,63}$/;
const MAX_LABELS = 16;

function h(text: string): string {
  return hash('sha256', text, 'base64url').slice(0, 24);
}

export function fingerprintOf(detector: AnyDetector, d: FindingDraft): string {
  let text = `${detector.id}\u0000${d.tenant ?? ''}\u0000${d.method ?? ''}`;
  for (const field of detector.fingerprint) {
    if (field === 'entity') text += `\u0000e:${d.entity.kind}:${d.entity.id}`;
    else if (field === 'route') text += `\u0000r:${d.route ?? ''}`;
    else text += `\u0000x:${d.fingerprintExtra ?? ''}`;
  }
  return h(text);
}

export function episodeId(fingerprint: string, firstSeen: number): string {
  return h(`${fingerprint}\u0000${firstSeen}`);
}

function labelsOf(d: FindingDraft): Record<string, string> {
  const out: Record<string, string> = {};
  let n = 0;
  const put = (k: string, v: string | null | undefined) => {
    if (v === null || v === undefined || n >= MAX_LABELS || !LABEL_KEY.test(k) || k in out) return;
    out[k] = v.length > 256 ? v.slice(0, 256) : v;
    n++;
  };
  put('route', d.route);
  put('tenant', d.tenant);
  put('method', d.method);
  if (d.labels) for (const k of Object.keys(d.labels).sort()) put(k, d.labels[k]);
  return out;
}

export function buildFinding(
  detector: AnyDetector,
  family: DetectorFamily,
  d: FindingDraft,
  now: number,
): Finding {
  const fingerprint = fingerprintOf(detector, d);
  const status = d.status ?? 'firing';
  const endedAt = status === 'resolved' ? (d.endedAt ?? now) : (d.endedAt ?? null);
  return {
    schemaVersion: 2,
    id: episodeId(fingerprint, d.firstSeen),
    detector: detector.id,
    family,
    status,
    title: d.title ?? detector.title,
    summary: d.summary,
    severity: d.severity ?? detector.severity,
    confidence: Math.min(1, Math.max(0, d.confidence)),
    entity: {
      kind: d.entity.kind,
      id: d.entity.id,
      name: d.entity.name ?? null,
      ref: d.entity.ref ?? null,
    },
    route: d.route,
    method: d.method,
    tenant: d.tenant,
    firstSeen: d.firstSeen,
    lastSeen: d.lastSeen,
    endedAt,
    detectedAt: Math.max(0, Math.floor(now)),
    evidence: d.evidence,
    owasp: detector.owasp,
    nist: detector.nist,
    recommendedAction: d.recommendedAction,
    labels: labelsOf(d),
    fingerprint,
  };
}
