/**
 * A small, faithful driver of the `defineDetector` contract for unit tests of the bola, spec and
 * volume families (the engine has its own tests): one state per key, the watermark = the latest
 * event time seen, `ctx.wakeAt` timers fired in time order as the watermark passes them, the
 * config from the schema's defaults plus overrides (validated), and a baseline snapshot.
 */
import { type ApiEvent, buildEvent } from '@apiwatch/core';
import type { Static, TObject } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import { type BaselineFallbacks, BaselineSnapshot } from '../baselines/index.ts';
import type { DetectorContext, DetectorDefinition, FindingDraft } from '../runtime/define.ts';

export interface EmittedDraft extends FindingDraft {
  key: string;
  /** The watermark when the draft was emitted. */
  at: number;
}

export const TEST_FALLBACKS: BaselineFallbacks = {
  seasonal: { requestsPerHour: { median: 0, mad: 0 }, actorsPerHour: { median: 0, mad: 0 } },
  objects: { p50: 1, p95: 5, p99: 10 },
  authFailureRate: 0.05,
};

export interface HarnessOptions<C extends TObject> {
  config?: Partial<Static<C>>;
  baselines?: BaselineSnapshot;
}

export class DetectorHarness<C extends TObject, S> {
  readonly drafts: EmittedDraft[] = [];
  readonly states = new Map<string, S>();
  private watermark = 0;
  private readonly timers = new Map<string, number>();
  private readonly config: Static<C>;
  private readonly snapshot: BaselineSnapshot;
  readonly detector: DetectorDefinition<C, S>;

  constructor(detector: DetectorDefinition<C, S>, options: HarnessOptions<C> = {}) {
    this.detector = detector;
    const config = Value.Default(detector.configSchema, structuredClone(options.config ?? {})) as Static<C>;
    const first = TypeCompiler.Compile(detector.configSchema).Errors(config).First();
    if (first) throw new Error(`config ${first.path}: ${first.message}`);
    this.config = config;
    this.snapshot = options.baselines ?? BaselineSnapshot.empty(TEST_FALLBACKS, 2, 1000);
  }

  /** Feeds events (sorted by time here, as the runtime's reorder buffer would). */
  run(events: Iterable<ApiEvent>): EmittedDraft[] {
    const sorted = [...events].sort((a, b) => a.ts - b.ts);
    const before = this.drafts.length;
    for (const e of sorted) this.push(e);
    return this.drafts.slice(before);
  }

  push(event: ApiEvent): void {
    this.advance(event.ts);
    const key = this.detector.keyBy(event, this.config);
    if (key === null) return;
    let state = this.states.get(key);
    if (state === undefined) {
      state = this.detector.init(key, event);
      this.states.set(key, state);
    }
    const out = this.detector.onEvent(state, event, this.ctx(key), key);
    this.collect(key, out);
  }

  /** Moves the watermark (no event), firing due timers. */
  advance(ts: number): void {
    if (ts > this.watermark) this.watermark = ts;
    for (;;) {
      let dueKey: string | null = null;
      let dueAt = Number.POSITIVE_INFINITY;
      for (const [k, at] of this.timers) if (at <= this.watermark && at < dueAt) [dueKey, dueAt] = [k, at];
      if (dueKey === null) return;
      this.timers.delete(dueKey);
      const state = this.states.get(dueKey);
      if (state === undefined || !this.detector.onWatermark) continue;
      const out = this.detector.onWatermark(state, dueAt, this.ctx(dueKey), dueKey);
      this.collect(dueKey, out);
    }
  }

  sizeOf(key: string): number {
    const s = this.states.get(key);
    return s === undefined || !this.detector.sizeOf ? 0 : this.detector.sizeOf(s);
  }

  firing(): EmittedDraft[] {
    return this.drafts.filter((d) => (d.status ?? 'firing') === 'firing');
  }

  private ctx(key: string): DetectorContext<Static<C>> {
    return {
      config: this.config,
      now: () => this.watermark,
      baselines: () => this.snapshot,
      // One pending wake per key; a later call replaces it (the runtime's rule).
      wakeAt: (ts: number) => {
        this.timers.set(key, ts);
      },
    };
  }

  private collect(key: string, out: FindingDraft[] | undefined): void {
    for (const d of out ?? []) this.drafts.push({ ...d, key, at: this.watermark });
  }
}

export interface CallSpec {
  ts: number;
  method?: string;
  route?: string | null;
  /** Defaults to the route with its parameters filled from `objects`. */
  path?: string;
  status?: number;
  user?: string | null;
  service?: string | null;
  tenant?: string | null;
  credential?: string | null;
  credentialKind?: 'api_key' | 'jwt' | 'mtls' | 'basic' | 'session' | 'none';
  ip?: string;
  userAgent?: string;
  scopes?: string[];
  auth?: 'success' | 'failure' | 'none' | 'unknown';
  objects?: Array<{ name: string; value: string; in?: 'path' | 'query' }>;
  queryKeys?: string[];
  responseBytes?: number | null;
  spec?: ApiEvent['spec'];
}

let seq = 0;

/** A canonical event for detector tests (through the real builder, so it is schema-valid). */
export function call(c: CallSpec): ApiEvent {
  const route = c.route === undefined ? '/items/{id}' : c.route;
  const objects = (c.objects ?? []).map((o) => ({ name: o.name, value: o.value, in: o.in ?? 'path' }));
  let path = c.path ?? route ?? '/';
  if (!c.path) for (const o of objects) if (o.in === 'path') path = path.replace(`{${o.name}}`, o.value);
  const kind = c.credentialKind ?? (c.user || c.service || c.credential ? 'jwt' : 'none');
  const e = buildEvent(
    {
      ts: c.ts,
      method: c.method ?? 'GET',
      path,
      status: c.status ?? 200,
      sourceKind: 'test',
      raw: `${c.ts} ${seq++} ${path}`,
      route,
      clientIp: c.ip ?? '10.0.0.1',
      userAgent: c.userAgent ?? 'test-agent/1.0',
      credentialKind: kind,
      credentialFingerprint: c.credential ?? null,
      user: c.user ?? null,
      service: c.service ?? null,
      tenant: c.tenant ?? null,
      scopes: c.scopes ?? [],
      queryKeys: c.queryKeys ?? objects.filter((o) => o.in === 'query').map((o) => o.name),
      responseBytes: c.responseBytes ?? 500,
      ...(c.auth ? { auth: c.auth } : {}),
    },
    c.ts,
  );
  e.objects = objects;
  if (c.spec !== undefined) e.spec = c.spec;
  return e;
}

/** A documented spec annotation with overrides. */
export function specOf(over: Partial<NonNullable<ApiEvent['spec']>> = {}): NonNullable<ApiEvent['spec']> {
  return {
    status: 'documented',
    specId: 'test@1',
    operationId: 'op',
    deprecated: false,
    securityRequired: false,
    requiredScopes: [],
    violations: [],
    ...over,
  };
}
