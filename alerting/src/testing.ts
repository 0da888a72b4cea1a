import { exampleFinding, type Finding } from '@apiwatch/core';
import type { Notification } from './notification.ts';

/** A valid notification for tests and docs of the stages after routing. */
export function exampleNotification(
  overrides: Partial<Notification> = {},
  findings: Finding[] = [exampleFinding()],
): Notification {
  return {
    schemaVersion: 1,
    id: 'n1',
    type: 'findings',
    receiver: 'r',
    groupKey: 'g1',
    status: findings.some((f) => f.status === 'firing') ? 'firing' : 'resolved',
    groupLabels: { detector: findings[0]?.detector ?? 'auth.brute_force' },
    commonLabels: {},
    findings,
    counts: {
      firing: findings.filter((f) => f.status === 'firing').length,
      resolved: findings.filter((f) => f.status === 'resolved').length,
      acknowledged: 0,
      updates: findings.length,
      omitted: 0,
    },
    sequence: 1,
    message: null,
    dashboardUrl: 'https://grafana.example.com/d/apiwatch',
    queuedAt: Date.now(),
    ...overrides,
  };
}
