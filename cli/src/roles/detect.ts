import { join } from 'node:path';
import {
  type ApiEvent,
  type Bus,
  type BusMessage,
  type Config,
  clickhousePassword,
  type Finding,
  headersOf,
  type Logger,
  MemoryBus,
  metrics,
  type RekeyedRecord,
  type Store,
  type Subscription,
  type TraceContext,
  tracing,
} from '@apiwatch/core';
import {
  type AnyDetector,
  type BaselineQuerier,
  BaselineSnapshot,
  CheckpointedPartitions,
  DetectionEngine,
  EventTimeBaselines,
  FileCheckpoints,
  fallbacksOf,
  Stage2Merger,
} from '@apiwatch/detectors';
import { createClient } from '@clickhouse/client';

/**
 * The detect role: consumes events, runs the detectors on event time per partition (a lane per
 * events partition: its own reorder buffer, watermark and state, dropped when the partition is
 * revoked) and publishes findings. A tick every 50 ms releases events held for
 * allowedLatenessMs of wall-clock time and advances idle lanes (detect.idleWatermarkMs).
 *
 * Baselines: a read-only view of the store (the process's own chDB when the store role runs
 * here, a ClickHouse server with readonly=2 otherwise), refreshed when the low watermark crosses
 * detect.baselines.refreshMinutes of event time.
 *
 * On Kafka, global-scope detectors run in a second stage (docs/decisions/0012): stage 1 forwards
 * the events they key to the rekeyed topic, keyed by the detector key, and broadcasts watermark
 * marks; stage 2 (group `detect-global`, any instance) merges them per partition in event-time
 * order. On the memory bus (one process) they run in the engine's global lane.
 */
export interface DetectRole {
  engine: DetectionEngine;
  stage2: DetectionEngine | null;
  baselines: EventTimeBaselines | null;
  /** Partitions this instance owns (after the last rebalance): events, and rekeyed (stage 2). */
  owned(): { events: number[]; rekeyed: number[] };
  stop(): Promise<void>;
}

export async function startDetectRole(
  config: Config,
  bus: Bus,
  log: Logger,
  options: { store?: Store | null; detectors?: readonly AnyDetector[] } = {},
): Promise<DetectRole> {
  const detect = config.detect;
  const baselineSource = await baselineQuerier(config, options.store ?? null, log);
  const baselines = baselineSource
    ? new EventTimeBaselines({
        store: baselineSource.querier,
        config: detect.baselines,
        fallback: fallbacksOf(detect),
        onError: (e) =>
          log.warn({ err: e.message }, `baseline refresh failed; the previous snapshot stays: ${e.message}.`),
      })
    : null;
  const empty = BaselineSnapshot.empty(
    fallbacksOf(detect),
    detect.baselines.minWeeks,
    detect.baselines.minRequests,
  );
  const snapshot = baselines ? () => baselines.snapshot() : () => empty;

  const distributed = bus.kind === 'kafka';
  const forwarded: Array<BusMessage<RekeyedRecord>> = [];
  // Tracing (docs/telemetry.md): the detect span of a traced event, and of each finding it caused.
  const eventTrace = new WeakMap<ApiEvent, TraceContext>();
  const findingTrace = new WeakMap<Finding, TraceContext>();
  const onFinding = (f: Finding, cause: ApiEvent | null) => {
    const sc = cause ? eventTrace.get(cause) : undefined;
    if (sc) findingTrace.set(f, sc);
  };
  const traced = <T>(m: BusMessage<T>, sc: TraceContext | undefined): BusMessage<T> => {
    const headers = headersOf(sc);
    return headers ? { ...m, headers } : m;
  };
  const registry = options.detectors ? { detectors: options.detectors } : {};
  const owned = { events: [] as number[], rekeyed: [] as number[] };
  const engine = new DetectionEngine(detect, {
    ...registry,
    baselines: snapshot,
    global: distributed ? 'forward' : 'local',
    forward: (event: ApiEvent, key: string, source: number) =>
      forwarded.push(traced({ key, value: { kind: 'event', source, event } }, eventTrace.get(event))),
    onFinding,
  });
  const useStage2 = distributed && engine.hasGlobal;
  const sources = config.bus.kafka.partitions;
  const stage2 = useStage2
    ? new DetectionEngine(
        { ...detect, allowedLatenessMs: 0 },
        { ...registry, baselines: snapshot, global: 'only', onFinding },
      )
    : null;
  const merger = stage2 ? new Stage2Merger(stage2, sources) : null;
  const marked = new Map<number, number>();

  // Checkpoints (decision 0013): per events partition (stage 1) and per re-keyed partition
  // (stage 2), the state snapshot, the offset it covers and a journal of what was published since.
  // Embedded (the journaled memory bus): one partition, and the global detectors run in the
  // engine's global lane, so a checkpoint holds both lanes under the one offset.
  const durable = distributed || (bus instanceof MemoryBus && bus.durable);
  const checkpointing = durable && detect.checkpoint.intervalSeconds > 0;
  const snapshotOf = (p: number): Buffer =>
    distributed ? engine.snapshot(p) : packLanes(engine.snapshot(p), engine.snapshot('global'));
  const restoreOf = (p: number, state: Buffer): void => {
    if (distributed) {
      engine.restore(p, state);
      return;
    }
    const [lane, global] = unpackLanes(state);
    engine.restore(p, lane);
    engine.restore('global', global);
  };
  const checkpointDir = detect.checkpoint.dir || join(config.dataDir, 'detect-checkpoints');
  const checkpoints = checkpointing
    ? new CheckpointedPartitions(
        new FileCheckpoints(
          checkpointDir,
          `${config.bus.kafka.groupPrefix}.detect.${config.bus.kafka.topics.events}`,
        ),
      )
    : null;
  const checkpoints2 =
    checkpointing && merger
      ? new CheckpointedPartitions(
          new FileCheckpoints(
            checkpointDir,
            `${config.bus.kafka.groupPrefix}.detect-global.${config.bus.kafka.topics.rekeyed}`,
          ),
        )
      : null;
  const journal = (p: number, findings: Finding[]) => checkpoints?.journal(p, findings);
  const checkpointAll = () => {
    checkpoints?.saveAll(owned.events, snapshotOf);
    if (merger) checkpoints2?.saveAll(owned.rekeyed, (q) => merger.snapshot(q));
  };

  const publish = async (findings: Finding[]) => {
    if (findings.length === 0) return;
    await bus.publish(
      'findings',
      findings.map((f) => traced({ key: f.fingerprint, value: f }, findingTrace.get(f))),
    );
    for (const f of findings) {
      log.info(
        {
          detector: f.detector,
          status: f.status,
          severity: f.severity,
          entity: `${f.entity.kind}:${f.entity.id}`,
          route: f.route,
          finding: f.id,
        },
        `finding${f.status === 'resolved' ? ' resolved' : ''}: ${f.summary}`,
      );
    }
  };

  /** Stage 1 → stage 2: the forwarded events, then a mark per lane whose clock moved. */
  const flushStage1 = async () => {
    if (!useStage2) {
      forwarded.length = 0;
      return;
    }
    if (forwarded.length > 0) await bus.publish('rekeyed', forwarded.splice(0, forwarded.length));
    const marks: Array<BusMessage<RekeyedRecord>> = [];
    for (const p of engine.partitions()) {
      const ts = engine.watermark(p);
      if (!Number.isFinite(ts) || marked.get(p) === ts) continue;
      marked.set(p, ts);
      for (let q = 0; q < sources; q++)
        marks.push({ key: `mark-${p}`, partition: q, value: { kind: 'mark', source: p, ts } });
    }
    if (marks.length > 0) await bus.publish('rekeyed', marks);
  };

  const observeBaselines = () => {
    if (!baselines) return;
    const w = stage2 ? Math.min(engine.lowWatermark(), stage2.lowWatermark()) : engine.lowWatermark();
    baselines.observe(Number.isFinite(w) ? w : engine.lowWatermark());
  };

  let chain: Promise<void> = Promise.resolve();
  /** Engine work is serialised: handlers and the tick never interleave. */
  const serial = (fn: () => Promise<void>) => {
    const run = chain.then(fn);
    chain = run.catch(() => {});
    return run;
  };

  const sub: Subscription = await bus.subscribe(
    'events',
    'detect',
    (batch) =>
      serial(async () => {
        const now = Date.now();
        const byPartition = new Map<number, Finding[]>();
        const spans = tracing.consume('detect events', batch, {
          'messaging.system': bus.kind === 'kafka' ? 'kafka' : 'apiwatch_memory',
          'messaging.operation.type': 'process',
          'messaging.destination.name': 'events',
          'messaging.consumer.group.name': 'detect',
        });
        for (const m of inEventTimeOrder(batch)) {
          const p = m.partition ?? 0;
          // Already inside the restored snapshot (the commit lagged it).
          if (checkpoints?.covered(p, m.offset)) continue;
          if (spans.active) {
            const sc = spans.contextOf(m);
            if (sc) eventTrace.set(m.value, sc);
          }
          const out = engine.push(m.value, now, p);
          checkpoints?.advance(p, m.offset);
          if (out.length === 0) continue;
          const list = byPartition.get(p) ?? [];
          for (const f of checkpoints ? checkpoints.unfenced(p, out) : out) list.push(f);
          byPartition.set(p, list);
        }
        try {
          await flushStage1();
          for (const [p, findings] of byPartition) {
            await publish(findings);
            journal(p, findings);
          }
          observeBaselines();
        } catch (e) {
          spans.end(e);
          throw e;
        }
        spans.set(
          'apiwatch.detect.findings',
          [...byPartition.values()].reduce((n, f) => n + f.length, 0),
        );
        spans.end();
      }),
    {
      onAssign: (mine) => {
        const before = owned.events;
        const gone = before.filter((p) => !mine.includes(p));
        const added = mine.filter((p) => !before.includes(p));
        if (gone.length > 0) {
          // Hand over: the next owner restores this state and re-reads from its offset.
          checkpoints?.handOver(gone, snapshotOf);
          engine.revoke(gone);
          for (const p of gone) marked.delete(p);
          log.info(
            { partitions: gone },
            'events partitions revoked: their detector state is dropped (checkpointed).',
          );
        }
        owned.events = [...mine].sort((a, b) => a - b);
        for (const r of checkpoints?.take(added, restoreOf) ?? [])
          log.info(
            { partition: r.partition, offset: String(r.offset), fenced: r.fenced },
            'detector state restored from its checkpoint; re-reading from its offset.',
          );
      },
      ...(checkpoints ? { commitLimit: checkpoints.commitLimit } : {}),
    },
  );

  const sub2: Subscription | null = merger
    ? await bus.subscribe(
        'rekeyed',
        'detect-global',
        (batch) =>
          serial(async () => {
            const byPartition = new Map<number, Finding[]>();
            const spans = tracing.consume('detect rekeyed', batch, {
              'messaging.system': 'kafka',
              'messaging.operation.type': 'process',
              'messaging.destination.name': 'rekeyed',
              'messaging.consumer.group.name': 'detect-global',
            });
            for (const m of batch) {
              const q = m.partition ?? 0;
              if (checkpoints2?.covered(q, m.offset)) continue;
              const r = m.value;
              if (spans.active && r.kind === 'event') {
                const sc = spans.contextOf(m);
                if (sc) eventTrace.set(r.event, sc);
              }
              const out =
                r.kind === 'event'
                  ? merger.event(q, r.source, m.key, r.event)
                  : merger.mark(q, r.source, r.ts);
              checkpoints2?.advance(q, m.offset);
              if (out.length === 0) continue;
              const list = byPartition.get(q) ?? [];
              for (const f of checkpoints2 ? checkpoints2.unfenced(q, out) : out) list.push(f);
              byPartition.set(q, list);
            }
            const findings = [...byPartition.values()].flat();
            try {
              for (const [q, list] of byPartition) {
                await publish(list);
                checkpoints2?.journal(q, list);
              }
            } catch (e) {
              spans.end(e);
              throw e;
            }
            spans.set('apiwatch.detect.findings', findings.length);
            spans.end();
          }),
        {
          onAssign: (mine) => {
            const before = owned.rekeyed;
            const added = mine.filter((q) => !before.includes(q));
            owned.rekeyed = [...mine].sort((a, b) => a - b);
            const gone = [...new Set([...before, ...stage2!.partitions()])].filter((q) => !mine.includes(q));
            if (gone.length > 0) {
              checkpoints2?.handOver(gone, (q) => merger.snapshot(q));
              merger.revoke(gone);
            }
            for (const r of checkpoints2?.take(added, (q, state) => merger.restore(q, state)) ?? [])
              log.info(
                { partition: r.partition, offset: String(r.offset), fenced: r.fenced },
                'stage-2 detector state restored from its checkpoint; re-reading the re-keyed topic from its offset.',
              );
          },
          ...(checkpoints2 ? { commitLimit: checkpoints2.commitLimit } : {}),
        },
      )
    : null;

  const timer = setInterval(() => {
    void serial(async () => {
      const findings = engine.tick(Date.now());
      await flushStage1();
      await publish(findings);
      // Wall-clock releases are not attributed to a partition: journal them under each.
      for (const p of owned.events) journal(p, findings);
      observeBaselines();
    }).catch((e: unknown) => log.error({ err: e }, 'publishing findings failed.'));
  }, 50);
  const checkpointTimer = checkpoints
    ? setInterval(() => {
        void serial(async () => checkpointAll()).catch((e: unknown) =>
          log.error({ err: e }, 'detector checkpoint failed.'),
        );
      }, detect.checkpoint.intervalSeconds * 1000)
    : null;

  registerMetrics(engine, stage2, merger, baselines);
  log.info(
    {
      detectors: engine.detectorIds,
      stage2: stage2?.detectorIds ?? [],
      baselines: baselineSource?.kind ?? 'static fallbacks',
    },
    'detect role consuming events.',
  );
  return {
    engine,
    stage2,
    baselines,
    owned: () => ({ events: [...owned.events], rekeyed: [...owned.rekeyed] }),
    async stop() {
      clearInterval(timer);
      if (checkpointTimer) clearInterval(checkpointTimer);
      await sub.close();
      await sub2?.close();
      await serial(async () => {
        // Live: release what is buffered, but do not resolve open episodes (no timers past the data).
        // With checkpoints, keep held events in the snapshot instead of releasing them early.
        if (checkpoints) {
          checkpointAll();
          return;
        }
        const findings = engine.drain();
        await flushStage1();
        await publish(findings);
      });
      await baselines?.close();
      await baselineSource?.close();
    },
  };
}

/**
 * The store the baselines read, read-only: the process's own store when the store role runs
 * here (chDB allows one process per data directory), a ClickHouse server with readonly=2
 * otherwise; null (static fallbacks) when baselines are off or no store can be read.
 */
async function baselineQuerier(
  config: Config,
  local: Store | null,
  log: Logger,
): Promise<{ kind: string; querier: BaselineQuerier; close(): Promise<void> } | null> {
  if (!config.detect.baselines.enabled) return null;
  if (local) return { kind: `${local.kind} (this process)`, querier: local, close: async () => {} };
  if (config.store.kind === 'clickhouse') {
    const ch = config.clickhouse;
    const client = createClient({
      url: ch.url,
      username: ch.username,
      password: clickhousePassword(ch),
      database: ch.database,
      request_timeout: ch.requestTimeoutMs,
      application: 'apiwatch-detect',
      // readonly=2: SELECT only, settings may still be set per query.
      clickhouse_settings: { readonly: '2' },
    });
    const querier: BaselineQuerier = {
      async query<T>(sql: string, params?: Record<string, unknown>): Promise<T[]> {
        const rs = await client.query({ query: sql, query_params: params ?? {}, format: 'JSONEachRow' });
        return rs.json<T>();
      },
    };
    return { kind: `clickhouse ${ch.url} (read-only)`, querier, close: () => client.close() };
  }
  if (config.store.kind === 'chdb') {
    log.warn(
      {},
      'detect runs without the store role and store.kind is chdb: an embedded store belongs to one process, so baselines use the static fallbacks; run detect with the store role, or use store.kind: clickhouse.',
    );
  }
  return null;
}

function registerMetrics(
  engine: DetectionEngine,
  stage2: DetectionEngine | null,
  merger: Stage2Merger | null,
  baselines: EventTimeBaselines | null,
): void {
  const engines = stage2 ? [engine, stage2] : [engine];
  const sum = (pick: (e: DetectionEngine) => number) => engines.reduce((n, e) => n + pick(e), 0);
  metrics.register('apiwatch_detect_events_total', 'Events run through the detectors.', 'counter', () => [
    { value: engine.counters.events },
  ]);
  metrics.register(
    'apiwatch_detect_late_events_total',
    'Events that arrived behind their partition watermark.',
    'counter',
    () => [{ value: sum((e) => e.counters.late) + (merger?.late ?? 0) }],
  );
  metrics.register(
    'apiwatch_detect_findings_total',
    'Finding updates emitted (firing and resolved).',
    'counter',
    () => [{ value: sum((e) => e.counters.findings) }],
  );
  metrics.register(
    'apiwatch_detect_buffered_events',
    'Events waiting in the reorder buffers.',
    'gauge',
    () => [{ value: sum((e) => e.buffered) + (merger?.buffered ?? 0) }],
  );
  metrics.register(
    'apiwatch_detect_watermark_lag_seconds',
    'Wall clock minus the low event-time watermark of detection (how far findings trail now); 0 before the first event.',
    'gauge',
    () => {
      const w = Math.min(...engines.map((e) => e.lowWatermark()));
      return [{ value: Number.isFinite(w) ? Math.max(0, (Date.now() - w) / 1000) : 0 }];
    },
  );
  const stats = () => engines.flatMap((e) => e.stats()).filter((s) => s.enabled);
  const perDetector = (
    name: string,
    help: string,
    type: 'counter' | 'gauge',
    pick: (s: ReturnType<DetectionEngine['stats']>[number]) => number,
  ) => {
    metrics.register(name, help, type, () => {
      const by = new Map<string, number>();
      for (const s of stats()) by.set(s.id, (by.get(s.id) ?? 0) + pick(s));
      return [...by].map(([detector, value]) => ({ labels: { detector }, value }));
    });
  };
  perDetector(
    'apiwatch_detect_detector_events_total',
    'Events a detector keyed and handled.',
    'counter',
    (s) => s.events,
  );
  perDetector(
    'apiwatch_detect_detector_findings_total',
    'Finding updates a detector emitted (firing and resolved).',
    'counter',
    (s) => s.findings,
  );
  perDetector(
    'apiwatch_detect_suppressed_findings_total',
    'Findings dropped by detect.suppressions.',
    'counter',
    (s) => s.suppressed,
  );
  perDetector('apiwatch_detect_state_keys', 'Keys in the detector state store.', 'gauge', (s) => s.keys);
  perDetector(
    'apiwatch_detect_state_evictions_total',
    'Keys evicted at detect.maxActors (LRU).',
    'counter',
    (s) => s.evictions,
  );
  perDetector(
    'apiwatch_detect_state_expired_total',
    'Keys dropped after the detector idle time.',
    'counter',
    (s) => s.expired,
  );
  perDetector(
    'apiwatch_detect_detector_errors_total',
    'Events a detector threw on (skipped).',
    'counter',
    (s) => s.errors,
  );
  metrics.register(
    'apiwatch_detect_state_bytes',
    'Approximate bytes of detector state (sampled).',
    'gauge',
    () => {
      const by = new Map<string, number>();
      for (const e of engines) for (const [d, v] of e.stateBytes()) by.set(d, (by.get(d) ?? 0) + v);
      return [...by].map(([detector, value]) => ({ labels: { detector }, value: Math.round(value) }));
    },
  );
  metrics.register(
    'apiwatch_detect_suppressions_total',
    'Findings a suppression dropped (by suppression id).',
    'counter',
    () => {
      const by = new Map<string, number>();
      for (const e of engines)
        for (const s of e.suppressionStats()) by.set(s.id, (by.get(s.id) ?? 0) + s.suppressed);
      return [...by].map(([suppression, value]) => ({ labels: { suppression }, value }));
    },
  );
  metrics.register(
    'apiwatch_detect_baseline_refreshes_total',
    'Baseline snapshot refreshes (event-time intervals).',
    'counter',
    () => [{ value: baselines?.stats().refreshes ?? 0 }],
  );
  metrics.register(
    'apiwatch_detect_baseline_failures_total',
    'Baseline refreshes that failed (the previous snapshot stayed).',
    'counter',
    () => [{ value: baselines?.stats().failures ?? 0 }],
  );
}

/**
 * A delivered batch in event-time order (stable: equal times keep their order). The Kafka bus
 * packs each key's run of one send into one record (core/src/bus/kafka.ts chunkByKey), so within
 * a partition one actor's later events can come before another actor's earlier ones; left as
 * they are, the second actor's events would arrive behind the lane's clock ("late") whenever
 * the wall clock released the first. The whole batch is handled inside one serial step, so the
 * offsets it covers are committed and checkpointed only after all of it.
 */
export function inEventTimeOrder<T extends { value: { ts: number } }>(batch: readonly T[]): readonly T[] {
  for (let i = 1; i < batch.length; i++)
    if (batch[i]!.value.ts < batch[i - 1]!.value.ts)
      return [...batch].sort((a, b) => a.value.ts - b.value.ts);
  return batch;
}

/** A local-mode checkpoint: the partition's lane and the global lane, length-prefixed. */
function packLanes(lane: Buffer, global: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(lane.length);
  return Buffer.concat([head, lane, global]);
}

function unpackLanes(state: Buffer): [Buffer, Buffer] {
  const n = state.readUInt32BE(0);
  if (n + 4 > state.length) throw new Error('detector checkpoint is truncated (local lanes).');
  return [state.subarray(4, 4 + n), state.subarray(4 + n)];
}
