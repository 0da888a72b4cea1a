import type { IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { type Alerting, createAlerting } from '@apiwatch/alerting';
import {
  type Bus,
  type Config,
  createStoreFromConfig,
  findingTraces,
  type Logger,
  metrics,
  type Store,
  tracing,
} from '@apiwatch/core';
import { loadIdentityContext, SpecCatalog } from '@apiwatch/ingest';

/**
 * The alert role: consumes findings, routes and groups them, delivers notifications per receiver,
 * runs response actions, and serves the alert API + gateway decision endpoint when enabled.
 * Audit rows go to the pipeline's store when this process has one, else to a store of its own
 * (only when response actions are configured).
 */
export async function startAlertRole(
  config: Config,
  bus: Bus,
  log: Logger,
  store: Store | null = null,
  specs: SpecCatalog | null = null,
): Promise<{ alerting: Alerting; stop(): Promise<void> }> {
  const actionsOn = config.alert.actions.rules.length > 0;
  let ownStore: Store | null = null;
  if ((actionsOn || config.alert.api.enabled) && !store) {
    ownStore = createStoreFromConfig(config);
    await ownStore?.start();
  }
  const audit = store ?? ownStore;
  const identity = actionsOn ? loadIdentityContext(config.dataDir, process.env, config.identity) : null;
  const apiKeyHeaders = config.alert.actions.decision.apiKeyHeaders.map((h) => h.toLowerCase());
  // The decision endpoint fingerprints what the gateway saw exactly as ingest does.
  const credentialOf = (h: IncomingHttpHeaders) => {
    if (!identity) return null;
    const ref = typeof h['x-apiwatch-credential-ref'] === 'string' ? h['x-apiwatch-credential-ref'] : null;
    for (const name of apiKeyHeaders) {
      const v = h[name];
      if (typeof v === 'string' && v) return { entityId: identity.fromApiKey(v).fingerprint, ref };
    }
    if (typeof h.authorization === 'string')
      return { entityId: identity.fromAuthorization(h.authorization).fingerprint, ref };
    return ref ? { entityId: null, ref } : null;
  };
  const q = config.alert.queue;
  const alerting = createAlerting(config.alert, {
    env: process.env,
    log,
    audit,
    store: audit,
    // Uploads go to the store's api_specs; the pipeline's catalog also tells this process's ingest.
    specs: specs ?? (audit ? new SpecCatalog(audit, log) : null),
    credentialOf,
    // Embedded: each receiver's queue keeps its jobs in an fsync'd outbox under the data dir.
    outboxDir: q.kind === 'memory' && q.outbox.enabled ? join(config.dataDir, 'outbox') : null,
    outboxFsync: q.outbox.fsync,
    stateDir: join(config.dataDir, 'alert-state'),
  });
  await alerting.start();
  const sub = await bus.subscribe('findings', 'alert', async (batch) => {
    // Tracing (docs/telemetry.md): the span of a traced finding is the parent of its notifications.
    const spans = tracing.consume('alert findings', batch, {
      'messaging.system': bus.kind === 'kafka' ? 'kafka' : 'apiwatch_memory',
      'messaging.operation.type': 'process',
      'messaging.destination.name': 'findings',
      'messaging.consumer.group.name': 'alert',
    });
    try {
      for (const m of batch) {
        if (spans.active) {
          const sc = spans.contextOf(m);
          if (sc) findingTraces.remember(m.value.id, sc);
        }
        await alerting.handle(m.value);
      }
    } catch (e) {
      spans.end(e);
      throw e;
    }
    spans.end();
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
  const records = alerting.delivery.records;
  if (records)
    metrics.register(
      'apiwatch_alert_delivery_records_dropped_total',
      'Delivery records (notification_deliveries) not stored: buffer full or the store refused them.',
      'counter',
      () => [{ value: records.counters.dropped }],
    );
  if (alerting.decider) {
    const d = alerting.decider.counters;
    metrics.register('apiwatch_alert_decisions_total', 'Gateway decisions by outcome.', 'counter', () => [
      { labels: { outcome: 'allow' }, value: d.allowed },
      { labels: { outcome: 'deny' }, value: d.denied },
      { labels: { outcome: 'fail_open' }, value: d.failOpen },
      { labels: { outcome: 'fail_closed' }, value: d.failClosed },
    ]);
  }
  log.info(
    {
      receivers: alerting.receivers.map((r) => r.id),
      queue: config.alert.queue.kind,
      state: alerting.state.kind,
      actions: actionsOn ? config.alert.actions.mode : 'off',
      api: alerting.apiUrl,
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
      await ownStore?.close();
    },
  };
}
