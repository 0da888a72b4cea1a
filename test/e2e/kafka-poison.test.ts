import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  type ApiEvent,
  buildEvent,
  busCounters,
  createLogger,
  type DlqRecord,
  exampleFinding,
  KafkaBus,
  loadConfig,
  metrics,
} from '@apiwatch/core';
import { Producer, stringSerializers } from '@platformatic/kafka';
import { startPipeline } from '../../cli/src/pipeline.ts';
import { KAFKA_BROKER, requireService, uniqueName, waitFor } from '../src/index.ts';

/**
 * Issue 7 §6 on the real broker: one malformed message must not stop a consumer. Raw records are
 * written to the topics with a plain producer (as a buggy or older publisher would), and the real
 * store and detect roles consume them.
 */

const recent = Date.now() - 60_000;
const ev = (i: number): ApiEvent =>
  buildEvent({
    ts: recent + i,
    method: 'GET',
    path: `/items/${i}`,
    status: 200,
    sourceKind: 'poison-test',
    raw: `poison:${i}`,
    clientIp: '198.51.100.7',
  });

async function produceRaw(topic: string, values: string[]): Promise<void> {
  const producer = new Producer({
    clientId: 'poison-test',
    bootstrapBrokers: [KAFKA_BROKER],
    serializers: stringSerializers,
  });
  try {
    await producer.send({ messages: values.map((value) => ({ topic, key: 'k', value })) });
  } finally {
    await producer.close();
  }
}

test('Kafka: a malformed event and a malformed finding land in the DLQ, are counted, and what follows them is processed', async (t) => {
  if (!(await requireService(t, 'kafka'))) return;
  const id = uniqueName('poison');
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-poison-'));
  const topics = {
    events: `${id}.events`,
    findings: `${id}.findings`,
    dlq: `${id}.dlq`,
    rekeyed: `${id}.rekeyed`,
  };
  const config = loadConfig(undefined, {
    APIWATCH__DATADIR: dir,
    APIWATCH__LOGLEVEL: 'error',
    APIWATCH__BUS__KIND: 'kafka',
    APIWATCH__BUS__KAFKA__BROKERS: JSON.stringify([KAFKA_BROKER]),
    APIWATCH__BUS__KAFKA__GROUPPREFIX: id,
    APIWATCH__BUS__KAFKA__TOPICS__EVENTS: topics.events,
    APIWATCH__BUS__KAFKA__TOPICS__FINDINGS: topics.findings,
    APIWATCH__BUS__KAFKA__TOPICS__DLQ: topics.dlq,
    APIWATCH__BUS__KAFKA__TOPICS__REKEYED: topics.rekeyed,
    APIWATCH__STORE__MAXBATCHDELAYMS: '50',
  });
  const before = {
    eventSchema: busCounters.deadLetters('events', 'invalid_schema'),
    eventJson: busCounters.deadLetters('events', 'invalid_json'),
    findingVersion: busCounters.deadLetters('findings', 'unsupported_schema_version'),
  };
  const pipeline = await startPipeline(config, ['store', 'detect'], createLogger('error'));
  // One hook, in order: the roles write their last checkpoints on close, then the folder goes.
  t.after(async () => {
    await pipeline.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // The event that crashed the detect role from its tick: no identity. Then one that is not
  // JSON at all, then a good one.
  const noIdentity = ev(1) as Partial<ApiEvent>;
  delete noIdentity.identity;
  const good = ev(2);
  await produceRaw(topics.events, [JSON.stringify(noIdentity), '{"schemaVersion":1,', JSON.stringify(good)]);
  // A finding of the old schema (v1), then a good v2 finding.
  // Times inside store retention (older rows are dropped at insert).
  const goodFinding = {
    ...exampleFinding(),
    id: `${id}-finding`,
    firstSeen: recent,
    lastSeen: recent + 1,
    detectedAt: recent + 2,
  };
  const oldFinding = { ...exampleFinding(), id: `${id}-old`, schemaVersion: 1 };
  await produceRaw(topics.findings, [JSON.stringify(oldFinding), JSON.stringify(goodFinding)]);

  const store = pipeline.store!;
  await waitFor(
    'the event after the malformed ones to be stored',
    async () => {
      const [r] = await store.query<{ n: string }>(
        'SELECT count() AS n FROM api_events WHERE id = sipHash64({id:String})',
        { id: good.id },
      );
      return Number(r?.n) === 1 ? true : undefined;
    },
    60_000,
  );
  await waitFor(
    'the finding after the malformed one to be stored',
    async () => {
      const [r] = await store.query<{ n: string }>(
        'SELECT count() AS n FROM findings WHERE id = {id:String}',
        {
          id: goodFinding.id,
        },
      );
      return Number(r?.n) === 1 ? true : undefined;
    },
    60_000,
  );
  await waitFor(
    'the dead letters in the store',
    async () => {
      const rows = await store.query<DlqRecord>(
        "SELECT source, code, reason, raw FROM dead_letters WHERE source IN ('bus.events', 'bus.findings')",
      );
      // The malformed events are read by two groups (store, detect): each dead-letters them.
      return rows.length >= 5 ? rows : undefined;
    },
    60_000,
  ).then((rows) => {
    const events = rows.filter((r) => r.source === 'bus.events');
    const findings = rows.filter((r) => r.source === 'bus.findings');
    assert.ok(
      events.some((r) => r.reason.startsWith('invalid_schema: /identity')),
      JSON.stringify(events),
    );
    assert.ok(events.some((r) => r.reason.startsWith('invalid_json')));
    assert.ok(events.every((r) => r.code === 'BUS_MESSAGE_INVALID'));
    assert.equal(findings.length, 1, 'findings are read by the store only here');
    assert.match(findings[0]!.reason, /^unsupported_schema_version: schemaVersion 1/);
    assert.match(findings[0]!.raw, new RegExp(`${id}-old`));
  });

  // Counted, per topic and reason (both groups count the events they refuse).
  assert.equal(busCounters.deadLetters('events', 'invalid_schema'), before.eventSchema + 2);
  assert.equal(busCounters.deadLetters('events', 'invalid_json'), before.eventJson + 2);
  assert.equal(busCounters.deadLetters('findings', 'unsupported_schema_version'), before.findingVersion + 1);
  const scraped = await metrics.render();
  assert.match(scraped, /^apiwatch_bus_dead_letters_total\{topic="events",reason="invalid_schema"\} \d+$/m);
  assert.match(
    scraped,
    /^apiwatch_bus_dead_letters_total\{topic="findings",reason="unsupported_schema_version"\} \d+$/m,
  );
  // The detect role took the good event (run, or held in its reorder buffer for the watermark).
  const detectTook = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(scraped)?.[1] ?? 0);
  assert.equal(
    detectTook('apiwatch_detect_events_total') + detectTook('apiwatch_detect_buffered_events'),
    1,
    scraped,
  );
});

test('Kafka: a handler that keeps failing on one message has it dead-lettered after bounded retries; the partition moves on', async (t) => {
  if (!(await requireService(t, 'kafka'))) return;
  const id = uniqueName('poison-handler');
  const kafka = {
    ...loadConfig(undefined, {}).bus.kafka,
    brokers: [KAFKA_BROKER],
    groupPrefix: id,
    topics: {
      events: `${id}.events`,
      findings: `${id}.findings`,
      dlq: `${id}.dlq`,
      rekeyed: `${id}.rekeyed`,
    },
    partitions: 1,
  };
  const retry = { attempts: 3, initialBackoffMs: 10, maxBackoffMs: 50 };
  const bus = new KafkaBus(kafka, createLogger('silent'), retry);
  t.after(() => bus.close());
  await bus.start();
  const events = Array.from({ length: 20 }, (_, i) => ev(100 + i));
  const poison = events[7]!.id;
  await bus.publish(
    'events',
    events.map((e) => ({ key: `k${e.ts % 3}`, value: e })),
  );
  const processed = new Set<string>();
  let calls = 0;
  await bus.subscribe('events', 'consumer', async (batch) => {
    calls++;
    if (batch.some((m) => m.value.id === poison)) throw new Error('this handler cannot take that event');
    for (const m of batch) processed.add(m.value.id);
  });
  const dead: DlqRecord[] = [];
  await bus.subscribe('dlq', 'dlq-reader', async (batch) => {
    for (const m of batch) dead.push(m.value);
  });
  await waitFor('the other 19 events', () => (processed.size === 19 ? true : undefined), 60_000);
  await waitFor('the dead letter', () => (dead.length === 1 ? true : undefined), 60_000);
  assert.equal(processed.has(poison), false);
  assert.equal(dead[0]!.code, 'BUS_HANDLER_FAILED');
  assert.equal(dead[0]!.source, 'bus.events');
  assert.match(dead[0]!.reason, /handler_failed: this handler cannot take that event/);
  assert.ok(dead[0]!.raw.includes(poison));
  assert.ok(calls < 60, `bounded: ${calls} handler calls`);
});
