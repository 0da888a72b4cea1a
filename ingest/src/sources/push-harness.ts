import { type ApiEvent, buildEvent, createLogger, type DlqRecord, MemoryBus } from '@apiwatch/core';
import { createIdentityContext, type IdentityContext } from '../identity/context.ts';
import { sha256Hex } from '../server/auth.ts';
import { createIngestServer } from '../server/ingest.ts';

/** Test harness for the push endpoints: a real ingest server on 127.0.0.1:0 and a MemoryBus reader. */
export const TOKEN = 'push-collector-token-7f3a';
export const FINGERPRINT_KEY = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

export interface PushHarness {
  base: string;
  bus: MemoryBus;
  identity: IdentityContext;
  events: ApiEvent[];
  dlq: DlqRecord[];
  reset(): void;
  /** Waits until the bus delivered everything published so far. */
  settle(): Promise<void>;
  /** Fills the events queue so `bus.saturated()` is true until `release()`. */
  saturate(): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export async function startPushHarness(
  extra: {
    maxBodyBytes?: number;
    maxInflatedBytes?: number;
    maxRecordsPerRequest?: number;
    specs?: string[];
    envoyAls?: { enabled: boolean; host: string; port: number };
    rateLimit?: { eventsPerSecond: number; burstEvents: number };
  } = {},
): Promise<PushHarness> {
  const bus = new MemoryBus(4);
  const events: ApiEvent[] = [];
  const dlq: DlqRecord[] = [];
  let gate: Promise<void> | null = null;
  await bus.subscribe('events', 'test', async (batch) => {
    if (gate) await gate;
    for (const m of batch) events.push(m.value);
  });
  await bus.subscribe('dlq', 'test', async (batch) => {
    for (const m of batch) dlq.push(m.value);
  });
  const identity = createIdentityContext(FINGERPRINT_KEY, 'k1');
  const server = await createIngestServer({
    host: '127.0.0.1',
    port: 0,
    maxBodyBytes: extra.maxBodyBytes ?? 256 * 1024,
    maxRecordsPerRequest: extra.maxRecordsPerRequest ?? 1000,
    ...(extra.maxInflatedBytes ? { maxInflatedBytes: extra.maxInflatedBytes } : {}),
    ...(extra.specs ? { specs: extra.specs } : {}),
    collectors: [{ id: 'edge-1', tokenSha256: sha256Hex(TOKEN) }],
    bus,
    log: createLogger('silent'),
    identity,
    ...(extra.envoyAls ? { envoyAls: extra.envoyAls } : {}),
    ...(extra.rateLimit ? { rateLimit: extra.rateLimit } : {}),
  });
  return {
    base: server.url(),
    bus,
    identity,
    events,
    dlq,
    reset() {
      events.length = 0;
      dlq.length = 0;
    },
    settle: () => bus.flush(),
    async saturate() {
      let open!: () => void;
      gate = new Promise<void>((r) => {
        open = r;
      });
      const filler = (i: number) =>
        buildEvent({
          ts: i,
          method: 'GET',
          path: '/',
          status: 200,
          sourceKind: 'harness-filler',
          raw: `filler${i}`,
        });
      // The consumer takes the first batch and blocks on the gate; the next ones fill the queue.
      await bus.publish('events', [{ key: 'f', value: filler(0) }]);
      await new Promise((r) => setImmediate(r));
      await bus.publish(
        'events',
        [1, 2, 3, 4].map((i) => ({ key: 'f', value: filler(i) })),
      );
      return async () => {
        gate = null;
        open();
        await bus.flush();
        // Drop only the fillers: events published while the bus was full are what the test checks.
        const kept = events.filter((e) => e.source.kind !== 'harness-filler');
        events.length = 0;
        events.push(...kept);
      };
    },
    async close() {
      await server.app.close();
      await bus.close();
    },
  };
}
