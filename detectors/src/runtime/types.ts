import type { ApiEvent, Finding, NistArea, OwaspApi2023, Severity } from '@apiwatch/core';
import type { TSchema } from '@sinclair/typebox';

/** What a detector instance may use besides the event: its config and a finding builder. */
export interface DetectorContext<C> {
  config: C;
  /** Cap on per-actor entries; the runtime counts evictions. */
  maxActors: number;
  onEvict(): void;
}

/** A running detector: per-event logic over its own bounded state. Never queries, never sends. */
export interface DetectorInstance {
  /** Called in event-time order (the runtime's watermark guarantees it). */
  onEvent(event: ApiEvent, actor: string): Finding[];
  /** Number of keys held, for the memory budget and metrics. */
  stateSize(): number;
}

export interface Detector<C = unknown> {
  /** Stable id: `family.name`, the config key under detect.detectors and the metric label. */
  readonly id: string;
  readonly title: string;
  readonly owasp: OwaspApi2023;
  readonly nist: NistArea;
  readonly severity: Severity;
  readonly configSchema: TSchema;
  readonly defaults: C;
  create(ctx: DetectorContext<C>): DetectorInstance;
}
