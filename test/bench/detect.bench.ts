import { globSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type ApiEvent, actorKey, loadConfig } from '@apiwatch/core';
import { type AnyDetector, DETECTORS, DetectionEngine, defineDetector } from '@apiwatch/detectors';
import { Type as T } from '@sinclair/typebox';
import { syntheticEvents } from '../src/synthetic.ts';
import type { BenchResult } from './types.ts';

/**
 * Detection throughput with every detector on, and detector memory per active actor.
 *
 * - "Every detector": the registry plus any detector module in detectors/src/<family>/ not yet
 *   registered (so the figure covers the whole tree), each at its default config.
 * - Throughput: events/s of one engine (one core: the engine is single-threaded) over a
 *   synthetic mixed stream (many credentials, IPs, tenants, routes; 2 % auth failures); the
 *   floor is the same engine with as many detectors that do nothing but key the event
 *   (dispatch-only: reorder buffer, clock, per-detector call), measured in the same run.
 * - Memory: heap held by the engine after the stream (gc before and after), divided by the
 *   distinct actors that sent events. Budget (docs/design.md §5): < 1 KiB per active actor.
 */

const here = dirname(fileURLToPath(import.meta.url));
const EVENTS = 100_000;

async function everyDetector(): Promise<AnyDetector[]> {
  const byId = new Map<string, AnyDetector>(DETECTORS.map((d) => [d.id, d]));
  const root = join(here, '..', '..', 'detectors', 'src');
  const files = globSync('{auth,bola,spec,volume,recon}/*.ts', { cwd: root }).filter(
    (f) => !f.endsWith('.test.ts'),
  );
  for (const f of files.sort()) {
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pathToFileURL(join(root, f)).href)) as Record<string, unknown>;
    } catch {
      continue;
    }
    for (const v of Object.values(mod)) {
      const d = v as Partial<AnyDetector> | null;
      if (
        d &&
        typeof d === 'object' &&
        typeof d.id === 'string' &&
        typeof d.keyBy === 'function' &&
        typeof d.onEvent === 'function' &&
        !byId.has(d.id)
      )
        byId.set(d.id, d as AnyDetector);
    }
  }
  return [...byId.values()];
}

function dispatchOnly(n: number): AnyDetector[] {
  return Array.from({ length: n }, (_, i) =>
    defineDetector({
      id: `auth.floor_${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26))}`,
      title: 'dispatch-only floor',
      owasp: 'API4:2023',
      nist: 'monitoring',
      severity: 'info',
      configSchema: T.Object({}, { additionalProperties: false }),
      scope: 'actor',
      fingerprint: ['entity'],
      keyBy: () => null,
      init: () => 0,
      onEvent: () => undefined,
    }),
  );
}

function gc(): void {
  setFlagsFromString('--expose-gc');
  const g = runInNewContext('gc') as () => void;
  g();
  g();
}

function runOnce(
  detectors: AnyDetector[],
  events: ApiEvent[],
): { seconds: number; findings: number; engine: DetectionEngine } {
  const detect = loadConfig(undefined, {}).detect;
  const engine = new DetectionEngine(detect, { detectors });
  const t0 = process.cpuUsage();
  let findings = 0;
  for (const e of events) findings += engine.push(e).length;
  findings += engine.drain().length;
  const used = process.cpuUsage(t0);
  return { seconds: (used.user + used.system) / 1e6, findings, engine };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export async function run(): Promise<BenchResult[]> {
  const detectors = await everyDetector();
  const events = syntheticEvents(EVENTS, {
    seed: 9,
    startMs: Date.UTC(2026, 2, 2),
    meanGapMs: 5,
    credentials: 20_000,
    clientIps: 30_000,
    tenants: 5,
    routesPerTenant: 40,
  });
  const actors = new Set(events.map(actorKey)).size;
  const floorDetectors = dispatchOnly(detectors.length);
  const rates: number[] = [];
  const floors: number[] = [];
  let findings = 0;
  for (let round = 0; round < 3; round++) {
    const f = runOnce(floorDetectors, events);
    const r = runOnce(detectors, events);
    if (round === 0) continue; // warm-up
    floors.push(EVENTS / f.seconds);
    rates.push(EVENTS / r.seconds);
    findings = r.findings;
  }
  const rate = median(rates);
  const floor = median(floors);

  gc();
  const before = process.memoryUsage().heapUsed;
  const held = runOnce(detectors, events);
  gc();
  const after = process.memoryUsage().heapUsed;
  const bytesPerActor = Math.max(0, after - before) / actors;
  const estimated = [...held.engine.stateBytes()].reduce((n, [, v]) => n + v, 0) / actors;
  const keys = held.engine.stats().reduce((n, s) => n + s.keys, 0);
  return [
    {
      name: `detect throughput, ${detectors.length} detectors at defaults, events/s per core`,
      value: rate,
      unit: 'events/s',
      floor,
      ratio: rate / floor,
      budget: 100_000,
      note: `${EVENTS.toLocaleString('en-US')} synthetic events, ${actors.toLocaleString('en-US')} actors, ${findings} finding updates; floor: the engine with ${detectors.length} dispatch-only detectors; detectors: ${detectors.map((d) => d.id).join(', ')}`,
    },
    {
      name: 'detector memory per active actor',
      value: bytesPerActor,
      unit: 'bytes',
      budget: 1024,
      lowerIsBetter: true,
      note: `heap held by the engine after the stream / ${actors.toLocaleString('en-US')} active actors (${keys.toLocaleString('en-US')} state keys over all detectors; the detectors' own sizeOf estimate: ${Math.round(estimated)} B/actor)`,
    },
  ];
}
