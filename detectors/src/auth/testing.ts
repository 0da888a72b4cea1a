/**
 * Test support for the auth and recon detectors: event builders for login traffic and a minimal
 * driver that calls a definition's `keyBy`/`init`/`onEvent`/`onWatermark` the way the runtime does
 * (events in event-time order, the watermark = the newest event time, `wakeAt` timers per key,
 * config defaults from the schema). Used only by tests.
 */
import { type ApiEvent, buildEvent, type CredentialKind } from '@apiwatch/core';
import type { TObject } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { BaselineSnapshot } from '../baselines/index.ts';
import { BaselineSnapshot as Snapshot } from '../baselines/index.ts';
import type { DetectorContext, DetectorDefinition, FindingDraft } from '../runtime/define.ts';

export const T0 = Date.UTC(2026, 2, 2, 9, 0, 0);
export const MIN = 60_000;
export const HOUR = 3_600_000;

export interface CallOptions {
  ip: string;
  status: number;
  user?: string | null;
  path?: string;
  route?: string | null;
  method?: string;
  credentialKind?: CredentialKind;
  fingerprint?: string | null;
  ref?: string | null;
  service?: string | null;
  userAgent?: string | null;
  tenant?: string | null;
  auth?: 'success' | 'failure' | 'none' | 'unknown';
}

let seq = 0;
/** One API call at `ms` event time. */
export function call(ms: number, o: CallOptions): ApiEvent {
  const path = o.path ?? '/api/login';
  const kind = o.credentialKind ?? (o.user ? 'basic' : o.fingerprint ? 'api_key' : 'none');
  return buildEvent(
    {
      ts: ms,
      method: o.method ?? 'POST',
      path,
      route: o.route === undefined ? path : o.route,
      status: o.status,
      sourceKind: 'test',
      raw: `${seq++}|${ms}|${o.ip}|${o.status}|${o.user}|${path}`,
      clientIp: o.ip,
      user: o.user ?? null,
      credentialKind: kind,
      credentialFingerprint: o.fingerprint ?? null,
      credentialRef: o.ref ?? (kind === 'basic' ? (o.user ?? null) : null),
      service: o.service ?? null,
      userAgent: o.userAgent === undefined ? 'Mozilla/5.0 (test)' : o.userAgent,
      tenant: o.tenant ?? null,
      ...(o.auth ? { auth: o.auth } : {}),
    },
    ms,
  );
}

/** A deterministic PRNG (mulberry32) so generated traffic is the same on every run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface DraftOut extends FindingDraft {
  key: string;
  at: number;
}

export interface RunResult {
  drafts: DraftOut[];
  firing: DraftOut[];
  resolved: DraftOut[];
  /** sizeOf per key at the end of the run. */
  sizes: number[];
  keys: number;
}

const emptySnapshot = (): BaselineSnapshot =>
  Snapshot.empty(
    {
      seasonal: { requestsPerHour: { median: 0, mad: 0 }, actorsPerHour: { median: 0, mad: 0 } },
      objects: { p50: 0, p95: 0, p99: 0 },
      authFailureRate: 0.05,
    },
    2,
    1000,
  );

/**
 * Runs events through one detector as the runtime would: sorted by event time, the watermark is
 * the newest event time, timers fire when the watermark passes them, and `endMs` (default: an
 * hour after the last event) advances the watermark at the end so open episodes resolve.
 */
export function runDetector<C extends TObject, S>(
  def: DetectorDefinition<C, S>,
  events: ApiEvent[],
  options: { config?: Record<string, unknown>; endMs?: number; baselines?: BaselineSnapshot } = {},
): RunResult {
  const config = Value.Default(def.configSchema, structuredClone(options.config ?? {})) as never;
  if (!Value.Check(def.configSchema, config)) {
    throw new Error(
      `bad config: ${[...Value.Errors(def.configSchema, config)].map((e) => `${e.path} ${e.message}`).join('; ')}`,
    );
  }
  const sorted = [...events].sort((a, b) => a.ts - b.ts);
  const states = new Map<string, S>();
  const timers = new Map<string, number>();
  const drafts: DraftOut[] = [];
  const snapshot = options.baselines ?? emptySnapshot();
  let watermark = 0;
  let currentKey = '';
  const ctx: DetectorContext<never> = {
    config,
    now: () => watermark,
    baselines: () => snapshot,
    // One pending wake per key; a later request replaces it (the runtime's rule).
    wakeAt: (ts: number) => {
      timers.set(currentKey, ts);
    },
  };
  const fire = (upTo: number) => {
    for (;;) {
      let next: [string, number] | null = null;
      for (const [k, t] of timers) if (t <= upTo && (!next || t < next[1])) next = [k, t];
      if (!next) return;
      const [k, t] = next;
      timers.delete(k);
      const prevWm = watermark;
      watermark = Math.max(watermark, t);
      currentKey = k;
      const out = def.onWatermark?.(states.get(k)!, watermark, ctx, k);
      for (const d of out ?? []) drafts.push({ ...d, key: k, at: watermark });
      watermark = Math.max(prevWm, watermark);
    }
  };
  for (const e of sorted) {
    fire(e.ts);
    watermark = Math.max(watermark, e.ts);
    const key = def.keyBy(e, config);
    if (key === null) continue;
    let s = states.get(key);
    if (s === undefined) {
      s = def.init(key, e);
      states.set(key, s);
    }
    currentKey = key;
    const out = def.onEvent(s, e, ctx, key);
    for (const d of out ?? []) drafts.push({ ...d, key, at: watermark });
  }
  const end = options.endMs ?? (sorted.length ? sorted[sorted.length - 1]!.ts + HOUR : 0);
  fire(end);
  watermark = Math.max(watermark, end);
  const sizes = def.sizeOf ? [...states.values()].map((s) => def.sizeOf!(s)) : [];
  return {
    drafts,
    firing: drafts.filter((d) => (d.status ?? 'firing') === 'firing'),
    resolved: drafts.filter((d) => d.status === 'resolved'),
    sizes,
    keys: states.size,
  };
}

export const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

/**
 * An office (or carrier) NAT: `users` people behind one egress IP log in through the day, each
 * mistyping a password now and then (a failure, then a success) and a few typing a wrong username
 * (a failure that never recovers) or giving up.
 */
export function natLogins(options: {
  ip: string;
  users: number;
  startMs: number;
  spanMs: number;
  loginsPerUser: number;
  typoRate: number;
  giveUpRate: number;
  seed: number;
  path?: string;
  userPrefix?: string;
}): ApiEvent[] {
  const r = rng(options.seed);
  const out: ApiEvent[] = [];
  const path = options.path ?? '/api/login';
  const agents = ['Chrome/124', 'Firefox/125', 'Safari/17', 'Edge/124', 'okhttp/4.12', 'iOS-App/3.2'];
  for (let u = 0; u < options.users; u++) {
    const user = `${options.userPrefix ?? 'staff'}${u}@example.com`;
    const ua = `${agents[u % agents.length]} (${u % 17})`;
    for (let l = 0; l < options.loginsPerUser; l++) {
      let t = options.startMs + Math.floor(r() * options.spanMs);
      const roll = r();
      if (roll < options.typoRate) {
        const tries = 1 + Math.floor(r() * 3);
        for (let k = 0; k < tries; k++) {
          out.push(call(t, { ip: options.ip, status: 401, user, path, userAgent: ua }));
          t += 4000 + Math.floor(r() * 20_000);
        }
        out.push(call(t, { ip: options.ip, status: 200, user, path, userAgent: ua }));
      } else if (roll < options.typoRate + options.giveUpRate) {
        // A mistyped username (never succeeds as typed) or a forgotten password.
        const typed = r() < 0.5 ? `${user.slice(0, 3)}x${user.slice(3)}` : user;
        out.push(call(t, { ip: options.ip, status: 401, user: typed, path, userAgent: ua }));
        if (typed !== user)
          out.push(call(t + 9000, { ip: options.ip, status: 200, user, path, userAgent: ua }));
      } else {
        out.push(call(t, { ip: options.ip, status: 200, user, path, userAgent: ua }));
      }
    }
  }
  return out;
}
