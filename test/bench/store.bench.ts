/**
 * Store benchmarks (run by the lead's runner, or alone: ./scripts/node.sh test/bench/store.bench.ts).
 *
 * - raw floor: the same rows as JSONEachRow through chDB's raw insert into api_events (with its
 *   materialized views), in store.maxBatchRows chunks;
 * - engine path: the store's own insert (TSV via tmpfs + file()), same chunks;
 * - store role: MemoryBus → store role (batching writer, dedup tokens, offsets after insert);
 *   its ratio to the raw floor must be ≥ 0.7, measured in the same run;
 * - bytes per stored event after 1M synthetic events and OPTIMIZE FINAL (design target < 40),
 *   with the per-column breakdown (docs/decisions/0005-event-storage-size.md).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startStoreRole } from '@apiwatch/cli';
import {
  type ApiEvent,
  BatchWriter,
  ChdbStore,
  columnStats,
  createLogger,
  eventRow,
  MemoryBus,
  tableStats,
} from '@apiwatch/core';
import { drainPending } from 'chdb';
import { syntheticEventStream, syntheticEvents } from '../src/synthetic.ts';
import type { BenchResult } from './types.ts';

const ROWS = Number(process.env.APIWATCH_BENCH_STORE_ROWS ?? 200_000);
const BATCH = 50_000;
const ROUNDS = 3;
const SIZE_EVENTS = Number(process.env.APIWATCH_BENCH_STORE_SIZE_EVENTS ?? 1_000_000);

async function truncateAll(store: ChdbStore): Promise<void> {
  for (const t of [
    'api_events',
    'baseline_route_minute',
    'baseline_actor_route_hour',
    'endpoint_inventory',
    'credentials',
  ]) {
    await store.exec(`TRUNCATE TABLE ${t}`);
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-store-bench-'));
  const log = createLogger('silent');
  const store = new ChdbStore({ path: join(dir, 'db') });
  await store.start();
  const results: BenchResult[] = [];
  try {
    const raw: number[] = [];
    const engine: number[] = [];
    const role: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // Fresh ids and times per round so no insert is deduplicated against an earlier round.
      const events = syntheticEvents(ROWS, {
        seed: 100 + round,
        startMs: Date.now() - 6 * 3_600_000,
        meanGapMs: 20,
      });

      await truncateAll(store);
      const session = store.openSession();
      let t0 = performance.now();
      for (let i = 0; i < ROWS; i += BATCH) {
        let ndjson = '';
        for (const e of events.slice(i, i + BATCH)) ndjson += `${JSON.stringify(eventRow(e))}\n`;
        await session.insert({ table: 'api_events_in', values: Buffer.from(ndjson), format: 'JSONEachRow' });
      }
      raw.push(ROWS / ((performance.now() - t0) / 1000));
      session.close();

      await truncateAll(store);
      t0 = performance.now();
      for (let i = 0; i < ROWS; i += BATCH)
        await store.insertEvents(events.slice(i, i + BATCH), { dedupToken: `bench-${round}-${i}` });
      engine.push(ROWS / ((performance.now() - t0) / 1000));

      await truncateAll(store);
      const bus = new MemoryBus(BATCH * 2);
      await bus.start();
      const storeRole = await startStoreRole(store, bus, log);
      t0 = performance.now();
      for (let i = 0; i < ROWS; i += 5000) {
        await bus.publish(
          'events',
          events.slice(i, i + 5000).map((e) => ({ key: e.id, value: e })),
        );
      }
      await bus.flush();
      role.push(ROWS / ((performance.now() - t0) / 1000));
      await storeRole.stop();
      await bus.close();
      const [c] = await store.query<{ u: string }>('SELECT uniqExact(id) AS u FROM api_events');
      if (Number(c!.u) !== ROWS) throw new Error(`store role stored ${c!.u} of ${ROWS} events`);
    }
    const rawMedian = median(raw);
    results.push({ name: 'store.raw_jsoneachrow_insert', value: Math.round(rawMedian), unit: 'rows/s' });
    const floor = Math.round(rawMedian);
    results.push({
      name: 'store.engine_tsv_file_insert',
      value: Math.round(median(engine)),
      unit: 'rows/s',
      floor,
      ratio: median(engine) / rawMedian,
    });
    results.push({
      name: 'store.role_throughput',
      value: Math.round(median(role)),
      unit: 'rows/s',
      floor,
      ratio: median(role) / rawMedian,
      note: 'MemoryBus → store role → chDB; must be ≥ 0.7 of the raw JSONEachRow insert of the same rows',
    });

    // Bytes per stored event on 1M events through the store's writer.
    await truncateAll(store);
    const writer = new BatchWriter<ApiEvent>({
      name: 'api_events',
      maxBatchRows: BATCH,
      maxBatchDelayMs: 1000,
      maxBufferedRows: BATCH * 2,
      retry: { attempts: 3, initialBackoffMs: 100, maxBackoffMs: 1000 },
      idOf: (e) => e.id,
      insert: (rows, token) => store.insertEvents(rows, { dedupToken: token }),
      onPoison: async () => {},
      log,
    });
    let chunk: ApiEvent[] = [];
    for (const e of syntheticEventStream(SIZE_EVENTS, {
      seed: 7,
      startMs: Date.now() - 20 * 3_600_000,
      meanGapMs: 60,
    })) {
      chunk.push(e);
      if (chunk.length === BATCH) {
        await writer.write(chunk);
        chunk = [];
      }
    }
    await writer.write(chunk);
    await writer.close();
    await store.exec('OPTIMIZE TABLE api_events FINAL');
    const events = (await tableStats(store)).find((s) => s.table === 'api_events')!;
    results.push({ name: 'store.api_events_rows', value: events.rows, unit: 'rows' });
    results.push({
      name: 'store.api_events_bytes_per_event',
      value: Number(events.bytesPerRow!.toFixed(2)),
      unit: 'bytes/event',
      budget: 40,
      lowerIsBetter: true,
      note: '1M synthetic events after OPTIMIZE FINAL (apiwatch store stats)',
    });
    for (const c of await columnStats(store, 'api_events')) {
      results.push({
        name: `store.api_events_column.${c.column}`,
        value: Number((c.bytesPerRow ?? 0).toFixed(2)),
        unit: 'bytes/event',
        note: c.type,
      });
    }
    const credentials = (await tableStats(store)).find((s) => s.table === 'credentials')!;
    results.push({
      name: 'store.credentials_bytes_per_event',
      value: Number((credentials.bytesOnDisk / events.rows).toFixed(2)),
      unit: 'bytes/event',
      note: `credentials dimension (${credentials.rows} rows, not merged), outside api_events, grows with distinct credentials`,
    });
  } finally {
    await store.close();
    await drainPending();
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const r of await run()) {
    const extra = `${r.ratio !== undefined ? `  ratio ${r.ratio.toFixed(2)} of ${r.floor}` : ''}${r.budget !== undefined ? `  budget ${r.budget}` : ''}`;
    process.stdout.write(`${r.name.padEnd(36)} ${String(r.value).padStart(12)} ${r.unit}${extra}\n`);
  }
}
