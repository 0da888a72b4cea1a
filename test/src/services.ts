import { Socket } from 'node:net';
import type { TestContext } from 'node:test';
import { type Config, loadConfig } from '@apiwatch/core';

/**
 * Integration tests need real Kafka and Redis (no mocks). `npm test` starts them through
 * infra/scripts; when one is still missing a test skips with a loud reason, and with
 * APIWATCH_REQUIRE_SERVICES=1 (CI) the test fails instead.
 */
export const KAFKA_BROKER =
  process.env.APIWATCH_KAFKA_BROKERS ?? `127.0.0.1:${process.env.APIWATCH_KAFKA_PORT ?? '9092'}`;
export const REDIS_URL =
  process.env.APIWATCH_REDIS_URL ?? `redis://127.0.0.1:${process.env.APIWATCH_REDIS_PORT ?? '6379'}`;

function reachable(hostPort: string, timeoutMs = 1500): Promise<boolean> {
  const [host, port] = [
    hostPort.slice(0, hostPort.lastIndexOf(':')),
    Number(hostPort.slice(hostPort.lastIndexOf(':') + 1)),
  ];
  return new Promise((resolve) => {
    const s = new Socket();
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('error', () => done(false));
    s.connect(port, host, () => done(true));
  });
}

/** Returns true when the service is there; otherwise skips the test (or fails it in CI). */
export async function requireService(t: TestContext, name: 'kafka' | 'redis'): Promise<boolean> {
  const target = name === 'kafka' ? KAFKA_BROKER : new URL(REDIS_URL).host;
  if (await reachable(target)) return true;
  const reason = `${name} is not reachable at ${target}; start it with infra/scripts/${name}.sh start`;
  if (process.env.APIWATCH_REQUIRE_SERVICES === '1')
    throw new Error(`APIWATCH_REQUIRE_SERVICES=1 and ${reason}`);
  process.stderr.write(`\n*** SKIPPING ${t.name}: ${reason} ***\n\n`);
  t.skip(reason);
  return false;
}

/** A name no other test run uses: for topics, queues, consumer groups. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** The bus topics of one test or bench run, all named after its `id` (a uniqueName). */
export const kafkaTopics = (id: string): Config['bus']['kafka']['topics'] => ({
  events: `${id}.events`,
  findings: `${id}.findings`,
  dlq: `${id}.dlq`,
  rekeyed: `${id}.rekeyed`,
});

/**
 * A KafkaBus config of the schema's defaults on the test broker, with consumer groups and topics
 * of the run's own (`id`, a uniqueName): spread it to change a setting.
 */
export const kafkaBusConfig = (id: string): Config['bus']['kafka'] => ({
  ...loadConfig(undefined, {}).bus.kafka,
  brokers: [KAFKA_BROKER],
  groupPrefix: id,
  topics: kafkaTopics(id),
});
