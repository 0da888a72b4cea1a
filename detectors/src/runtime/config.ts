import {
  type ApiEvent,
  type DetectConfigValue,
  type DetectSuppressionValue,
  type Finding,
  StartupError,
} from '@apiwatch/core';
import type { TObject } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import type { AnyDetector } from './define.ts';

/**
 * Detection as code: resolves `detect.detectors.<id>` (the detector's own keys, `enabled`,
 * `overrides`) and `detect.suppressions` against the registry. Defaults come from each
 * detector's configSchema only (Value.Default): there is no second copy of them.
 */

/** Keys the runtime owns inside `detect.detectors.<id>`; never passed to the detector's schema. */
export const RUNTIME_KEYS = ['enabled', 'overrides'] as const;

/** A glob on a string: `*` matches any run of characters; everything else is literal. */
export function globMatcher(pattern: string): (value: string) => boolean {
  if (!pattern.includes('*')) return (v) => v === pattern;
  const re = new RegExp(`^${pattern.split('*').map(escapeRe).join('.*')}$`, 's');
  return (v) => re.test(v);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Where an override applies: every given field must match the event (or the key's event). */
export interface OverrideMatch {
  route?: string;
  method?: string;
  tenant?: string;
  /** Actor key of the event (`ip:…`, `credential:…`, `user:…`, `service:…`); `*` allowed. */
  entity?: string;
}

export interface CompiledOverride {
  match: OverrideMatch;
  /** The fields the override sets, as written (for `apiwatch detectors`). */
  set: Record<string, unknown>;
  test(event: ApiEvent, actor: string): boolean;
}

export interface ResolvedDetector {
  detector: AnyDetector;
  /** Effective config with no override: schema defaults under the user's values. Frozen. */
  config: Record<string, unknown>;
  enabled: boolean;
  overrides: CompiledOverride[];
  /** Effective config for a combination of matching overrides (bit i = override i), frozen. */
  configFor(mask: number): Record<string, unknown>;
  /** `enabled` after the overrides in `mask`. */
  enabledFor(mask: number): boolean;
}

const MAX_OVERRIDES = 30;

function configError(key: string, message: string): StartupError {
  return new StartupError('CONFIG_INVALID', `config key "${key}": ${message}`);
}

function validated(
  detector: AnyDetector,
  given: Record<string, unknown>,
  keyPrefix: string,
): Record<string, unknown> {
  const schema: TObject = detector.configSchema;
  const config = Value.Default(schema, structuredClone(given)) as Record<string, unknown>;
  const first = compiledFor(detector).Errors(config).First();
  if (first) {
    const detail =
      first.message.includes('additional') || first.message.includes('Unexpected property')
        ? `unknown key (known: ${Object.keys(schema.properties).join(', ')})`
        : first.message;
    throw configError(`${keyPrefix}${first.path.replaceAll('/', '.')}`, detail);
  }
  return deepFreeze(config);
}

const compiledCache = new WeakMap<object, ReturnType<typeof TypeCompiler.Compile>>();
function compiledFor(detector: AnyDetector) {
  let c = compiledCache.get(detector.configSchema);
  if (!c) {
    c = TypeCompiler.Compile(detector.configSchema);
    compiledCache.set(detector.configSchema, c);
  }
  return c;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

function compileOverride(raw: unknown, key: string): { match: OverrideMatch; set: Record<string, unknown> } {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw configError(key, 'must be a mapping');
  const o = raw as Record<string, unknown>;
  const match: OverrideMatch = {};
  for (const [k, v] of Object.entries(o)) {
    if (k === 'set') continue;
    if (k !== 'route' && k !== 'method' && k !== 'tenant' && k !== 'entity')
      throw configError(`${key}.${k}`, 'unknown key (known: route, method, tenant, entity, set)');
    if (typeof v !== 'string' || v.length === 0)
      throw configError(`${key}.${k}`, 'must be a non-empty string');
    match[k] = k === 'method' ? v.toUpperCase() : v;
  }
  if (Object.keys(match).length === 0)
    throw configError(key, 'an override needs at least one of route, method, tenant, entity');
  const set = o.set;
  if (!set || typeof set !== 'object' || Array.isArray(set))
    throw configError(`${key}.set`, 'must be a mapping of the detector keys to change');
  return { match, set: set as Record<string, unknown> };
}

/** Validates detect.detectors against the registry: unknown ids or keys are start-up errors. */
export function resolveDetectors(
  detect: Pick<DetectConfigValue, 'detectors'>,
  registry: readonly AnyDetector[],
): ResolvedDetector[] {
  for (const id of Object.keys(detect.detectors)) {
    if (!registry.some((d) => d.id === id))
      throw configError(
        `detect.detectors.${id}`,
        `no such detector (known: ${registry.map((d) => d.id).join(', ')})`,
      );
  }
  const seen = new Set<string>();
  return registry.map((detector) => {
    if (seen.has(detector.id)) throw new Error(`detector id ${detector.id} is registered twice`);
    seen.add(detector.id);
    const prefix = `detect.detectors.${detector.id}`;
    const given = { ...(detect.detectors[detector.id] ?? {}) } as Record<string, unknown>;
    const declaresEnabled = 'enabled' in detector.configSchema.properties;
    const enabledRaw = given.enabled;
    if (!declaresEnabled) delete given.enabled;
    if (enabledRaw !== undefined && typeof enabledRaw !== 'boolean')
      throw configError(`${prefix}.enabled`, 'must be true or false');
    const overridesRaw = given.overrides ?? [];
    delete given.overrides;
    if (!Array.isArray(overridesRaw)) throw configError(`${prefix}.overrides`, 'must be a list');
    if (overridesRaw.length > MAX_OVERRIDES)
      throw configError(`${prefix}.overrides`, `at most ${MAX_OVERRIDES} overrides per detector`);
    const config = validated(detector, given, prefix);
    const enabled = enabledRaw !== false;
    const overrides: CompiledOverride[] = overridesRaw.map((raw, i) => {
      const key = `${prefix}.overrides.${i}`;
      const { match, set } = compileOverride(raw, key);
      // Validate the override applied on its own, so an error names it.
      const probe = { ...set };
      if (!declaresEnabled) delete probe.enabled;
      if (probe.enabled !== undefined && typeof probe.enabled !== 'boolean')
        throw configError(`${key}.set.enabled`, 'must be true or false');
      validated(detector, { ...given, ...probe }, `${key}.set`);
      const route = match.route ? globMatcher(match.route) : null;
      const entity = match.entity ? globMatcher(match.entity) : null;
      return {
        match,
        set,
        test(event: ApiEvent, actor: string) {
          if (match.method && event.request.method !== match.method) return false;
          if (match.tenant && event.identity.tenant !== match.tenant) return false;
          if (route && !route(event.request.route ?? event.request.path)) return false;
          if (entity && !entity(actor)) return false;
          return true;
        },
      };
    });
    const byMask = new Map<number, { config: Record<string, unknown>; enabled: boolean }>();
    byMask.set(0, { config, enabled });
    const resolve = (mask: number) => {
      let r = byMask.get(mask);
      if (!r) {
        // Later overrides win over earlier ones.
        let merged: Record<string, unknown> = { ...given };
        let en = enabled;
        overrides.forEach((o, i) => {
          if (!(mask & (1 << i))) return;
          const set = { ...o.set };
          if (typeof set.enabled === 'boolean') en = set.enabled;
          if (!declaresEnabled) delete set.enabled;
          merged = { ...merged, ...set };
        });
        r = { config: validated(detector, merged, prefix), enabled: en };
        byMask.set(mask, r);
      }
      return r;
    };
    return {
      detector,
      config,
      enabled,
      overrides,
      configFor: (mask) => resolve(mask).config,
      enabledFor: (mask) => resolve(mask).enabled,
    };
  });
}

/** Compiled `detect.suppressions`, with per-suppression counters. */
export interface CompiledSuppression {
  id: string;
  reason: string;
  expiresAtMs: number;
  suppressed: number;
  /** Findings it matched after it expired (emitted, counted). */
  expiredMatches: number;
  matches(f: Finding): boolean;
}

export function compileSuppressions(list: readonly DetectSuppressionValue[]): CompiledSuppression[] {
  return list.map((s, i) => {
    const key = `detect.suppressions.${i}`;
    const expiresAtMs = Date.parse(s.expiresAt);
    if (!Number.isFinite(expiresAtMs))
      throw configError(`${key}.expiresAt`, `not an ISO 8601 time: ${s.expiresAt}`);
    const detector = globMatcher(s.detector);
    const entity = s.entity ? globMatcher(s.entity) : null;
    const route = s.route ? globMatcher(s.route) : null;
    const method = s.method?.toUpperCase();
    return {
      id: s.id ?? String(i),
      reason: s.reason,
      expiresAtMs,
      suppressed: 0,
      expiredMatches: 0,
      matches(f: Finding) {
        if (!detector(f.detector)) return false;
        if (entity && !entity(`${f.entity.kind}:${f.entity.id}`)) return false;
        if (route && !route(f.route ?? '')) return false;
        if (method && f.method !== method) return false;
        if (s.tenant && f.tenant !== s.tenant) return false;
        return true;
      },
    };
  });
}

/** One detector as `apiwatch detectors` shows it: its identity and its effective config. */
export interface DetectorDescription {
  id: string;
  title: string;
  family: string;
  scope: 'actor' | 'global';
  severity: string;
  owasp: string;
  nist: string;
  fingerprint: readonly string[];
  enabled: boolean;
  /** Schema defaults under the user's values. */
  config: Record<string, unknown>;
  /** Keys whose value differs from the schema default. */
  changed: string[];
  overrides: Array<{ match: OverrideMatch; set: Record<string, unknown> }>;
  suppressions: Array<{ id: string; reason: string; expiresAt: string; expired: boolean }>;
}

/**
 * Every registered detector with its effective config (defaults from the schema, then the
 * user's values), its overrides and the suppressions that can match it. `nowMs` only decides
 * which suppressions are shown as expired.
 */
export function describeDetectors(
  detect: Pick<DetectConfigValue, 'detectors' | 'suppressions'>,
  registry: readonly AnyDetector[],
  nowMs: number,
): DetectorDescription[] {
  const resolved = resolveDetectors(detect, registry);
  const suppressions = compileSuppressions(detect.suppressions ?? []);
  return resolved.map((r) => {
    const d = r.detector;
    const defaults = Value.Default(d.configSchema, {}) as Record<string, unknown>;
    const changed = Object.keys(r.config).filter(
      (k) => JSON.stringify(r.config[k]) !== JSON.stringify(defaults[k]),
    );
    const matcher = globMatcher;
    return {
      id: d.id,
      title: d.title,
      family: d.id.slice(0, d.id.indexOf('.')),
      scope: d.scope,
      severity: d.severity,
      owasp: d.owasp,
      nist: d.nist,
      fingerprint: d.fingerprint,
      enabled: r.enabled,
      config: r.config,
      changed,
      overrides: r.overrides.map((o) => ({ match: o.match, set: o.set })),
      suppressions: (detect.suppressions ?? [])
        .map((s, i) => ({ s, c: suppressions[i]! }))
        .filter(({ s }) => matcher(s.detector)(d.id))
        .map(({ s, c }) => ({
          id: c.id,
          reason: s.reason,
          expiresAt: s.expiresAt,
          expired: c.expiresAtMs < nowMs,
        })),
    };
  });
}
