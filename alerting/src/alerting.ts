import type { AlertConfigValue, Logger, Severity } from '@apiwatch/core';
import type { Notification } from './notification.ts';
import { Delivery } from './queue/delivery.ts';
import { createReceivers } from './receivers/registry.ts';
import { createSecretResolver } from './receivers/secrets.ts';
import type { Receiver } from './receivers/types.ts';
import { compileInhibitRules } from './router/inhibit.ts';
import { AlertRouter, type Clock, systemClock } from './router/router.ts';
import { Silences } from './router/silences.ts';
import { buildRouteTree } from './router/tree.ts';
import { MemoryStateStore } from './state/memory.ts';
import { RedisStateStore } from './state/redis.ts';
import type { StateStore } from './state/types.ts';

export interface Alerting {
  router: AlertRouter;
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
}

/** Builds the alerting stage from its config section: receivers, per-receiver queues, state, router. */
export function createAlerting(config: AlertConfigValue, o: AlertingOptions): Alerting {
  const receivers = [
    ...createReceivers(config.receivers, createSecretResolver(o.env)),
    ...(o.receivers ?? []),
  ];
  const state =
    o.state ??
    (config.state.kind === 'redis'
      ? new RedisStateStore(config.state.redisUrl, config.state.keyPrefix)
      : new MemoryStateStore());
  const q = config.queue;
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
  return {
    router,
    delivery,
    state,
    receivers,
    async start() {
      await delivery.start();
      router.start();
    },
    async flush() {
      await router.tick();
      await delivery.flush();
    },
    async close() {
      await router.close();
      await delivery.close();
      await state.close();
    },
  };
}
