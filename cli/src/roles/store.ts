import type { Bus, Logger, Store } from '@apiwatch/core';

/** The store role: consumes events and findings and inserts them (idempotent on their ids). */
export async function startStoreRole(store: Store, bus: Bus, log: Logger): Promise<{ stop(): Promise<void> }> {
  const events = await bus.subscribe('events', 'store', async (batch) => {
    await store.insertEvents(batch.map((m) => m.value));
  });
  const findings = await bus.subscribe('findings', 'store', async (batch) => {
    await store.insertFindings(batch.map((m) => m.value));
  });
  log.info({ store: store.kind }, 'store role consuming events and findings.');
  return {
    async stop() {
      await events.close();
      await findings.close();
    },
  };
}
