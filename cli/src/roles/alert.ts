import { type Alerting, createAlerting } from '@apiwatch/alerting';
import { type Bus, type Config, type Logger, metrics } from '@apiwatch/core';

/** The alert role: consumes findings, routes and groups them, delivers notifications per receiver. */
export async function startAlertRole(
  config: Config,
  bus: Bus,
  log: Logger,
): Promise<{ alerting: Alerting; stop(): Promise<void> }> {
  const alerting = createAlerting(config.alert, { env: process.env, log });
  await alerting.start();
  const sub = await bus.subscribe('findings', 'alert', async (batch) => {
    for (const m of batch) await alerting.router.route(m.value);
  });
  metrics.register(
    'apiwatch_alert_notifications_total',
    'Notifications by receiver and outcome.',
    'counter',
    () =>
      Object.entries(alerting.delivery.counters()).flatMap(([receiver, c]) =>
        (['delivered', 'retried', 'failed', 'duplicates'] as const).map((outcome) => ({
          labels: { receiver, outcome },
          value: c[outcome],
        })),
      ),
  );
  metrics.register('apiwatch_alert_findings_total', 'Findings by routing outcome.', 'counter', () =>
    Object.entries(alerting.router.counters.findings).map(([outcome, value]) => ({
      labels: { outcome },
      value,
    })),
  );
  log.info(
    {
      receivers: alerting.receivers.map((r) => r.id),
      queue: config.alert.queue.kind,
      state: alerting.state.kind,
    },
    alerting.receivers.length > 0
      ? 'alert role routing findings.'
      : 'alert role running with no receivers configured; findings are only logged and stored.',
  );
  return {
    alerting,
    async stop() {
      await sub.close();
      await alerting.flush();
      await alerting.close();
    },
  };
}
