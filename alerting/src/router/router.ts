import { createHash } from 'node:crypto';
import { type Finding, type Logger, SEVERITIES, type Severity } from '@apiwatch/core';
import type { Notification } from '../notification.ts';
import type { StateStore } from '../state/types.ts';
import { addToGroup, flushGroup, type GroupMember, type GroupState, groupKeyOf } from './grouper.ts';
import { type FiringSource, type InhibitRule, inhibitedBy, isInhibitSource } from './inhibit.ts';
import { findingLabels } from './matcher.ts';
import type { Silences } from './silences.ts';
import { groupLabelsOf, matchRoutes, type RouteNode, walkRoutes } from './tree.ts';

export interface Clock {
  now(): number;
}
export const systemClock: Clock = { now: () => Date.now() };

export type RouteOutcome = 'routed' | 'silenced' | 'inhibited' | 'unrouted' | 'below_severity';

export interface RouterCounters {
  findings: Record<RouteOutcome, number>;
  notifications: number;
}

export interface RouterOptions {
  tree: RouteNode;
  inhibitRules: readonly InhibitRule[];
  /** Receiver id → the lowest severity it hears. */
  receivers: ReadonlyMap<string, Severity>;
  state: StateStore;
  silences: Silences;
  clock?: Clock;
  /** Hands a notification to the delivery queue of its receiver (idempotent by id). */
  enqueue(n: Notification): Promise<void>;
  maxFindingsPerNotification?: number;
  /** Members one group tracks before the least recently updated are dropped (counted). */
  maxGroupMembers?: number;
  dashboardUrl?: string | null;
  log: Logger;
}

const GROUPS = 'group';
const FINDINGS = 'finding';
const SOURCES = 'inhibit-source';
const membersNs = (groupKey: string) => `group-members:${groupKey}`;

interface FindingIndex {
  fingerprint: string;
  groups: string[];
}

/**
 * The router: finding → silence? → inhibited? → routing tree → aggregation groups, and a timer
 * that flushes due groups into notifications. It keeps no state of its own: groups, silences,
 * the finding lifecycle and inhibition sources live in the StateStore, so a restarted process
 * (on Redis state) picks up every group where it was. One alert role owns a state prefix.
 */
export class AlertRouter {
  readonly counters: RouterCounters = {
    findings: { routed: 0, silenced: 0, inhibited: 0, unrouted: 0, below_severity: 0 },
    notifications: 0,
  };
  readonly silences: Silences;
  private readonly o: Required<Omit<RouterOptions, 'dashboardUrl'>> & { dashboardUrl: string | null };
  private readonly nodes = new Map<string, RouteNode>();
  private chain: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private ticking: Promise<void> | null = null;
  private again = false;

  constructor(options: RouterOptions) {
    this.o = {
      clock: systemClock,
      maxFindingsPerNotification: 50,
      maxGroupMembers: 1000,
      ...options,
      dashboardUrl: options.dashboardUrl ?? null,
    };
    this.silences = options.silences;
    walkRoutes(options.tree, (n) => this.nodes.set(n.path, n));
  }

  /** Serialises every read-modify-write of group state (route, ack, tick) in this process. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => {});
    return run;
  }

  route(f: Finding): Promise<RouteOutcome> {
    return this.exclusive(async () => {
      const outcome = await this.routeNow(f);
      await this.o.state.sync?.();
      return outcome;
    }).then((outcome) => {
      this.counters.findings[outcome]++;
      this.kick();
      return outcome;
    });
  }

  private async routeNow(f: Finding): Promise<RouteOutcome> {
    const now = this.o.clock.now();
    const labels = findingLabels(f);
    const idx = (await this.o.state.get<FindingIndex>(FINDINGS, f.fingerprint)) ?? {
      fingerprint: f.fingerprint,
      groups: [],
    };
    // Inhibition sources are remembered while they fire.
    if (this.o.inhibitRules.length > 0) {
      if (f.status === 'firing' && isInhibitSource(this.o.inhibitRules, labels)) {
        await this.o.state.put(SOURCES, f.fingerprint, {
          fingerprint: f.fingerprint,
          labels,
        } satisfies FiringSource);
      } else if (f.status === 'resolved') {
        await this.o.state.delete(SOURCES, f.fingerprint);
      }
    }
    // Resolutions always reach the groups that heard the firing, even if a silence began since.
    if (f.status === 'firing') {
      if (await this.o.silences.silencing(labels)) return 'silenced';
      if (this.o.inhibitRules.length > 0) {
        const sources = await this.o.state.all<FiringSource>(SOURCES);
        if (inhibitedBy(this.o.inhibitRules, labels, f.fingerprint, sources) >= 0) return 'inhibited';
      }
    }
    const nodes = matchRoutes(this.o.tree, labels).filter((n) => n.receiver !== null);
    if (nodes.length === 0) return 'unrouted';
    const rank = SEVERITIES.indexOf(f.severity);
    let routed = 0;
    for (const node of nodes) {
      const receiver = node.receiver as string;
      const min = this.o.receivers.get(receiver) ?? 'info';
      if (rank < SEVERITIES.indexOf(min)) continue;
      const groupLabels = groupLabelsOf(node, labels);
      const key = groupKeyOf(node, receiver, groupLabels);
      const prev = await this.o.state.get<GroupState>(GROUPS, key);
      const prevMember = prev ? await this.o.state.get<GroupMember>(membersNs(key), f.fingerprint) : null;
      const next = addToGroup(
        prev,
        prevMember,
        { key, node, receiver, groupLabels },
        f,
        now,
        this.o.maxGroupMembers,
      );
      if (next === null) continue;
      routed++;
      if (next.member) await this.o.state.put(membersNs(key), f.fingerprint, next.member);
      await this.o.state.put(GROUPS, key, next.group);
      if (!prev) await this.o.state.schedule(GROUPS, key, next.group.nextFlushAt);
      if (!idx.groups.includes(key)) idx.groups.push(key);
    }
    if (routed === 0) return f.status === 'resolved' ? 'routed' : 'below_severity';
    if (f.status === 'resolved') await this.o.state.delete(FINDINGS, f.fingerprint);
    else await this.o.state.put(FINDINGS, f.fingerprint, idx);
    return 'routed';
  }

  /** Marks the current episode of a finding acknowledged (lifecycle open → acknowledged). */
  acknowledge(fingerprint: string, by: string): Promise<boolean> {
    return this.exclusive(async () => {
      const idx = await this.o.state.get<FindingIndex>(FINDINGS, fingerprint);
      if (!idx) return false;
      let any = false;
      for (const key of idx.groups) {
        const g = await this.o.state.get<GroupState>(GROUPS, key);
        const m = g ? await this.o.state.get<GroupMember>(membersNs(key), fingerprint) : null;
        if (!g || !m || m.acknowledged || m.finding.status === 'resolved') continue;
        any = true;
        await this.o.state.put(membersNs(key), fingerprint, {
          ...m,
          acknowledged: true,
          acknowledgedBy: by,
          updatedAt: this.o.clock.now(),
        } satisfies GroupMember);
        await this.o.state.put(GROUPS, key, { ...g, changed: true });
      }
      await this.o.state.sync?.();
      return any;
    }).finally(() => this.kick());
  }

  /**
   * Resolves a finding by hand (lifecycle → resolved): the groups notify the resolution, which
   * closes the PagerDuty incident and resolves the Alertmanager alert downstream.
   */
  async resolve(fingerprint: string, by: string): Promise<boolean> {
    const idx = await this.o.state.get<FindingIndex>(FINDINGS, fingerprint);
    if (!idx || idx.groups.length === 0) return false;
    const m = await this.o.state.get<GroupMember>(membersNs(idx.groups[0]!), fingerprint);
    if (!m || m.finding.status === 'resolved') return false;
    const now = this.o.clock.now();
    this.o.log.info({ fingerprint, by }, 'finding resolved by hand.');
    await this.route({ ...m.finding, status: 'resolved', endedAt: now, detectedAt: now });
    return true;
  }

  /** The lifecycle of a finding: open, acknowledged, or resolved (unknown fingerprints: null). */
  async lifecycle(fingerprint: string): Promise<'open' | 'acknowledged' | 'resolved' | null> {
    const idx = await this.o.state.get<FindingIndex>(FINDINGS, fingerprint);
    if (!idx) return null;
    for (const key of idx.groups) {
      const m = await this.o.state.get<GroupMember>(membersNs(key), fingerprint);
      if (!m) continue;
      if (m.finding.status === 'resolved') return 'resolved';
      return m.acknowledged ? 'acknowledged' : 'open';
    }
    return 'resolved';
  }

  groups(): Promise<GroupState[]> {
    return this.o.state.all<GroupState>(GROUPS);
  }

  /** Flushes every due group; returns how many notifications were queued. */
  tick(): Promise<number> {
    return this.exclusive(async () => {
      const now = this.o.clock.now();
      let queued = 0;
      for (;;) {
        const due = await this.o.state.due(GROUPS, now, 100);
        if (due.length === 0) break;
        for (const key of due) queued += await this.flushOne(key, now);
      }
      await this.o.state.sync?.();
      return queued;
    });
  }

  private async flushOne(key: string, now: number): Promise<number> {
    const g = await this.o.state.get<GroupState>(GROUPS, key);
    const node = g ? this.nodes.get(g.route) : undefined;
    if (!g || !node) {
      // A group of a route that no longer exists (config changed): dropped, said once.
      if (g) this.o.log.warn({ group: key, route: g.route }, 'group of a removed route dropped.');
      await this.o.state.unschedule(GROUPS, key);
      await this.o.state.delete(GROUPS, key);
      await this.o.state.drop(membersNs(key));
      return 0;
    }
    const members = await this.o.state.all<GroupMember>(membersNs(key));
    const { flush, next, leaving } = flushGroup(g, members, node, now, this.o.maxFindingsPerNotification);
    if (flush) {
      const n: Notification = {
        schemaVersion: 1,
        id: createHash('sha256')
          .update(`${g.receiver}|${g.key}|${flush.sequence}|${flush.digest}`)
          .digest('base64url')
          .slice(0, 32),
        type: 'findings',
        receiver: g.receiver,
        groupKey: g.key,
        status: flush.status,
        groupLabels: g.groupLabels,
        commonLabels: commonLabels(flush.findings),
        findings: flush.findings,
        counts: {
          firing: flush.counts.firing,
          resolved: flush.counts.resolved,
          acknowledged: flush.counts.acknowledged,
          updates: flush.counts.updates,
          omitted: flush.counts.omitted,
        },
        sequence: flush.sequence,
        message: null,
        dashboardUrl: this.o.dashboardUrl,
        queuedAt: Date.now(),
      };
      // Queue first, then persist: a crash in between re-sends the same id, which the queue drops.
      await this.o.enqueue(n);
      this.counters.notifications++;
    }
    for (const fp of leaving) await this.o.state.delete(membersNs(key), fp);
    if (next) {
      await this.o.state.put(GROUPS, key, next);
      await this.o.state.schedule(GROUPS, key, next.nextFlushAt);
    } else {
      await this.o.state.unschedule(GROUPS, key);
      await this.o.state.delete(GROUPS, key);
      await this.o.state.drop(membersNs(key));
    }
    return flush ? 1 : 0;
  }

  /** Runs the flush loop on the clock until close(). */
  start(): void {
    this.running = true;
    this.kick();
  }

  private kick(): void {
    if (!this.running) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.ticking = (async () => {
      try {
        await this.tick();
      } catch (e) {
        this.o.log.error({ err: e }, 'alert router tick failed; retrying in 1 s.');
      }
      let wait = 1000;
      try {
        const next = await this.o.state.nextDue(GROUPS);
        if (next !== null) wait = Math.min(1000, Math.max(5, next - this.o.clock.now()));
      } catch {
        // state unreachable: try again in a second
      }
      this.ticking = null;
      if (this.again) {
        this.again = false;
        wait = 0;
      }
      if (this.running) this.timer = setTimeout(() => this.kick(), wait);
    })();
  }

  async close(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.ticking;
    await this.chain;
  }
}

function commonLabels(findings: readonly Finding[]): Record<string, string> {
  if (findings.length === 0) return {};
  const first = findingLabels(findings[0]!);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(first)) {
    if (findings.every((f) => findingLabels(f)[k] === v)) out[k] = v;
  }
  return out;
}
