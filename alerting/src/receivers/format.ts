import type { Finding } from '@apiwatch/core';
import type { Notification } from '../notification.ts';

/** Text shared by the human-facing receivers (Slack, PagerDuty, Alertmanager annotations). */
export function headline(n: Notification): string {
  if (n.type === 'response_paused')
    return `apiwatch automatic response paused: ${n.message ?? ''}`.slice(0, 1024);
  const f = n.findings[0];
  const total = n.counts.firing + n.counts.resolved;
  const what = f ? f.title : 'findings';
  const state = n.status === 'resolved' ? 'RESOLVED' : 'FIRING';
  const scope = f ? ` on ${f.method ?? ''} ${f.route ?? f.entity.id}`.replace(/\s+/g, ' ') : '';
  return `[${state}${total > 1 ? `:${total}` : ''}] ${what}${scope}`.slice(0, 1024);
}

export function who(f: Finding): string {
  const name = f.entity.name && f.entity.name !== f.entity.id ? ` (${f.entity.name})` : '';
  return `${f.entity.kind} ${f.entity.id}${name}`;
}

export function where(f: Finding): string {
  const parts = [
    f.method && f.route ? `${f.method} ${f.route}` : (f.route ?? null),
    f.tenant ? `tenant ${f.tenant}` : null,
  ];
  const env = f.labels.environment;
  if (env) parts.push(`env ${env}`);
  return parts.filter(Boolean).join(', ') || 'n/a';
}

export function evidenceLine(f: Finding): string {
  const e = f.evidence;
  const base = e.baseline !== null ? `, baseline ${round(e.baseline)}` : '';
  return `observed ${round(e.observed)} vs threshold ${round(e.threshold)}${base} over ${e.windowSeconds} s`;
}

function round(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(2);
}

export function findingUrl(n: Notification, f: Finding): string | null {
  return n.dashboardUrl ? `${n.dashboardUrl.replace(/\/$/, '')}/findings/${encodeURIComponent(f.id)}` : null;
}
