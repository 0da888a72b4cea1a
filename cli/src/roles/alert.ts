import { join } from 'node:path';
import {
  AlertRouter,
  BullmqQueue,
  buildRoutes,
  MemoryQueue,
  type NotificationQueue,
} from '@apiwatch/alerting';
import { type Bus, type Config, type Logger, metrics } from '@apiwatch/core';

/** The alert role: consumes findings and routes them to receivers through the delivery queue. */
export async function startAlertRole(
  config: Config,
  bus: Bus,
  log: Logger,
): Promise<{ router: AlertRouter; stop(): Promise<void> }> {
  const q = config.alert.queue;
  const policy = { attempts: q.attempts, backoffMs: q.backoffMs, concurrency: q.concurrency };
  const queue: NotificationQueue =
    q.kind === 'bullmq'
      ? new BullmqQueue(q.redisUrl, q.name, policy, log)
      : new MemoryQueue(
          policy,
          log,
          q.outbox.enabled
            ? { outbox: { path: join(config.dataDir, 'outbox', q.name), fsync: q.outbox.fsync } }
            : {},
        );
  const router = new AlertRouter(
    buildRoutes(config.alert, process.env, log),
    config.alert.dedupWindowSeconds,
    queue,
  );
  await router.start();
  const sub = await bus.subscribe('findings', 'alert', async (batch) => {
    for (const m of batch) await router.route(m.value);
  });
  metrics.register('apiwatch_alert_notifications_total', 'Notifications by outcome.', 'counter', () => [
    { labels: { outcome: 'delivered' }, value: queue.counters.delivered },
    { labels: { outcome: 'retried' }, value: queue.counters.retried },
    { labels: { outcome: 'failed' }, value: queue.counters.failed },
  ]);
  metrics.register(
    'apiwatch_alert_findings_total',
    'Findings routed or suppressed as duplicates.',
    'counter',
    () => [
      { labels: { outcome: 'routed' }, value: router.counters.routed },
      { labels: { outcome: 'suppressed' }, value: router.counters.suppressed },
    ],
  );
  log.info(
    { receivers: router.receivers.map((r) => r.id), queue: queue.kind },
    router.receivers.length > 0
      ? 'alert role routing findings.'
      : 'alert role running with no receivers configured; findings are only logged and stored.',
  );
  return {
    router,
    async stop() {
      await sub.close();
      await router.flush();
      await router.close();
    },
  };
}
