import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type ApiEvent, actorKey, loadConfig } from '@apiwatch/core';
import { type AnyDetector, DETECTORS, DetectionEngine, defineDetector } from '@apiwatch/detectors';
import { Type as T } from '@sinclair/typebox';
import { buildCorpus, corpusReader, parseCorpus, renderCorpus } from '../src/eval/index.ts';
import { syntheticEvents } from '../src/synthetic.ts';
import type { BenchResult } from './types.ts';

/**
 * Detection throughput with every registered detector on (detectors/src/registry.ts, each at its
 * default config), and detector memory per active actor. Two event mixes:
 *
 * - `corpus`: a week of the labelled evaluation's traffic (test/src/eval: tenants behind office
 *   NATs, carrier NATs, services and batch jobs, five APIs, every attack kind injected), rendered
 *   as Kong logs and read through the one ingest pipeline, so every event carries its route
 *   template, object ids and the spec annotation (spec.* detectors do their work);
 * - `synthetic`: a dense, high-cardinality stream (test/src/synthetic.ts: 20k credentials, 30k
 *   IPs, Zipf activity) where most actors are new: the per-key costs of the runtime dominate.
 *
 * Throughput is CPU time of one engine (single-threaded: one core), median of the measured
 * rounds after a warm-up; the floor is the same engine with as many dispatch-only detectors
 * (keyBy gives null: reorder buffer, two lanes, clock, one call per detector per event), measured
 * in the same run. Memory is the heap (and ArrayBuffer backing stores) held by the engine after the stream (GC before and after)
 * divided by the actors that sent events; every detector keeps its keys for a day or more, so
 * over the corpus's week each of them is an active actor. Per detector: the same figure with
 * that detector alone, its keys, and its CPU cost per event over the single-detector floor.
 * Budgets (docs/design.md §5): >= 100k events/s per core, < 1 KiB per active actor.
 * APIWATCH_BENCH_PER_DETECTOR=0 skips the per-detector runs (most of the benchmark's time).
 * Measured figures and what they mean: docs/decisions/0026-detect-runtime-performance.md.
 */

const ROUNDS = 3;

interface Mix {
  name: string;
  events: ApiEvent[];
  actors: number;
  spec: number;
}

function corpusMix(): Mix {
  const corpus = buildCorpus({ seed: 9, weeks: 1, scale: 0.25, perKind: 3 });
  const config = loadConfig(undefined, {});
  const { events } = parseCorpus(corpus, renderCorpus(corpus, 'kong'), corpusReader('kong', config), 'kong');
  return mixOf('corpus', events);
}

function syntheticMix(): Mix {
  const events = syntheticEvents(50_000, {
    seed: 9,
    startMs: Date.UTC(2026, 2, 2),
    meanGapMs: 5,
    credentials: 20_000,
    clientIps: 30_000,
    tenants: 5,
    routesPerTenant: 40,
  });
  return mixOf('synthetic', events);
}

function mixOf(name: string, events: ApiEvent[]): Mix {
  return {
    name,
    events,
    actors: new Set(events.map(actorKey)).size,
    spec: events.filter((e) => e.spec).length,
  };
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
      scope: i % 2 === 0 ? 'actor' : 'global',
      fingerprint: ['entity'],
      keyBy: () => null,
      init: () => 0,
      onEvent: () => undefined,
    }),
  );
}

/**
 * Actor-keyed detectors that keep nothing (state 0, a small integer V8 does not allocate), so
 * what an engine holds with them is the runtime's own cost per stored key: its store slot and,
 * with `wake`, a pending wake re-armed on every event (wakeAt(last + 1 h), as quiet-period
 * detectors do).
 */
function noopKeyed(n: number, wake: boolean): AnyDetector[] {
  return Array.from({ length: n }, (_, i) =>
    defineDetector({
      id: `auth.noop_${String.fromCharCode(97 + i)}`,
      title: 'runtime cost per key',
      owasp: 'API4:2023',
      nist: 'monitoring',
      severity: 'info',
      configSchema: T.Object({}, { additionalProperties: false }),
      scope: 'actor',
      fingerprint: ['entity'],
      keyBy: (e) => actorKey(e),
      init: () => 0,
      onEvent: (_s, e, ctx) => {
        if (wake) ctx.wakeAt(e.ts + 3_600_000);
        return undefined;
      },
      onWatermark: () => undefined,
    }),
  );
}

let gcFn: (() => void) | null = null;
function gc(): void {
  if (!gcFn) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
  gcFn();
}

const detect = loadConfig(undefined, {}).detect;

function runOnce(detectors: readonly AnyDetector[], events: readonly ApiEvent[]) {
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

/**
 * Memory held by an engine after the stream, over the GC'd figure before it: the JS heap plus
 * ArrayBuffer backing stores (V8 keeps typed arrays over 64 B outside heapUsed, and detector
 * states hold bitmaps and Float64Arrays).
 */
function held(detectors: readonly AnyDetector[], events: readonly ApiEvent[]) {
  const mem = () => {
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  gc();
  const before = mem();
  const r = runOnce(detectors, events);
  gc();
  const bytes = Math.max(0, mem() - before);
  const keys = r.engine.stats().reduce((n, s) => n + s.keys, 0);
  return { bytes, keys, seconds: r.seconds, engine: r.engine };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

function measure(mix: Mix, detectors: readonly AnyDetector[], perDetector: boolean): BenchResult[] {
  const floorDetectors = dispatchOnly(detectors.length);
  const rates: number[] = [];
  const floors: number[] = [];
  let findings = 0;
  for (let round = 0; round <= ROUNDS; round++) {
    const f = runOnce(floorDetectors, mix.events);
    const r = runOnce(detectors, mix.events);
    if (round === 0) continue; // warm-up
    floors.push(mix.events.length / f.seconds);
    rates.push(mix.events.length / r.seconds);
    findings = r.findings;
  }
  const rate = median(rates);
  const floor = median(floors);
  const all = held(detectors, mix.events);
  const actorScoped = held(
    detectors.filter((d) => d.scope === 'actor'),
    mix.events,
  );
  const out: BenchResult[] = [
    {
      name: `[${mix.name}] detect throughput, ${detectors.length} detectors at defaults, events/s per core`,
      value: rate,
      unit: 'events/s',
      floor,
      ratio: rate / floor,
      budget: 100_000,
      note: `${fmt(mix.events.length)} events (${fmt(mix.spec)} spec-annotated), ${fmt(mix.actors)} actors, ${findings} finding updates; floor: the engine with ${detectors.length} dispatch-only detectors`,
    },
    {
      name: `[${mix.name}] detector memory per active actor, every detector`,
      value: all.bytes / mix.actors,
      unit: 'bytes',
      budget: 1024,
      lowerIsBetter: true,
      note: `heap and array buffers held by the engine after the stream / ${fmt(mix.actors)} actors (${fmt(all.keys)} keys over all detectors, ${fmt(all.bytes - actorScoped.bytes)} B of them in global-scope keys: routes, accounts, objects)`,
    },
    {
      name: `[${mix.name}] detector memory per active actor, actor-scope detectors`,
      value: actorScoped.bytes / mix.actors,
      unit: 'bytes',
      budget: 1024,
      lowerIsBetter: true,
      note: `the ${detectors.filter((d) => d.scope === 'actor').length} actor-scope detectors alone (state that grows with actors; global keys grow with routes, accounts and objects)`,
    },
  ];
  if (!perDetector) return out;
  const floor1 = held(dispatchOnly(1), mix.events).seconds;
  const rows: string[] = [];
  for (const d of detectors) {
    const one = held([d], mix.events);
    const us = Math.max(0, ((one.seconds - floor1) / mix.events.length) * 1e6);
    rows.push(
      `${d.id.padEnd(30)} ${d.scope.padEnd(6)} ${fmt(one.bytes / mix.actors).padStart(7)} B/actor ${fmt(one.keys).padStart(7)} keys ${fmt(one.keys > 0 ? one.bytes / one.keys : 0).padStart(6)} B/key ${us.toFixed(2).padStart(6)} µs/event`,
    );
  }
  out.push({
    name: `[${mix.name}] per detector (alone: heap / actors, keys, heap / key, CPU per event over a one-detector floor)`,
    value: detectors.length,
    unit: 'detectors',
    note: rows.join('\n    '),
  });
  return out;
}

/** The runtime's bytes per stored key (eight no-op detectors share each key string, as real ones do). */
function runtimePerKey(mix: Mix): BenchResult[] {
  return [false, true].map((wake) => {
    const r = held(noopKeyed(8, wake), mix.events);
    return {
      name: `[${mix.name}] runtime memory per stored key, ${wake ? 'with a pending wake re-armed per event' : 'no wake'}`,
      value: r.bytes / r.keys,
      unit: 'bytes',
      lowerIsBetter: true,
      note: `8 no-op actor-keyed detectors, ${fmt(r.keys)} keys: store slot, LRU order${wake ? ', wake queue entry' : ''} and an eighth of the key string`,
    };
  });
}

export async function run(): Promise<BenchResult[]> {
  const perDetector = process.env.APIWATCH_BENCH_PER_DETECTOR !== '0';
  const synthetic = syntheticMix();
  return [
    ...measure(corpusMix(), DETECTORS, perDetector),
    ...measure(synthetic, DETECTORS, perDetector),
    ...runtimePerKey(synthetic),
  ];
}
