/**
 * The detector contract (v2). Every detector is one `defineDetector({...})` object in its own
 * file under `detectors/src/<family>/`, listed in `registry.ts`. The runtime owns everything that
 * is not the detector's judgement: the keyed state store (cap, LRU eviction, counted), the clock
 * (the watermark), baselines, timers, config resolution (defaults from the schema, per-route and
 * per-entity overrides, `enabled`), suppressions, finding identity and the finding envelope.
 *
 * A detector's per-event logic is a pure function of (event, state, config, baselines, now):
 * no `Date.now()`, no I/O, no randomness, so a replay gives byte-identical findings.
 *
 * Refinements by the runtime (backwards compatible with the first version of this file):
 * - `ctx.wakeAt(ts)`: each key holds one pending wake; a later call replaces it (the last request
 *   wins), so "call wakeAt(lastSeen + quiet) on every event" just works. Call it again from
 *   `onWatermark` to be woken later. A wake at or before the current watermark fires before the
 *   next event with a later time (or at the end of a replay).
 * - `ctx.config` in `onWatermark` is the effective config the key last saw in `onEvent`.
 * - `enabled` and `overrides` are runtime keys: a detector's configSchema need not (should not)
 *   declare `enabled`; the runtime strips both before validating the rest against the schema.
 * - Optional `idleMs(config)`: a key untouched for that long (event time) with no pending wake is
 *   dropped by the runtime (not counted as an eviction). Without it keys live until evicted by
 *   the cap (LRU).
 * - A throw from a detector is caught, counted per detector (`errors`) and skips that event
 *   for that detector only.
 */
import type {
  ApiEvent,
  DetectorFamily,
  Finding,
  FindingEntity,
  FindingStatus,
  NistArea,
  OwaspApi2023,
  Severity,
} from '@apiwatch/core';
import type { Static, TObject } from '@sinclair/typebox';
import type { BaselineSnapshot } from '../baselines/index.ts';

/**
 * Where a detector's keys live. `actor`: the key is derived from the event's actor (the events
 * topic is partitioned by actor, so one instance sees all of a key's events). `global`: the key
 * spans actors (route, target account, tenant, object owner) and the runtime runs the detector
 * in its second stage, where all events of one key meet whatever the partitioning.
 */
export type KeyScope = 'actor' | 'global';

/** Fields a finding's fingerprint hashes besides the detector id, tenant and method (always in). */
export type FingerprintField = 'entity' | 'route' | 'extra';

/** What a detector hands the runtime; the runtime adds id, fingerprint, detector, family, clock. */
export interface FindingDraft {
  /** Default `firing`. A `resolved` draft must carry `endedAt`. */
  status?: FindingStatus;
  entity: FindingEntity;
  route: string | null;
  method: string | null;
  tenant: string | null;
  /** Default: the detector's severity. */
  severity?: Severity;
  confidence: number;
  /** One sentence a SOC analyst can act on: who, what, where, how much. */
  summary: string;
  title?: string;
  /** Event time of the first and last event in the evidence. */
  firstSeen: number;
  lastSeen: number;
  endedAt?: number | null;
  /** `observed` is the measured value, never the threshold. */
  evidence: Finding['evidence'];
  recommendedAction: string;
  /** Extra routing labels; the runtime adds route, tenant and method when set. */
  labels?: Record<string, string>;
  /** Hashed into the fingerprint when the detector lists `extra` (e.g. the target account). */
  fingerprintExtra?: string;
}

/** What a detector may use besides the event and its own state. */
export interface DetectorContext<C> {
  /** The effective config for the event (or key) being handled: defaults, then overrides. */
  readonly config: C;
  /** The watermark (event time, ms). Never `Date.now()` on a data path. */
  now(): number;
  /** The current immutable baseline snapshot (empty with `confidence: 'low'` on a cold start). */
  baselines(): BaselineSnapshot;
  /** Ask to have `onWatermark` called for the current key once the watermark reaches `ts`. */
  wakeAt(ts: number): void;
}

export interface DetectorDefinition<C extends TObject = TObject, S = unknown> {
  /** Stable id `family.name`: config key under detect.detectors, metric label, file name. */
  readonly id: `${DetectorFamily}.${string}`;
  readonly title: string;
  readonly owasp: OwaspApi2023;
  readonly nist: NistArea;
  readonly severity: Severity;
  /** Every property carries its `default`; the runtime derives the defaults from it (no second copy). */
  readonly configSchema: C;
  readonly scope: KeyScope;
  readonly fingerprint: readonly FingerprintField[];
  /** The state key for an event; null skips the event for this detector. */
  keyBy(event: ApiEvent, config: Static<C>): string | null;
  /** A fresh state for a key seen for the first time (or after eviction). Keep it small: < 1 KiB. */
  init(key: string, event: ApiEvent): S;
  onEvent(
    state: S,
    event: ApiEvent,
    ctx: DetectorContext<Static<C>>,
    key: string,
  ): FindingDraft[] | undefined;
  /** Called once the watermark reaches a time the detector asked for with `ctx.wakeAt`. */
  onWatermark?(
    state: S,
    ts: number,
    ctx: DetectorContext<Static<C>>,
    key: string,
  ): FindingDraft[] | undefined;
  /** Approximate bytes held by a state, for the per-detector state-size metric. */
  sizeOf?(state: S): number;
  /** Event time (ms) after which an untouched key with no pending wake is dropped. */
  idleMs?(config: Static<C>): number;
}

/** Identity function that gives a detector definition its full types without casts. */
export function defineDetector<C extends TObject, S>(
  definition: DetectorDefinition<C, S>,
): DetectorDefinition<C, S> {
  return definition;
}

/** A registry entry, with its config and state types erased. */
// biome-ignore lint/suspicious/noExplicitAny: the registry holds detectors of different state types.
export type AnyDetector = DetectorDefinition<TObject, any>;
