import type { IncomingHttpHeaders } from 'node:http';
import type { AlertConfigValue, Finding, Logger, Severity } from '@apiwatch/core';
import { createDecider } from './actions/decision.ts';
import { type AuditSink, ResponseEngine } from './actions/engine.ts';
import { BullmqActionQueue, MemoryActionQueue } from './actions/queue.ts';
import { createRevokers } from './actions/registry.ts';
import type { ManagementStore, SpecRegistry } from './api/management.ts';
import { startAlertApi } from './api/server.ts';
import type { Notification } from './notification.ts';
import { Delivery } from './queue/delivery.ts';
import { DeliveryLog, type DeliveryRecordSink } from './queue/records.ts';
import { createReceivers } from './receivers/registry.ts';
import { createSecretResolver } from './receivers/secrets.ts';
import type { Receiver } from './receivers/types.ts';
import { compileInhibitRules } from './router/inhibit.ts';
import { AlertRouter, type Clock, systemClock } from './router/router.ts';
import { Silences } from './router/silences.ts';
import { buildRouteTree } from './router/tree.ts';
import { FileStateStore } from './state/file.ts';
import { MemoryStateStore } from './state/memory.ts';
import { RedisStateStore } from './state/redis.ts';
import type { StateStore } from './state/types.ts';

export interface Alerting {
  router: AlertRouter;
  /** Null when no response-action rule is configured. */
  engine: ResponseEngine | null;
  decider: ReturnType<typeof createDecider> | null;
  /** URL of the alert API once started (alert.api.port > 0), else null. */
  apiUrl: string | null;
  /** One finding in: routed to receivers and offered to the response engine. */
  handle(f: Finding): Promise<void>;
  delivery: Delivery;
  state: StateStore;
  receivers: Receiver[];
  start(): Promise<void>;
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface AlertingOptions {
  /** Environment for secrets (the CLI passes process.env; tests their own). */
  env: Readonly<Record<string, string | undefined>>;
  log: Logger;
  clock?: Clock;
  /** Extra receivers built by the caller (tests), appended to the configured ones. */
  receivers?: Receiver[];
  state?: StateStore;
  /** state.kind file: where the state journal lives (the CLI: <dataDir>/alert-state); without it, memory. */
  stateDir?: string | null;
  /** kind memory: directory of the per-receiver outboxes (`<dir>/<queue name>.<receiver>`); null: none. */
  outboxDir?: string | null;
  outboxFsync?: boolean;
  /** Where response-action audit rows go (the store); null: logged only. */
  audit?: AuditSink | null;
  /** The store the management API reads findings/inventory from and audits into (the CLI's). */
  store?: ManagementStore | null;
  /** Uploaded OpenAPI specs served by the management API (the CLI's ingest SpecCatalog). */
  specs?: SpecRegistry | null;
  /** How often the API re-reads token revocations made by other processes, ms. Default 10 000. */
  tokenRefreshMs?: number;
  /** Where each delivery attempt is recorded (notification_deliveries); default `store`. */
  deliveryRecords?: DeliveryRecordSink | null;
  /**
   * Reads the presented credential from a gateway's request headers for the decision endpoint:
   * the CLI builds it from the ingest identity context so fingerprints match ingest's.
   */
  credentialOf?: (headers: IncomingHttpHeaders) => { entityId: string | null; ref: string | null } | null;
}

/** Builds the alerting stage from its config section: receivers, per-receiver queues, state, router. */
export function createAlerting(config: AlertConfigValue, o: AlertingOptions): Alerting {
  const secrets = createSecretResolver(o.env);
  const receivers = [...createReceivers(config.receivers, secrets), ...(o.receivers ?? [])];
  const state = o.state ?? createState(config, o);
  const q = config.queue;
  const recordSink = o.deliveryRecords !== undefined ? o.deliveryRecords : (o.store ?? null);
  const delivery = new Delivery(
    receivers,
    {
      kind: q.kind,
      redisUrl: q.redisUrl,
      name: q.name,
      policy: {
        attempts: q.attempts,
        backoffMs: q.backoffMs,
        maxBackoffMs: q.maxBackoffMs,
        jitterRatio: q.jitterRatio,
        concurrency: q.concurrency,
        dedupWindowMs: config.dedupWindowSeconds * 1000,
      },
      log: o.log,
      outboxDir: o.outboxDir ?? null,
      outboxFsync: o.outboxFsync ?? true,
      records: recordSink ? new DeliveryLog({ sink: recordSink, log: o.log }) : null,
    },
    new Map(config.receivers.map((r) => [r.id, r.rateLimitPerSecond])),
  );
  const clock = o.clock ?? systemClock;
  const minSeverity = new Map<string, Severity>(
    config.receivers.map((r) => [r.id, r.minSeverity as Severity]),
  );
  const router = new AlertRouter({
    tree: buildRouteTree(config.route, config.receivers),
    inhibitRules: compileInhibitRules(config.inhibitRules),
    receivers: minSeverity,
    state,
    silences: new Silences(state, () => clock.now()),
    clock,
    enqueue: (n: Notification) => delivery.enqueue(n),
    maxFindingsPerNotification: config.maxFindingsPerNotification,
    dashboardUrl: config.dashboardUrl ?? null,
    log: o.log,
  });
  const a = config.actions;
  const pageTo = a.budget.pageReceiver;
  if (pageTo !== undefined && !receivers.some((r) => r.id === pageTo)) {
    throw new Error(`alert.actions.budget.pageReceiver: receiver "${pageTo}" is not configured`);
  }
  const actionPolicy = {
    attempts: 6,
    backoffMs: q.backoffMs,
    maxBackoffMs: 60_000,
    jitterRatio: q.jitterRatio,
    concurrency: 2,
  };
  const engine =
    a.rules.length > 0
      ? new ResponseEngine({
          config: a,
          revokers: createRevokers(a.revokers, secrets),
          state,
          audit: o.audit ?? null,
          page: (n) => delivery.enqueue(n),
          queue:
            q.kind === 'bullmq'
              ? new BullmqActionQueue(q.redisUrl, `${q.name}.actions`, actionPolicy, o.log)
              : new MemoryActionQueue(actionPolicy, o.log),
          clock,
          log: o.log,
        })
      : null;
  const decider = engine
    ? createDecider({
        engine,
        credentialOf: o.credentialOf ?? refOnly,
        cacheTtlMs: a.decision.cacheTtlMs,
        failMode: a.decision.failMode,
        log: o.log,
      })
    : null;
  if (engine && decider) engine.onChange = decider.invalidate;
  let api: Awaited<ReturnType<typeof startAlertApi>> | null = null;
  const alerting: Alerting = {
    router,
    engine,
    decider,
    apiUrl: null,
    delivery,
    state,
    receivers,
    async handle(f: Finding) {
      await router.route(f);
      if (engine) await engine.onFinding(f);
    },
    async start() {
      await state.open?.();
      await delivery.start();
      await engine?.start();
      router.start();
      if (config.api.enabled) {
        api = await startAlertApi({
          host: config.api.host,
          port: config.api.port,
          tokens: config.api.tokens,
          router,
          delivery,
          engine,
          decider,
          log: o.log,
          store: o.store ?? null,
          specs: o.specs ?? null,
          ...(o.tokenRefreshMs !== undefined ? { tokenRefreshMs: o.tokenRefreshMs } : {}),
        });
        alerting.apiUrl = api.url;
      }
    },
    async flush() {
      await router.tick();
      await engine?.flush();
      await delivery.flush();
    },
    async close() {
      await api?.close();
      await router.close();
      await engine?.close();
      await delivery.close();
      await state.close();
    },
  };
  return alerting;
}

/** Without an identity context, a gateway can still name the credential ref it resolved. */
function refOnly(headers: IncomingHttpHeaders): { entityId: string | null; ref: string | null } | null {
  const ref = headers['x-apiwatch-credential-ref'];
  return typeof ref === 'string' && ref ? { entityId: null, ref } : null;
}

function createState(config: AlertConfigValue, o: AlertingOptions): StateStore {
  const s = config.state;
  if (s.kind === 'redis') return new RedisStateStore(s.redisUrl, s.keyPrefix);
  if (s.kind === 'file' && o.stateDir)
    return new FileStateStore({ dir: o.stateDir, fsync: s.fsync, log: o.log });
  if (s.kind === 'file')
    o.log.debug('alert state: no state directory given; groups and silences live in memory only.');
  return new MemoryStateStore();
}
