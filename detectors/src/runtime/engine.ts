import { type ApiEvent, actorKey, type Config, type Finding, StartupError } from '@apiwatch/core';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import { DETECTORS } from '../registry.ts';
import { ReorderBuffer } from './reorder.ts';
import type { Detector, DetectorInstance } from './types.ts';

export interface EngineCounters {
  events: number;
  late: number;
  evicted: number;
  findings: number;
}

/** Resolves detect.detectors against the registry: unknown ids or keys are start-up errors. */
export function resolveDetectorConfigs(
  detect: Config['detect'],
): Array<{ detector: Detector<unknown>; config: unknown }> {
  for (const id of Object.keys(detect.detectors)) {
    if (!DETECTORS.some((d) => d.id === id)) {
      throw new StartupError(
        'CONFIG_INVALID',
        `config key "detect.detectors.${id}": no such detector (known: ${DETECTORS.map((d) => d.id).join(', ')})`,
      );
    }
  }
  const out: Array<{ detector: Detector<unknown>; config: unknown }> = [];
  for (const detector of DETECTORS) {
    const given = detect.detectors[detector.id] ?? {};
    const config = Value.Default(detector.configSchema, {
      ...(detector.defaults as object),
      ...structuredClone(given),
    });
    const first = TypeCompiler.Compile(detector.configSchema).Errors(config).First();
    if (first) {
      const key = `detect.detectors.${detector.id}${first.path.replaceAll('/', '.')}`;
      throw new StartupError('CONFIG_INVALID', `config key "${key}": ${first.message}`);
    }
    if ((config as { enabled?: boolean }).enabled === false) continue;
    out.push({ detector, config: Object.freeze(config) });
  }
  return out;
}

/**
 * Runs the enabled detectors over events in event-time order. The reorder buffer holds events
 * for at most allowedLatenessMs (of event time, and live also of wall-clock time via tick());
 * `drain()` releases the rest at the end of a replay.
 */
export class DetectionEngine {
  readonly counters: EngineCounters = { events: 0, late: 0, evicted: 0, findings: 0 };
  private readonly instances: Array<{ id: string; instance: DetectorInstance }>;
  private readonly buffer: ReorderBuffer;
  private readonly released: ApiEvent[] = [];

  constructor(detect: Config['detect']) {
    this.buffer = new ReorderBuffer(detect.allowedLatenessMs);
    this.instances = resolveDetectorConfigs(detect).map(({ detector, config }) => ({
      id: detector.id,
      instance: detector.create({
        config,
        maxActors: detect.maxActors,
        onEvict: () => {
          this.counters.evicted++;
        },
      }),
    }));
  }

  get detectorIds(): string[] {
    return this.instances.map((i) => i.id);
  }

  get buffered(): number {
    return this.buffer.size;
  }

  /** `arrivedAt` (wall ms) enables expire(): live sources pass it, replay does not. */
  push(event: ApiEvent, arrivedAt?: number): Finding[] {
    this.buffer.push(event, this.released, arrivedAt);
    return this.process();
  }

  /** Live only: releases events held for allowedLatenessMs of wall-clock time. */
  tick(now: number): Finding[] {
    this.buffer.expire(now, this.released);
    return this.process();
  }

  drain(): Finding[] {
    this.buffer.drain(this.released);
    return this.process();
  }

  stateSize(): number {
    return this.instances.reduce((n, i) => n + i.instance.stateSize(), 0);
  }

  private process(): Finding[] {
    if (this.released.length === 0) return [];
    const findings: Finding[] = [];
    for (const event of this.released) {
      this.counters.events++;
      const actor = actorKey(event);
      for (const { instance } of this.instances) {
        const out = instance.onEvent(event, actor);
        for (const f of out) findings.push(f);
      }
    }
    this.released.length = 0;
    this.counters.late = this.buffer.late;
    this.counters.findings += findings.length;
    return findings;
  }
}
