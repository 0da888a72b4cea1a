import { actorKey } from '@apiwatch/core';
import { Type as T } from '@sinclair/typebox';
import { actorFindingEntity, type EpisodeRef, episodeRef, fnv1a, resolvedOf } from '../bola/common.ts';
import { defineDetector, type FindingDraft } from '../runtime/define.ts';

export const ParameterViolationConfig = T.Object(
  {
    windowSeconds: T.Integer({
      minimum: 60,
      maximum: 86_400,
      default: 600,
      description: 'Violations are counted over the current and the previous window (event time).',
    }),
    minDistinct: T.Integer({
      minimum: 2,
      default: 4,
      description:
        'Distinct violations by one actor that raise a finding: (code, parameter) pairs, where a path parameter rejected (4xx) with different values in the path counts once per value; at least one must be a value violation (type, format, enum, pattern, range, length) and at least two pairs must differ.',
    }),
    minDistinctUnknown: T.Integer({
      minimum: 2,
      default: 12,
      description: 'Distinct unknown query parameter names alone that raise a finding (parameter mining).',
    }),
    ignoreParams: T.Array(T.String({ maxLength: 128 }), {
      default: ['_', 'cb', 'callback', 'fbclid', 'gclid', 'utm_*', 'v', 'ts', 't', '_t', 'lang', 'locale'],
      description:
        'Unknown query parameters never counted (cache busters, tracking); a trailing * is a prefix.',
    }),
    quietSeconds: T.Integer({
      minimum: 60,
      default: 1800,
      description: 'The episode resolves after this long without a violation.',
    }),
  },
  { additionalProperties: false },
);

/**
 * Per actor: hashes of the distinct (code, parameter) pairs in the current and previous window
 * (at most 64 each), value-violation and unknown-name counts, the routes touched, the episode.
 * ~700 B at worst.
 */
interface ViolationState {
  window: number;
  /** Distinct violations (pairs, or pair + path for rejected path values) this and last window. */
  cur: number[];
  prev: number[];
  /** Distinct (code, parameter) pairs this and last window. */
  curPairs: number[];
  prevPairs: number[];
  valueKinds: number;
  unknownNames: number;
  calls: number;
  routes: string[];
  codes: Record<string, number>;
  params: string[];
  samples: string[];
  first: number;
  last: number;
  open: boolean;
  ref: EpisodeRef | null;
}

const MAX_PAIRS = 64;

function ignored(name: string, list: readonly string[]): boolean {
  return list.some((p) => (p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : name === p));
}

/**
 * `spec.parameter_violation` (OWASP API8:2023 Security Misconfiguration, API4 input abuse; NIST
 * input validation): one actor breaking the spec's parameter rules in many different ways within
 * minutes — fuzzing, injection probes and parameter mining — as annotated by the ingest route
 * stage (codes and names only, never values). A client bug repeats one violation; it never adds up.
 */
export const parameterViolation = defineDetector({
  id: 'spec.parameter_violation',
  title: 'Spec parameter violations (fuzzing)',
  owasp: 'API8:2023',
  nist: 'input-validation',
  severity: 'medium',
  configSchema: ParameterViolationConfig,
  scope: 'actor',
  fingerprint: ['entity'],
  keyBy(event) {
    const v = event.spec?.violations;
    if (!v || v.length === 0 || event.spec?.status !== 'documented') return null;
    if (!v.some((x) => x.code.startsWith('param_'))) return null;
    return actorKey(event);
  },
  init: (): ViolationState => ({
    window: -1,
    cur: [],
    prev: [],
    curPairs: [],
    prevPairs: [],
    valueKinds: 0,
    unknownNames: 0,
    calls: 0,
    routes: [],
    codes: {},
    params: [],
    samples: [],
    first: 0,
    last: 0,
    open: false,
    ref: null,
  }),
  idleMs: (c) => (c.quietSeconds + 2 * c.windowSeconds) * 1000,
  sizeOf: (s) =>
    120 +
    (s.cur.length + s.prev.length + s.curPairs.length + s.prevPairs.length) * 8 +
    s.routes.reduce((n, r) => n + 40 + r.length * 2, 0) +
    s.params.length * 50 +
    s.samples.length * 60,
  onEvent(s, event, ctx, key) {
    const cfg = ctx.config;
    const w = Math.floor(event.ts / (cfg.windowSeconds * 1000));
    if (w !== s.window) {
      s.prev = w === s.window + 1 ? s.cur : [];
      s.prevPairs = w === s.window + 1 ? s.curPairs : [];
      s.cur = [];
      s.curPairs = [];
      s.window = w;
      if (!s.open) {
        s.valueKinds = 0;
        s.unknownNames = 0;
        s.calls = 0;
        s.routes = [];
        s.codes = {};
        s.params = [];
        s.samples = [];
        s.first = 0;
      }
    }
    let counted = false;
    // A fuzzer varies the value, a buggy client repeats it. Query values never reach the event,
    // but a path parameter's value is the path itself: a rejected one counts once per path.
    const rejected = event.response.status >= 400 && event.response.status < 500;
    for (const v of event.spec!.violations) {
      if (!v.code.startsWith('param_')) continue;
      if (v.code === 'param_unknown' && v.name && ignored(v.name, cfg.ignoreParams)) continue;
      const pair = fnv1a(`${v.code}\u0000${v.name ?? ''}`);
      if (!s.curPairs.includes(pair) && !s.prevPairs.includes(pair) && s.curPairs.length < MAX_PAIRS)
        s.curPairs.push(pair);
      const h =
        v.in === 'path' && rejected
          ? fnv1a(`${v.code}\u0000${v.name ?? ''}\u0000${event.request.path}`)
          : pair;
      if (s.cur.includes(h) || s.prev.includes(h)) continue;
      if (s.cur.length >= MAX_PAIRS) continue;
      s.cur.push(h);
      counted = true;
      if (v.code === 'param_unknown') s.unknownNames++;
      else s.valueKinds++;
      s.codes[v.code] = (s.codes[v.code] ?? 0) + 1;
      if (s.params.length < 10 && v.name) s.params.push(`${v.in ?? '?'}:${v.name}`.slice(0, 128));
    }
    if (!counted) return undefined;
    s.calls++;
    if (s.first === 0) s.first = event.ts;
    s.last = event.ts;
    const route = `${event.request.method} ${event.request.route ?? event.request.path}`.slice(0, 256);
    if (s.routes.length < 5 && !s.routes.includes(route)) s.routes.push(route);
    if (s.samples.length < 10) s.samples.push(event.id);
    if (s.open) {
      ctx.wakeAt(event.ts + cfg.quietSeconds * 1000);
      return undefined;
    }
    const distinct = s.cur.length + s.prev.length;
    const pairs = s.curPairs.length + s.prevPairs.length;
    const fuzz = distinct >= cfg.minDistinct && pairs >= 2 && s.valueKinds >= 1;
    const mining = s.unknownNames >= cfg.minDistinctUnknown;
    if (!fuzz && !mining) return undefined;
    s.open = true;
    ctx.wakeAt(event.ts + cfg.quietSeconds * 1000);
    const entity = actorFindingEntity(key, event);
    const who = entity.name ?? entity.id;
    const d: FindingDraft = {
      entity,
      route: event.request.route,
      method: event.request.method,
      tenant: event.identity.tenant,
      confidence: Math.min(0.95, 0.6 + 0.05 * distinct),
      summary: `${entity.kind} ${who} broke ${pairs} distinct parameter rules${distinct > pairs ? ` (${distinct} distinct violations counting rejected path values)` : ''} (${Object.keys(s.codes).join(', ')}) on ${s.routes.length} operation(s) within ${Math.round((2 * cfg.windowSeconds) / 60)} min${mining && !fuzz ? ': parameter mining' : ''}.`,
      firstSeen: s.first,
      lastSeen: s.last,
      evidence: {
        observed: distinct,
        baseline: null,
        threshold: fuzz ? cfg.minDistinct : cfg.minDistinctUnknown,
        windowSeconds: 2 * cfg.windowSeconds,
        counts: { ...s.codes, violatingCalls: s.calls, distinctPairs: pairs },
        sampleEventIds: [...s.samples],
        details: {
          routes: [...s.routes],
          params: [...s.params],
          clientIp: event.client.ip,
          userAgent: event.client.userAgent,
        },
      },
      recommendedAction: `Check the requests of ${who} for injection or fuzzing payloads (sample events), make the API reject what the spec forbids, and rate-limit or block the actor if it keeps probing.`,
    };
    s.ref = episodeRef(d);
    return [d];
  },
  onWatermark(s, ts, ctx) {
    if (!s.open || !s.ref) return undefined;
    const quietMs = ctx.config.quietSeconds * 1000;
    if (ts < s.last + quietMs) {
      ctx.wakeAt(s.last + quietMs);
      return undefined;
    }
    s.open = false;
    const e = s.ref.entity;
    const out = resolvedOf(s.ref, {
      endedAt: s.last,
      lastSeen: s.last,
      summary: `${e.kind} ${e.name ?? e.id}: no parameter violation for ${Math.round(ctx.config.quietSeconds / 60)} min.`,
      observed: s.calls,
      windowSeconds: ctx.config.quietSeconds,
      recommendedAction: 'Close the incident once the payloads were reviewed.',
    });
    s.ref = null;
    return [out];
  },
});
