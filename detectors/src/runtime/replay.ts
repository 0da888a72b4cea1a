import type { ApiEvent, DetectConfigValue, Finding } from '@apiwatch/core';
import { EventTimeBaselines } from '../baselines/event-time.ts';
import type { BaselineQuerier } from '../baselines/types.ts';
import type { AnyDetector } from './define.ts';
import { DetectionEngine, fallbacksOf } from './engine.ts';

/**
 * Runs recorded events through the detectors the way the live role would, on event time, and
 * learns as live does: the history the baselines read is the replayed history itself (events
 * are inserted into `sink`, an embedded store under a temporary directory), refreshed whenever
 * the replayed time crosses a `detect.baselines.refreshMinutes` boundary, so an attack on the
 * last day is judged against the weeks before it. Each refresh is awaited before the next event
 * runs, so the findings depend only on the input: the same file twice gives identical findings.
 *
 * `apiwatch backtest` uses it over stored history: no sink (the history is already stored), the
 * store itself as the baseline source.
 */
export interface ReplayRunnerOptions {
  detect: DetectConfigValue;
  /** Store the baselines read; null or absent: the static fallbacks (confidence low). */
  baselineStore?: BaselineQuerier | null;
  /** Where replayed events are inserted before each refresh (the temporary store). */
  sink?: { insertEvents(events: readonly ApiEvent[]): Promise<void> } | null;
  detectors?: readonly AnyDetector[];
  /** Events held before an insert into the sink. Default 20,000. */
  sinkBatch?: number;
}

export class ReplayRunner {
  readonly engine: DetectionEngine;
  readonly baselines: EventTimeBaselines | null;
  private readonly sink: ReplayRunnerOptions['sink'];
  private readonly sinkBatch: number;
  private pending: ApiEvent[] = [];
  private maxTs = Number.NEGATIVE_INFINITY;
  private refreshes = 0;

  constructor(options: ReplayRunnerOptions) {
    const d = options.detect;
    this.sink = options.sink ?? null;
    this.sinkBatch = options.sinkBatch ?? 20_000;
    this.baselines =
      options.baselineStore && d.baselines.enabled
        ? new EventTimeBaselines({
            store: options.baselineStore,
            config: d.baselines,
            fallback: fallbacksOf(d),
          })
        : null;
    const b = this.baselines;
    this.engine = new DetectionEngine(d, {
      ...(options.detectors ? { detectors: options.detectors } : {}),
      ...(b ? { baselines: () => b.snapshot() } : {}),
    });
  }

  get refreshCount(): number {
    return this.refreshes;
  }

  /** Runs one event; refreshes the baselines first when its time crosses a boundary. */
  async push(event: ApiEvent): Promise<Finding[]> {
    if (event.ts > this.maxTs) {
      this.maxTs = event.ts;
      if (this.baselines && this.baselines.due(event.ts) !== null) {
        await this.flushSink();
        const run = this.baselines.observe(event.ts);
        if (run) {
          await run;
          this.refreshes++;
        }
      }
    }
    if (this.sink) {
      this.pending.push(event);
      if (this.pending.length >= this.sinkBatch) await this.flushSink();
    }
    return this.engine.push(event);
  }

  /** End of input: releases every buffered event and fires the timers up to the last event time. */
  async finish(untilTs?: number): Promise<Finding[]> {
    await this.flushSink();
    const out = this.engine.drain(untilTs ?? this.maxTs);
    await this.baselines?.close();
    return out;
  }

  private async flushSink(): Promise<void> {
    if (!this.sink || this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    await this.sink.insertEvents(batch);
  }
}
