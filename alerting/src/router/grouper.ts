import { createHash } from 'node:crypto';
import type { Finding } from '@apiwatch/core';
import type { RouteNode } from './tree.ts';

/**
 * Aggregation groups with Alertmanager's timers, as pure functions over a group's state so the
 * same logic runs on in-process and Redis state and tests drive it with any clock:
 * - a new group waits `groupWaitMs` before its first notification (findings that arrive
 *   meanwhile join it);
 * - after that the group is looked at every `groupIntervalMs` and notified if anything changed
 *   (a new finding, an update, a resolution, an acknowledgement);
 * - an unchanged group with firing findings is re-notified after `repeatIntervalMs`;
 * - resolved findings are notified once, then leave the group; an empty group is deleted.
 * The group's members are kept apart from its header (one document each), so adding a finding
 * to a big group costs one small write, not a rewrite of the group.
 */
export interface GroupMember {
  finding: Finding;
  acknowledged: boolean;
  acknowledgedBy: string | null;
  /** Wall clock of the last change, ms. */
  updatedAt: number;
}

export interface GroupState {
  key: string;
  route: string;
  receiver: string;
  groupLabels: Record<string, string>;
  members: number;
  /** Findings not tracked because the group was full (counted, never silent). */
  omitted: number;
  updates: number;
  createdAt: number;
  nextFlushAt: number;
  lastSentAt: number | null;
  lastDigest: string | null;
  changed: boolean;
  sequence: number;
}

export interface GroupFlush {
  status: 'firing' | 'resolved';
  findings: Finding[];
  counts: { firing: number; resolved: number; acknowledged: number; updates: number; omitted: number };
  digest: string;
  sequence: number;
}

export function groupKeyOf(node: RouteNode, receiver: string, groupLabels: Record<string, string>): string {
  const labels = Object.keys(groupLabels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(groupLabels[k])}`)
    .join(',');
  return createHash('sha256').update(`${node.path}|${receiver}|{${labels}}`).digest('hex').slice(0, 32);
}

/**
 * Folds a finding update into its group (creating the group). Returns the new header and the
 * member to write, or null when the update changes nothing (a stale or repeated update, or a
 * resolution for something this group never saw firing).
 */
export function addToGroup(
  g: GroupState | null,
  prev: GroupMember | null,
  init: { key: string; node: RouteNode; receiver: string; groupLabels: Record<string, string> },
  f: Finding,
  now: number,
  maxMembers: number,
): { group: GroupState; member: GroupMember | null } | null {
  if (f.status === 'resolved' && !prev) return null;
  if (prev && prev.finding.id !== f.id && prev.finding.firstSeen > f.firstSeen) return null;
  if (prev && prev.finding.id === f.id && prev.finding.status === 'resolved') return null;
  const group: GroupState = g
    ? { ...g }
    : {
        key: init.key,
        route: init.node.path,
        receiver: init.receiver,
        groupLabels: init.groupLabels,
        members: 0,
        omitted: 0,
        updates: 0,
        createdAt: now,
        nextFlushAt: now + init.node.groupWaitMs,
        lastSentAt: null,
        lastDigest: null,
        changed: true,
        sequence: 0,
      };
  group.updates++;
  if (!prev && group.members >= maxMembers) {
    group.omitted++;
    group.changed = true;
    return { group, member: null };
  }
  if (!prev) group.members++;
  const sameEpisode = prev !== null && prev.finding.id === f.id;
  group.changed = true;
  return {
    group,
    member: {
      finding: f,
      acknowledged: sameEpisode ? prev.acknowledged : false,
      acknowledgedBy: sameEpisode ? prev.acknowledgedBy : null,
      updatedAt: now,
    },
  };
}

/**
 * Called when the group is due, with all its members. Returns what to notify (or null), the
 * header to keep (or null to delete the group) and the members that leave (resolved, notified).
 */
export function flushGroup(
  g: GroupState,
  members: readonly GroupMember[],
  node: RouteNode,
  now: number,
  maxListed: number,
): { flush: GroupFlush | null; next: GroupState | null; leaving: string[] } {
  const firing = members.filter((m) => m.finding.status === 'firing');
  const resolved = members.filter((m) => m.finding.status === 'resolved');
  const digest = createHash('sha256')
    .update(
      members
        .map(
          (m) =>
            `${m.finding.fingerprint}|${m.finding.id}|${m.finding.status}|${m.acknowledged}|${m.finding.lastSeen}`,
        )
        .sort()
        .join('\n'),
    )
    .update(`|${g.omitted}`)
    .digest('hex')
    .slice(0, 32);
  const repeatDue = firing.length > 0 && g.lastSentAt !== null && now - g.lastSentAt >= node.repeatIntervalMs;
  const send = members.length > 0 && ((g.changed && digest !== g.lastDigest) || repeatDue);
  let flush: GroupFlush | null = null;
  if (send) {
    const listed = members
      .slice()
      .sort((a, b) => b.updatedAt - a.updatedAt || b.finding.lastSeen - a.finding.lastSeen)
      .slice(0, maxListed)
      .map((m) => m.finding);
    flush = {
      status: firing.length > 0 ? 'firing' : 'resolved',
      findings: listed,
      counts: {
        firing: firing.length,
        resolved: resolved.length,
        acknowledged: firing.filter((m) => m.acknowledged).length,
        updates: g.updates,
        omitted: members.length - listed.length + g.omitted,
      },
      digest,
      sequence: g.sequence + 1,
    };
  }
  const leaving = send ? resolved.map((m) => m.finding.fingerprint) : [];
  const next: GroupState = {
    ...g,
    members: members.length - leaving.length,
    changed: send ? false : g.changed,
    lastSentAt: send ? now : g.lastSentAt,
    lastDigest: send ? digest : g.lastDigest,
    sequence: send ? g.sequence + 1 : g.sequence,
    nextFlushAt: now + Math.max(node.groupIntervalMs, 1),
  };
  if (next.members === 0) return { flush, next: null, leaving };
  return { flush, next, leaving };
}
