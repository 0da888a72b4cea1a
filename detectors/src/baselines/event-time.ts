import type { DetectBaselinesConfigValue } from '@apiwatch/core';
import type { BaselineFallbacks } from './refresher.ts';
import { BaselineRefresher, type BaselineRefresherStats, type BaselineSnapshot } from './refresher.ts';
import type { BaselineQuerier } from './types.ts';

/**
 * Baselines refreshed on event time, as the detection runtime needs them: a new snapshot is
 * built when the watermark crosses a multiple of `refreshMinutes`, from the history that ends at
 * that boundary (rounded down to the hour by the queries). Replay awaits each refresh before it
 * runs the next event, so its findings depend only on the input (byte-identical across runs);
 * live, a refresh runs in the background and the previous snapshot stays in use meanwhile.
 */
export interface EventTimeBaselinesOptions {
  store: BaselineQuerier;
  config: DetectBaselinesConfigValue;
  fallback: BaselineFallbacks;
  tenant?: string;
  onError?: (error: Error) => void;
}

export class EventTimeBaselines {
  private readonly refresher: BaselineRefresher;
  private readonly intervalMs: number;
  private historyEndMs = 0;
  private boundary = Number.NEGATIVE_INFINITY;
  private inFlight: Promise<void> | null = null;

  constructor(options: EventTimeBaselinesOptions) {
    const c = options.config;
    this.intervalMs = c.refreshMinutes * 60_000;
    this.refresher = new BaselineRefresher({
      store: options.store,
      fallback: options.fallback,
      // Never used as a wall-clock interval: refreshes are driven by observe().
      refreshSeconds: c.refreshMinutes * 60,
      lookbackWeeks: c.lookbackWeeks,
      minWeeks: c.minWeeks,
      minActors: c.minActors,
      minRequests: c.minRequests,
      maxKeys: c.maxKeys,
      ownershipRefreshMinutes: c.ownershipRefreshMinutes,
      maxObjects: c.maxObjects,
      ...(options.tenant !== undefined ? { tenant: options.tenant } : {}),
      now: () => this.historyEndMs,
      ...(options.onError ? { onError: options.onError } : {}),
    });
  }

  /** The current snapshot (empty, confidence low, before the first refresh). */
  snapshot(): BaselineSnapshot {
    return this.refresher.snapshot();
  }

  stats(): Readonly<BaselineRefresherStats> {
    return this.refresher.stats();
  }

  /** The event-time boundary a refresh is due at for this watermark, or null when none is due. */
  due(watermark: number): number | null {
    if (!Number.isFinite(watermark)) return null;
    const b = Math.floor(watermark / this.intervalMs) * this.intervalMs;
    return b > this.boundary ? b : null;
  }

  /**
   * Tells the baselines the watermark. When it crossed a refresh boundary, a refresh of the
   * history up to that boundary starts and its promise is returned (await it for determinism);
   * otherwise null. A refresh still running is not started twice (live: the next boundary wins).
   */
  observe(watermark: number): Promise<void> | null {
    const b = this.due(watermark);
    if (b === null || this.inFlight) return null;
    this.boundary = b;
    this.historyEndMs = b;
    const run = this.refresher.flush().finally(() => {
      this.inFlight = null;
    });
    this.inFlight = run;
    return run;
  }

  async close(): Promise<void> {
    if (this.inFlight) await this.inFlight;
    await this.refresher.close();
  }
}
