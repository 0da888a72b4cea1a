import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  type ApiEvent,
  actorKey,
  buildEvent,
  createLogger,
  type Finding,
  KafkaBus,
  loadConfig,
} from '@apiwatch/core';
import {
  freePort,
  KAFKA_BROKER,
  requireService,
  scrapeMetric,
  startApiwatch,
  uniqueName,
  waitFor,
} from '../src/index.ts';

/**
 * `kill -9` of the detect role mid-stream, then a restart: it misses no finding an uninterrupted
 * run raises and publishes none twice (decision 0013: per-partition checkpoints, offsets
 * committed only up to them, a journal of what was published since).
 */

const T0 = Date.UTC(2026, 2, 2, 10, 0, 0);
/** Events per producer send (~3 s of the workload's event time). */
const SEND = 8;

function workload(): ApiEvent[] {
  const events: ApiEvent[] = [];
  let i = 0;
  const add = (sec: number, ip: string, status: number, user: string | null) =>
    events.push(
      buildEvent({
        ts: T0 + Math.round(sec * 1000),
        method: 'POST',
        path: '/login',
        status,
        sourceKind: 'test',
        raw: `${i++}|${sec}|${ip}|${status}`,
        clientIp: ip,
        user,
        credentialKind: user ? 'basic' : 'none',
      }),
    );
  for (let sec = 0; sec < 3600; sec += 0.4) {
    const n = Math.round(sec * 2.5);
    add(sec, `198.51.100.${n % 200}`, 200, `u${n % 200}`);
    // 16 brute forcers, one every 220 s, each 25 failures in 50 s: episodes straddle any cut.
    const k = Math.floor(sec / 220);
    if (k < 16 && sec - k * 220 < 50 && n % 5 === 0) add(sec + 0.1, `203.0.113.${k + 1}`, 401, null);
    // 5 credential stuffers, one every 700 s, each a new account every 2 s for 60 s: judged by
    // stage 2 (the login endpoint's key), so its state must survive the kill too.
    const j = Math.floor(sec / 700);
    if (j < 5 && sec - j * 700 >= 100 && sec - j * 700 < 160 && n % 5 === 0)
      add(sec + 0.2, `192.0.2.${j + 1}`, 401, `victim${Math.round(sec * 10)}@mail.example`);
  }
  return events.sort((a, b) => a.ts - b.ts);
}

function writeConfig(dir: string, id: string, eventsTopic: string, metricsPort: number): string {
  const file = join(dir, `${id}.yaml`);
  writeFileSync(
    file,
    [
      `dataDir: ${join(dir, id)}`,
      'logLevel: info',
      `telemetry: { metrics: { host: 127.0.0.1, port: ${metricsPort} } }`,
      'store: { kind: none }',
      'bus:',
      '  kind: kafka',
      '  kafka:',
      `    brokers: ['${KAFKA_BROKER}']`,
      `    groupPrefix: ${id}`,
      '    partitions: 4',
      '    maxBatchEvents: 200',
      `    topics: { events: ${eventsTopic}, findings: ${id}.findings, dlq: ${id}.dlq, rekeyed: ${id}.rekeyed }`,
      'detect:',
      // Sends below span at most a few seconds of event time (see SEND); a consumer batch that
      // ends inside one leaves the rest up to that far behind the lane clock, so the lateness
      // covers it and no event is judged late (out of order) in one run and in order in the other.
      '  allowedLatenessMs: 10000',
      '  idleWatermarkMs: 0',
      '  checkpoint: { intervalSeconds: 1 }',
      '  baselines: { enabled: false }',
    ].join('\n'),
  );
  return file;
}

/** A metric of the detect process on `port`, -1 while it does not answer. */
const scrape = async (port: number, name: string) =>
  (await scrapeMetric(`http://127.0.0.1:${port}/metrics`, name)) ?? -1;

test('kill -9 of the detect role mid-stream: after a restart no finding is missed and none is published twice', async (t) => {
  if (!(await requireService(t, 'kafka'))) return;
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-detect-restart-'));
  const base = uniqueName('restart');
  const eventsTopic = `${base}.events`;
  const events = workload();
  const log = createLogger('warn');
  const kafka = loadConfig(undefined, {}).bus.kafka;
  const busFor = (id: string) =>
    new KafkaBus(
      {
        ...kafka,
        brokers: [KAFKA_BROKER],
        groupPrefix: `${id}-reader`,
        partitions: 4,
        topics: {
          events: eventsTopic,
          findings: `${id}.findings`,
          dlq: `${id}.dlq`,
          rekeyed: `${id}.rekeyed`,
        },
      },
      log,
    );
  const producer = busFor(`${base}-producer`);
  await producer.start();
  t.after(() => producer.close());

  const read = async (id: string, into: Finding[]) => {
    const bus = busFor(id);
    await bus.start();
    await bus.subscribe('findings', 'reader', async (batch) => {
      for (const m of batch) into.push(m.value);
    });
    t.after(() => bus.close());
  };

  // The uninterrupted reference and the run that gets killed read the same events topic.
  const refId = `${base}-ref`;
  const runId = `${base}-run`;
  const refPort = await freePort();
  const runPort = await freePort();
  const reference = startApiwatch([
    'start',
    '--role',
    'detect',
    '--config',
    writeConfig(dir, refId, eventsTopic, refPort),
  ]);
  t.after(() => reference.stop('SIGKILL'));
  let victim = startApiwatch([
    'start',
    '--role',
    'detect',
    '--config',
    writeConfig(dir, runId, eventsTopic, runPort),
  ]);
  t.after(() => victim.stop('SIGKILL'));
  const refFindings: Finding[] = [];
  const runFindings: Finding[] = [];
  await read(refId, refFindings);
  await read(runId, runFindings);
  for (const [p, port] of [
    [reference, refPort],
    [victim, runPort],
  ] as const)
    await waitFor(
      'detect consuming',
      async () => ((await scrape(port, 'apiwatch_detect_events_total')) >= 0 ? true : undefined),
      60_000,
      p.output,
    );
  await waitFor(
    'partitions assigned',
    () => (/detect role consuming events/.test(victim.output()) ? true : undefined),
    60_000,
    victim.output,
  );

  // Produce in slices so the kill lands mid-stream.
  const slices = 20;
  const per = Math.ceil(events.length / slices);
  let killed = false;
  for (let s = 0; s < slices; s++) {
    const slice = events.slice(s * per, (s + 1) * per);
    // The workload is an hour compressed into seconds: one send of a whole slice would span three
    // minutes of event time, reordered by key within a partition (the bus packs each key's run
    // of a send into one record). Live ingest sends what just arrived; so does this, in sends of
    // SEND events (a few seconds of event time each).
    for (let i = 0; i < slice.length; i += SEND)
      await producer.publish(
        'events',
        slice.slice(i, i + SEND).map((e) => ({ key: actorKey(e), value: e })),
      );
    await new Promise((r) => setTimeout(r, 250));
    if (!killed && s >= 8) {
      await waitFor(
        'part of the stream processed',
        async () => ((await scrape(runPort, 'apiwatch_detect_events_total')) > per * 5 ? true : undefined),
        60_000,
        victim.output,
      );
      assert.equal(await victim.stop('SIGKILL'), null);
      killed = true;
      victim = startApiwatch(['start', '--role', 'detect', '--config', join(dir, `${runId}.yaml`)]);
    }
  }
  await waitFor(
    'the reference finished',
    async () =>
      (await scrape(refPort, 'apiwatch_detect_events_total')) === events.length ? true : undefined,
    120_000,
    reference.output,
  );
  const refCount = () => new Set(refFindings.map((f) => `${f.id}|${f.status}`)).size;
  await waitFor(
    'the restarted run caught up',
    () => {
      const got = new Set(runFindings.map((f) => `${f.id}|${f.status}`)).size;
      return got >= refCount() && refCount() > 0 ? true : undefined;
    },
    120_000,
    victim.output,
  );
  await new Promise((r) => setTimeout(r, 3000));
  assert.match(victim.output(), /detector state restored from its checkpoint/);

  const keys = runFindings.map((f) => `${f.id}|${f.status}`);
  const dupes = keys.filter((k, i) => keys.indexOf(k) !== i);
  assert.deepEqual(dupes, [], 'no finding update published twice');
  // detectedAt is the lane's clock when the update was made. Live, an event released by the
  // wall clock before an earlier one of another key arrived (the bus packs one key's run of a
  // send into one record, and a consumer batch can end inside a send) is judged a little later
  // in event time; the restarted run's batches are cut elsewhere. Everything else must match.
  for (const f of [...refFindings, ...runFindings]) assert.ok(f.detectedAt >= f.lastSeen, f.summary);
  const canon = (fs: Finding[]) => fs.map((f) => JSON.stringify({ ...f, detectedAt: 0 })).sort();
  t.diagnostic(
    `${events.length} events; reference ${refFindings.length} finding updates, restarted run ${runFindings.length}`,
  );
  assert.ok(refFindings.filter((f) => f.status === 'firing').length >= 14, 'the brute forcers were raised');
  assert.ok(
    refFindings.filter((f) => f.detector === 'auth.credential_stuffing' && f.status === 'firing').length >= 4,
    'the credential stuffers were raised (stage 2)',
  );
  assert.match(victim.output(), /stage-2 detector state restored from its checkpoint/);
  assert.deepEqual(canon(runFindings), canon(refFindings));
});
