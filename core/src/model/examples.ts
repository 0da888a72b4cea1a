import type { Finding } from './finding.ts';

/** A valid finding for docs and tests of the stages after detection. */
export function exampleFinding(overrides: Partial<Finding> = {}): Finding {
  return {
    schemaVersion: 2,
    id: 'f1',
    detector: 'auth.brute_force',
    family: 'auth',
    status: 'firing',
    title: 'Authentication brute force',
    summary: 'ip 203.0.113.9 failed authentication 10 times.',
    severity: 'high',
    confidence: 0.9,
    entity: { kind: 'ip', id: '203.0.113.9', name: '203.0.113.9', ref: null },
    route: '/login',
    method: 'POST',
    tenant: null,
    firstSeen: 1,
    lastSeen: 2,
    endedAt: null,
    detectedAt: 3,
    evidence: {
      observed: 10,
      baseline: null,
      threshold: 10,
      windowSeconds: 60,
      counts: {},
      sampleEventIds: [],
      details: {},
    },
    owasp: 'API2:2023',
    nist: 'authentication',
    recommendedAction: 'Block it.',
    fingerprint: 'fp1',
    labels: { route: '/login' },
    ...overrides,
  };
}
