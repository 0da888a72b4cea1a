import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ApiEvent, buildEvent, MemoryBus } from '@apiwatch/core';
import type { BenchResult } from './types.ts';

const N = Number(process.env.APIWATCH_BENCH_EVENTS ?? 200_000);
const BATCH = 500;
const PUBLISHERS = 4;

/**
 * The embedded bus journal alone (docs/decisions/0010-embedded-durability.md): 4 publishers
 * publishing 500-event batches to two groups (store and detect) whose handlers do nothing. The
 * floor is the same bus without a journal in the same run; the figures are the journal with
 * fdatasync (the default) and without it, as events/s and CPU µs per event.
 */
async function measure(events: ApiEvent[], mode: 'off' | 'nofsync' | 'on') {
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-bench-journal-'));
  const bus = new MemoryBus({
    capacity: 65_536,
    ...(mode === 'off' ? {} : { journal: { dir, fsync: mode === 'on', segmentBytes: 64 << 20 } }),
  });
  try {
    await bus.start();
    for (const g of ['store', 'detect']) await bus.subscribe('events', g, async () => {});
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    let next = 0;
    await Promise.all(
      Array.from({ length: PUBLISHERS }, async () => {
        for (let i = next; i < events.length; i = next) {
          next += BATCH;
          await bus.publish(
            'events',
            events.slice(i, i + BATCH).map((e) => ({ key: 'k', value: e })),
          );
        }
      }),
    );
    await bus.flush();
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(c0);
    const syncs = bus.journalStats().events?.syncs ?? 0;
    return { rate: events.length / seconds, cpuUs: (cpu.user + cpu.system) / events.length, syncs };
  } finally {
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<BenchResult[]> {
  const now = Date.now();
  const events = Array.from({ length: N }, (_, i) =>
    buildEvent({
      ts: now + i,
      method: 'GET',
      path: `/api/items/${i % 100}`,
      status: 200,
      sourceKind: 'bench',
      raw: `journal:${i}`,
      clientIp: `10.0.${i % 250}.1`,
    }),
  );
  await measure(events.slice(0, 20_000), 'on');
  const off = await measure(events, 'off');
  const on = await measure(events, 'on');
  const nofsync = await measure(events, 'nofsync');
  const batches = N / BATCH;
  return [
    {
      name: 'memory bus + journal (fdatasync), events/s',
      value: on.rate,
      unit: 'events/s',
      floor: off.rate,
      ratio: on.rate / off.rate,
      note: `${N.toLocaleString('en-US')} events, ${PUBLISHERS} publishers × ${BATCH}-event batches; ${on.syncs} group commits for ${batches} publishes; floor = the bus without a journal`,
    },
    {
      name: 'memory bus + journal (fdatasync), CPU per event',
      value: on.cpuUs,
      unit: 'µs',
      lowerIsBetter: true,
    },
    {
      name: 'memory bus + journal (no fsync), events/s',
      value: nofsync.rate,
      unit: 'events/s',
      floor: off.rate,
      ratio: nofsync.rate / off.rate,
    },
    { name: 'memory bus without journal, CPU per event', value: off.cpuUs, unit: 'µs', lowerIsBetter: true },
  ];
}

if (import.meta.main) {
  for (const r of await run()) console.log(r);
}
