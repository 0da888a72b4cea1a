import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { type ApiEvent, actorKey, buildEvent, createLogger, KafkaBus } from '@apiwatch/core';
import { Admin } from '@platformatic/kafka';
import { KAFKA_BROKER, kafkaBusConfig, ROOT, uniqueName } from '../src/index.ts';
import { type BenchResult, medianRate } from './types.ts';

/**
 * The Kafka path through the real broker, on this machine (broker and client share its cores):
 * canonical events published through KafkaBus (idempotent, acks=all, keyed by actor) while a
 * consumer group of another KafkaBus reads and JSON-decodes them, committing after each batch.
 * Measured in the same run: the raw floor JSON.stringify+JSON.parse of the same events on one
 * core (what a JS pipeline cannot beat), and as a reference the Java client's own perf producer
 * (org.apache.kafka.tools.ProducerPerformance: one record per event of the same size, acks=all,
 * idempotent, no consumer). The Java figure is not a ceiling for the bus, which chunks one
 * actor's events into one record and so sends ~5× fewer records, and kafka.sh runs tools with
 * the C1 JIT only.
 */
const EVENTS = 100_000;
const ACTORS = 200;
const PUBLISH_BATCH = 1000;
const PUBLISHERS = 4;
const BUDGET = 30_000; // docs/design.md §5: through real Kafka >= 30k events/s on 2 cores

export async function run(): Promise<BenchResult[]> {
  const events = canonicalEvents(EVENTS);
  const avgBytes = events.slice(0, 1000).reduce((s, e) => s + JSON.stringify(e).length, 0) / 1000;
  const floor = medianRate(3, events.length, () => {
    for (const e of events) JSON.parse(JSON.stringify(e));
  });

  const id = uniqueName('bench-kafka');
  const config = kafkaBusConfig(id);
  const log = createLogger('warn');
  const producer = new KafkaBus(config, log);
  const consumer = new KafkaBus(config, log);
  const results: BenchResult[] = [];
  try {
    await producer.start();
    let consumed = 0;
    let decodedBytes = 0;
    const allConsumed = Promise.withResolvers<void>();
    await consumer.subscribe('events', 'bench', async (batch) => {
      for (const m of batch) decodedBytes += m.value.request.path.length;
      consumed += batch.length;
      if (consumed >= EVENTS) allConsumed.resolve();
    });

    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let next = 0;
    let producedAt = 0;
    const publishing = Promise.all(
      Array.from({ length: PUBLISHERS }, async () => {
        while (next < EVENTS) {
          const start = next;
          next += PUBLISH_BATCH;
          await producer.publish(
            'events',
            events.slice(start, start + PUBLISH_BATCH).map((e) => ({ key: actorKey(e), value: e })),
          );
        }
      }),
    ).then(() => {
      producedAt = performance.now();
    });
    const timeout = setTimeout(
      () => allConsumed.reject(new Error(`only ${consumed} of ${EVENTS} events consumed after 60 s`)),
      60_000,
    );
    await Promise.all([publishing, allConsumed.promise]);
    clearTimeout(timeout);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    if (consumed < EVENTS || decodedBytes === 0) throw new Error('the consumer did not decode every event');
    const rate = EVENTS / seconds;
    results.push({
      name: 'Kafka path: publish → broker → consume + JSON decode, events/s (client and broker on this machine)',
      value: rate,
      unit: 'events/s',
      floor,
      ratio: rate / floor,
      budget: BUDGET,
      note:
        `${EVENTS.toLocaleString('en-US')} events of ~${Math.round(avgBytes)} B, ${ACTORS} actors, ` +
        `publish ${((producedAt - t0) / 1000).toFixed(2)} s, all consumed ${seconds.toFixed(2)} s; ` +
        `client CPU ${((cpu.user + cpu.system) / EVENTS).toFixed(1)} µs/event (producer + consumer); ` +
        'floor = JSON.stringify+JSON.parse of the same events on one core',
    });
  } finally {
    await consumer.close();
    await producer.close();
    await deleteTopics(Object.values(config.topics));
  }

  const broker = brokerFloor(`${id}.perf`, Math.round(avgBytes));
  if (broker) {
    const last = results[0]!;
    results.push({
      name: 'Kafka path vs Java ProducerPerformance (one record per event, acks=all, idempotent)',
      value: last.value,
      unit: 'events/s',
      floor: broker,
      ratio: last.value / broker,
      note: 'reference, not a ceiling: the Java producer alone, no consumer, one ~1 KB record per event',
    });
  }
  return results;
}

/** Records/s of Kafka's own perf producer, or undefined (with a note on stderr) when it cannot run. */
function brokerFloor(topic: string, recordBytes: number): number | undefined {
  const kafkaSh = join(ROOT, 'infra/scripts/kafka.sh');
  const create = spawnSync(
    'bash',
    [kafkaSh, 'topics', '--create', '--topic', topic, '--partitions', '4', '--replication-factor', '1'],
    { encoding: 'utf8', timeout: 30_000 },
  );
  try {
    if (create.status !== 0) {
      process.stderr.write(`  (broker ceiling skipped: topic creation failed: ${create.stderr.trim()})\n`);
      return undefined;
    }
    const perf = spawnSync(
      'bash',
      [
        kafkaSh,
        'tool',
        'org.apache.kafka.tools.ProducerPerformance',
        '--topic',
        topic,
        '--num-records',
        String(EVENTS),
        '--record-size',
        String(recordBytes),
        '--throughput',
        '-1',
        '--producer-props',
        `bootstrap.servers=${KAFKA_BROKER}`,
        'acks=all',
        'enable.idempotence=true',
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    // Last line: "100000 records sent, 81234.5 records/sec (77.47 MB/sec), ..."
    const m = /records sent, ([\d.]+) records\/sec/.exec(perf.stdout);
    if (perf.status !== 0 || !m) {
      process.stderr.write(
        `  (broker ceiling skipped: ProducerPerformance failed: ${perf.stderr.trim().slice(-400)})\n`,
      );
      return undefined;
    }
    return Number(m[1]);
  } finally {
    spawnSync('bash', [kafkaSh, 'topics', '--delete', '--topic', topic], { timeout: 30_000 });
  }
}

async function deleteTopics(topics: string[]): Promise<void> {
  const admin = new Admin({ clientId: 'apiwatch-bench', bootstrapBrokers: [KAFKA_BROKER] });
  try {
    await admin.deleteTopics({ topics });
  } finally {
    await admin.close();
  }
}

/** Canonical events as an Envoy edge would yield them: ~1 KB of JSON, credential-keyed actors. */
function canonicalEvents(n: number): ApiEvent[] {
  let seed = 42;
  const random = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const out: ApiEvent[] = [];
  for (let i = 0; i < n; i++) {
    const a = Math.floor(random() * ACTORS);
    out.push(
      buildEvent({
        ts: 1_760_000_000_000 + i,
        method: i % 5 === 0 ? 'POST' : 'GET',
        scheme: 'https',
        host: 'api.example.com',
        path: `/v1/accounts/${a}/orders/${100_000 + i}`,
        route: '/v1/accounts/{accountId}/orders/{orderId}',
        queryKeys: ['expand', 'page'],
        status: i % 50 === 0 ? 401 : 200,
        sourceKind: 'envoy',
        raw: `r${i}`,
        requestId: `6f1c2a9e-${i.toString(16).padStart(8, '0')}-4b7d-9c1e-5a2f3b4c5d6e`,
        requestBytes: 312,
        responseBytes: 2048,
        latencyMs: 12.5,
        clientIp: `198.51.100.${a % 250}`,
        peerIp: '10.0.3.17',
        userAgent:
          'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0 Safari/537.36',
        credentialKind: 'api_key',
        credentialFingerprint: `fp${a.toString(16).padStart(40, '0')}`,
        credentialRef: `kong-cred-${a}`,
        service: 'orders-api',
        tenant: `tenant-${a % 17}`,
        scopes: ['orders:read', 'orders:write'],
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
        spanId: '00f067aa0ba902b7',
        gateway: 'edge-1',
      }),
    );
  }
  return out;
}

if (import.meta.main) {
  for (const r of await run()) console.log(r);
}
