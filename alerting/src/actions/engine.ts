import { createHash } from 'node:crypto';
import {
  type ActionsConfigValue,
  type Finding,
  type Logger,
  type ResponseActionAudit,
  SEVERITIES,
} from '@apiwatch/core';
import type { Notification } from '../notification.ts';
import { findingLabels, type Matcher, matchesAll, parseMatchers } from '../router/matcher.ts';
import type { Clock } from '../router/router.ts';
import type { StateStore } from '../state/types.ts';
import type { ActionJob, ActionQueue } from './queue.ts';
import type { ActionResult, ActionTarget, Revoker } from './types.ts';

/**
 * Automated response with guardrails, each one a reason an action does not happen:
 * a rule must match (detector/labels, minimum severity and confidence); the entity must carry a
 * revocable ref and not be on the never-revoke allowlist; the circuit breaker must be closed and
 * the hourly budget not spent (the action that would exceed it opens the breaker and pages a
 * human); `dry-run` (the default) records what would happen and does nothing; `requireApproval`
 * leaves the action pending until an analyst approves. An executed revocation is restored by hand
 * (undo) or when its TTL ends. Every decision is written to the audit table with who, what, why,
 * the evidence and the outcome. Revoked credentials are what the decision endpoint denies.
 */
export type ActionStatus =
  | 'dry_run'
  | 'refused'
  | 'pending'
  | 'queued'
  | 'revoked'
  | 'failed'
  | 'restoring'
  | 'restored';

export interface ActionRecord {
  id: string;
  rule: string;
  revoker: string;
  status: ActionStatus;
  reason: string;
  target: ActionTarget;
  findingFingerprint: string;
  detector: string;
  createdAt: number;
  expiresAt: number | null;
  decidedBy: string;
  gatewayState: Record<string, unknown>;
}

export interface RevokedEntry {
  actionId: string;
  entityId: string;
  ref: string;
  since: number;
}

export interface AuditSink {
  insertAudit(rows: readonly ResponseActionAudit[]): Promise<void>;
}

export interface ResponseEngineOptions {
  config: ActionsConfigValue;
  revokers: readonly Revoker[];
  state: StateStore;
  audit: AuditSink | null;
  /** Sends a notification (the budget page) through the delivery queue. */
  page: ((n: Notification) => Promise<void>) | null;
  /** The actions' own queue (revoke and restore jobs, with retries). */
  queue: ActionQueue;
  clock: Clock;
  log: Logger;
}

const ACTIONS = 'action';
const REVOKED = 'revoked';
const BREAKER = 'breaker';
const BUDGET = 'action-budget';
const RESTORE = 'action-restore';
const HOUR = 3_600_000;
/** The finding behind an action (for the audit's evidence when the job runs later). */
const FINDING_OF = 'action-finding';

export class ResponseEngine {
  private readonly o: ResponseEngineOptions;
  private readonly rules: Array<ActionsConfigValue['rules'][number] & { compiled: Matcher[] }>;
  private readonly revokers: Map<string, Revoker>;
  private chain: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  /** Called after a revocation or restore (the decision endpoint drops its cache). */
  onChange: (() => void) | null = null;

  constructor(o: ResponseEngineOptions) {
    this.o = o;
    this.revokers = new Map(o.revokers.map((r) => [r.id, r]));
    this.rules = o.config.rules.map((r, i) => {
      if (!this.revokers.has(r.revoker))
        throw new Error(`alert.actions.rules.${i}: revoker "${r.revoker}" is not configured`);
      return { ...r, compiled: parseMatchers(r.matchers) };
    });
  }

  /** Serialises decisions in this process; what they changed is durable before they resolve. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const durable = async () => {
      const r = await fn();
      await this.o.state.sync?.();
      return r;
    };
    const run = this.chain.then(durable, durable);
    this.chain = run.catch(() => {});
    return run;
  }

  /** Decides what to do about a finding; returns the action record (null when no rule applies). */
  onFinding(f: Finding): Promise<ActionRecord | null> {
    return this.exclusive(() => this.decide(f));
  }

  private async decide(f: Finding): Promise<ActionRecord | null> {
    if (f.status !== 'firing') return null;
    const labels = findingLabels(f);
    const rule = this.rules.find((r) => matchesAll(r.compiled, labels));
    if (!rule) return null;
    const now = this.o.clock.now();
    const id = createHash('sha256').update(`${rule.id}|${f.id}`).digest('hex').slice(0, 24);
    const existing = await this.o.state.get<ActionRecord>(ACTIONS, id);
    if (existing) return existing; // one decision per rule and finding episode (updates repeat it)
    const target: ActionTarget = {
      ref: f.entity.ref ?? '',
      entityKind: f.entity.kind,
      entityId: f.entity.id,
      entityName: f.entity.name,
      findingId: f.id,
    };
    const revoker = this.revokers.get(rule.revoker)!;
    const record: ActionRecord = {
      id,
      rule: rule.id,
      revoker: rule.revoker,
      status: 'refused',
      reason: '',
      target,
      findingFingerprint: f.fingerprint,
      detector: f.detector,
      createdAt: now,
      expiresAt: null,
      decidedBy: 'apiwatch',
      gatewayState: {},
    };
    await this.o.state.put(FINDING_OF, id, f);
    const refuse = async (reason: string): Promise<ActionRecord> => {
      record.status = 'refused';
      record.reason = reason;
      await this.o.state.put(ACTIONS, id, record);
      await this.auditOf(record, f, 'auto', 'denied', 0, { guardrail: reason });
      this.o.log.warn(
        { action: id, rule: rule.id, detector: f.detector },
        `response action refused: ${reason}.`,
      );
      return record;
    };
    const allow = this.o.config.allowlist;
    if (!f.entity.ref) return refuse(`the ${f.entity.kind} has no revocable ref`);
    if (
      allow.refs.includes(f.entity.ref) ||
      allow.entities.includes(f.entity.id) ||
      (f.entity.name !== null && allow.entities.includes(f.entity.name))
    ) {
      return refuse('the entity is on the never-revoke allowlist');
    }
    if (
      SEVERITIES.indexOf(f.severity) < SEVERITIES.indexOf(rule.minSeverity as (typeof SEVERITIES)[number])
    ) {
      return refuse(`severity ${f.severity} is below the rule's ${rule.minSeverity}`);
    }
    if (f.confidence < rule.minConfidence)
      return refuse(`confidence ${f.confidence} is below the rule's ${rule.minConfidence}`);
    if (rule.ttlSeconds > 0 && !revoker.reversible) {
      return refuse(
        `revoker ${revoker.id} cannot restore, so a TTL of ${rule.ttlSeconds} s cannot be honoured`,
      );
    }
    if (this.o.config.mode === 'dry-run') {
      record.status = 'dry_run';
      record.reason = `dry-run: would revoke ${target.ref} through ${revoker.id}`;
      await this.o.state.put(ACTIONS, id, record);
      await this.auditOf(record, f, 'dry_run', 'skipped', 0, {});
      return record;
    }
    const breaker = await this.o.state.get<{ open: boolean; openedAt: number; reason: string }>(
      BREAKER,
      'revocations',
    );
    if (breaker?.open)
      return refuse(
        `the circuit breaker is open since ${new Date(breaker.openedAt).toISOString()} (${breaker.reason})`,
      );
    const used = await this.o.state.peekWindow(BUDGET, now, HOUR);
    if (used >= this.o.config.budget.maxPerHour) {
      const reason = `budget of ${this.o.config.budget.maxPerHour} actions per hour spent`;
      await this.o.state.put(BREAKER, 'revocations', { open: true, openedAt: now, reason });
      const r = await refuse(`${reason}; circuit breaker opened and a human paged`);
      await this.pageHuman(f, reason);
      return r;
    }
    await this.o.state.countInWindow(BUDGET, id, now, HOUR);
    record.expiresAt = rule.ttlSeconds > 0 ? now + rule.ttlSeconds * 1000 : null;
    if (rule.requireApproval) {
      record.status = 'pending';
      record.reason = 'waiting for an analyst to approve';
      await this.o.state.put(ACTIONS, id, record);
      await this.auditOf(record, f, 'auto', 'skipped', 0, { pending: true });
      return record;
    }
    return this.queueRevoke(record, 'apiwatch');
  }

  private async queueRevoke(record: ActionRecord, by: string): Promise<ActionRecord> {
    record.status = 'queued';
    record.decidedBy = by;
    record.reason = `queued for revocation through ${record.revoker}`;
    await this.o.state.put(ACTIONS, record.id, record);
    await this.o.queue.enqueue({ schemaVersion: 1, actionId: record.id, op: 'revoke', by });
    return record;
  }

  async start(intervalMs = 1000): Promise<void> {
    await this.o.queue.start((job, final) => this.runJob(job, final));
    // Jobs of a process that stopped mid-action (the in-process queue keeps none): queued again.
    // Job ids make this a no-op where the queue (BullMQ) still has them.
    for (const r of await this.list()) {
      if (r.status === 'queued' || r.status === 'restoring') {
        const op = r.status === 'queued' ? 'revoke' : 'restore';
        await this.o.queue.enqueue({ schemaVersion: 1, actionId: r.id, op, by: r.decidedBy });
      }
    }
    const loop = () => {
      this.timer = setTimeout(async () => {
        await this.tick().catch((e) => this.o.log.error({ err: e }, 'response-action TTL tick failed.'));
        if (this.timer) loop();
      }, intervalMs);
    };
    loop();
  }

  /** Resolves when no revoke or restore job is pending. */
  flush(): Promise<void> {
    return this.o.queue.flush();
  }

  /** The queue worker: one gateway call, then the record, the revocation list and the audit. */
  private async runJob(job: ActionJob, final: boolean): Promise<ActionResult> {
    const r = await this.runJobNow(job, final);
    await this.o.state.sync?.();
    return r;
  }

  private async runJobNow(job: ActionJob, final: boolean): Promise<ActionResult> {
    const r = await this.o.state.get<ActionRecord>(ACTIONS, job.actionId);
    if (!r)
      return {
        ok: false,
        code: 'ALERT_ACTION_NOT_FOUND',
        retryable: false,
        status: null,
        error: `no action ${job.actionId}`,
      };
    if (job.op === 'revoke') {
      if (r.status !== 'queued') return { ok: true, status: 0, details: {} }; // already done: idempotent
      return this.execute(r, job.by, final);
    }
    if (r.status !== 'restoring') return { ok: true, status: 0, details: {} };
    return this.restoreNow(r, job.by, final);
  }

  private async execute(record: ActionRecord, by: string, final: boolean): Promise<ActionResult> {
    const revoker = this.revokers.get(record.revoker)!;
    const result = await revoker.revoke(record.target, {});
    const now = this.o.clock.now();
    record.decidedBy = by;
    if (!result.ok && result.retryable && !final) {
      record.reason = `retrying: ${result.code}: ${result.error}`;
      await this.o.state.put(ACTIONS, record.id, record);
      return result;
    }
    if (result.ok) {
      record.status = 'revoked';
      record.reason = `revoked through ${revoker.id}`;
      record.gatewayState = result.details;
      if (record.expiresAt !== null) {
        record.expiresAt = Math.max(record.expiresAt, now);
        await this.o.state.schedule(RESTORE, record.id, record.expiresAt);
      }
      await this.o.state.put(REVOKED, record.target.entityId, {
        actionId: record.id,
        entityId: record.target.entityId,
        ref: record.target.ref,
        since: now,
      } satisfies RevokedEntry);
      await this.o.state.put(REVOKED, `ref:${record.target.ref}`, {
        actionId: record.id,
        entityId: record.target.entityId,
        ref: record.target.ref,
        since: now,
      } satisfies RevokedEntry);
      this.onChange?.();
    } else {
      record.status = 'failed';
      record.reason = `${result.code}: ${result.error}`;
    }
    await this.o.state.put(ACTIONS, record.id, record);
    const f = await this.o.state.get<Finding>(FINDING_OF, record.id);
    await this.auditOf(
      record,
      f,
      by === 'apiwatch' ? 'auto' : 'manual',
      result.ok ? 'executed' : 'failed',
      result.status ?? 0,
      result.ok ? result.details : { code: result.code },
    );
    this.o.log.info(
      { action: record.id, status: record.status, revoker: revoker.id },
      `response action ${record.status}.`,
    );
    return result;
  }

  async approve(id: string, by: string): Promise<ActionRecord | null> {
    return this.exclusive(async () => {
      const r = await this.o.state.get<ActionRecord>(ACTIONS, id);
      if (r?.status !== 'pending') return r;
      return this.queueRevoke(r, by);
    });
  }

  /** Restores a revoked credential (manual undo, or the TTL ending with by = 'ttl'), through the queue. */
  async undo(id: string, by: string): Promise<ActionRecord | null> {
    return this.exclusive(async () => {
      const r = await this.o.state.get<ActionRecord>(ACTIONS, id);
      if (r?.status !== 'revoked') return r;
      const revoker = this.revokers.get(r.revoker)!;
      if (!revoker.reversible) {
        r.reason = `undo refused: ALERT_ACTION_IRREVERSIBLE: revoker ${revoker.id} cannot restore`;
        await this.auditOf(r, null, 'manual', 'denied', 0, { action: 'restore' }, 'restore', by);
        return r;
      }
      r.status = 'restoring';
      r.reason = `restore queued by ${by}`;
      await this.o.state.put(ACTIONS, id, r);
      await this.o.state.unschedule(RESTORE, id);
      await this.o.queue.enqueue({ schemaVersion: 1, actionId: id, op: 'restore', by });
      return r;
    });
  }

  private async restoreNow(r: ActionRecord, by: string, final: boolean): Promise<ActionResult> {
    const revoker = this.revokers.get(r.revoker)!;
    const result = await revoker.restore(r.target, r.gatewayState);
    if (!result.ok && result.retryable && !final) {
      r.reason = `restore retrying: ${result.code}: ${result.error}`;
      await this.o.state.put(ACTIONS, r.id, r);
      return result;
    }
    if (result.ok) {
      r.status = 'restored';
      r.reason = by === 'ttl' ? 'restored when its TTL ended' : `restored by ${by}`;
      await this.o.state.delete(REVOKED, r.target.entityId);
      await this.o.state.delete(REVOKED, `ref:${r.target.ref}`);
      this.onChange?.();
    } else {
      // The credential stays revoked (and denied); the record says why the restore failed.
      r.status = 'revoked';
      r.reason = `restore failed: ${result.code}: ${result.error}`;
    }
    await this.o.state.put(ACTIONS, r.id, r);
    await this.auditOf(
      r,
      null,
      by === 'ttl' ? 'auto' : 'manual',
      result.ok ? 'executed' : 'failed',
      result.status ?? 0,
      { action: 'restore' },
      'restore',
      by,
    );
    return result;
  }

  async resetBreaker(by: string): Promise<void> {
    await this.o.state.delete(BREAKER, 'revocations');
    await this.o.state.sync?.();
    this.o.log.warn({ by }, 'response-action circuit breaker reset.');
  }

  list(): Promise<ActionRecord[]> {
    return this.o.state.all<ActionRecord>(ACTIONS).then((l) => l.sort((a, b) => a.createdAt - b.createdAt));
  }

  get(id: string): Promise<ActionRecord | null> {
    return this.o.state.get<ActionRecord>(ACTIONS, id);
  }

  /** Whether a credential is revoked (by entity id, e.g. its fingerprint, or by ref). */
  async isRevoked(key: { entityId?: string | null; ref?: string | null }): Promise<RevokedEntry | null> {
    if (key.entityId) {
      const e = await this.o.state.get<RevokedEntry>(REVOKED, key.entityId);
      if (e) return e;
    }
    if (key.ref) return this.o.state.get<RevokedEntry>(REVOKED, `ref:${key.ref}`);
    return null;
  }

  /** Restores every revocation whose TTL ended. */
  async tick(): Promise<number> {
    const due = await this.o.state.due(RESTORE, this.o.clock.now(), 100);
    for (const id of due) {
      await this.o.state.unschedule(RESTORE, id);
      await this.undo(id, 'ttl');
    }
    return due.length;
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.chain;
    await this.o.queue.close();
  }

  private async pageHuman(f: Finding, reason: string): Promise<void> {
    const to = this.o.config.budget.pageReceiver;
    if (!this.o.page || !to) {
      this.o.log.error(
        { reason },
        'response-action circuit breaker opened and no budget.pageReceiver is configured to page.',
      );
      return;
    }
    const now = this.o.clock.now();
    await this.o.page({
      schemaVersion: 1,
      id: createHash('sha256').update(`breaker|${to}|${now}`).digest('base64url').slice(0, 32),
      type: 'response_paused',
      receiver: to,
      groupKey: 'apiwatch-response-breaker',
      status: 'firing',
      groupLabels: {},
      commonLabels: {},
      findings: [f],
      counts: { firing: 1, resolved: 0, acknowledged: 0, updates: 1, omitted: 0 },
      sequence: 1,
      message: `${reason}: automatic revocations are paused until an admin resets the breaker (apiwatch actions reset-breaker). The refused finding is attached.`,
      dashboardUrl: null,
      queuedAt: Date.now(),
    });
  }

  private async auditOf(
    r: ActionRecord,
    f: Finding | null,
    mode: ResponseActionAudit['mode'],
    outcome: ResponseActionAudit['outcome'],
    status: number,
    details: Record<string, unknown>,
    action = 'revoke',
    by = r.decidedBy,
  ): Promise<void> {
    if (!this.o.audit) return;
    const row: ResponseActionAudit = {
      ts: this.o.clock.now(),
      actionId: r.id,
      action,
      mode,
      outcome,
      targetKind: r.target.entityKind,
      targetRef: r.target.ref,
      gateway: r.revoker,
      findingId: r.target.findingId,
      findingFingerprint: r.findingFingerprint,
      detector: r.detector,
      initiatedBy: by,
      reason: r.reason,
      responseStatus: status,
      details: {
        ...details,
        rule: r.rule,
        status: r.status,
        ...(f
          ? { evidence: f.evidence, severity: f.severity, confidence: f.confidence, summary: f.summary }
          : {}),
      },
    };
    try {
      await this.o.audit.insertAudit([row]);
    } catch (e) {
      this.o.log.error({ err: e, action: r.id }, 'audit record of a response action could not be stored.');
    }
  }
}
