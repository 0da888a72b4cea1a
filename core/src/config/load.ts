import { readFileSync } from 'node:fs';
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { StartupError } from '../errors.ts';
import { type Config, ConfigSchema, type EnvSource } from './schema.ts';
import type { Environment } from './secrets.ts';

const compiled = TypeCompiler.Compile(ConfigSchema);

/**
 * With secrets.ts, the one place apiwatch reads the process environment: `APIWATCH__*`
 * overrides and the documented variables of the keys that name an env source.
 */
export const ENV_PREFIX = 'APIWATCH__';

export interface LoadOptions {
  /**
   * The format ids `identity.sources` may name (the CLI passes the parser registry's); unset:
   * not checked (core does not know the parsers).
   */
  formats?: readonly string[];
}

/**
 * Loads the YAML file (optional), applies the keys' documented environment variables and then
 * `APIWATCH__SECTION__KEY=value` overrides, fills the defaults, validates, and freezes. Errors
 * name the key and where the value came from.
 */
export function loadConfig(
  file?: string,
  env: Environment = process.env,
  options: LoadOptions = {},
): Readonly<Config> {
  let raw: unknown = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new StartupError(
        'CONFIG_FILE_UNREADABLE',
        `cannot read config file ${file}: ${(e as Error).message}`,
      );
    }
    try {
      raw = parseYaml(text) ?? {};
    } catch (e) {
      throw new StartupError('CONFIG_FILE_UNREADABLE', `${file}: not valid YAML: ${(e as Error).message}`);
    }
    if (typeof raw !== 'object' || Array.isArray(raw)) {
      throw new StartupError('CONFIG_INVALID', `${file}: the top level must be a mapping of keys`);
    }
  }
  const overridden = applyEnvOverrides(applyEnvSources(raw as Record<string, unknown>, env), env);
  const withDefaults = Value.Default(ConfigSchema, structuredClone(overridden));
  const origin = file ? `${file} (or an ${ENV_PREFIX}* override)` : `${ENV_PREFIX}* environment overrides`;
  const first = compiled.Errors(withDefaults).First();
  if (first) {
    const key = first.path.replace(/^\//, '').replaceAll('/', '.') || '(top level)';
    const variable = envSourcedKeys()
      .find((k) => k.path.join('.') === key)
      ?.sources.find((v) => (env[v.name] ?? '') !== '');
    if (variable && !env[`${ENV_PREFIX}${key.replaceAll('.', '__').toUpperCase()}`]) {
      throw new StartupError(
        'CONFIG_INVALID',
        `config key "${key}" from environment variable ${variable.name}: ${first.message}`,
      );
    }
    const detail =
      first.schema.additionalProperties === false && first.message.includes('additional')
        ? `unknown key under ${key}`
        : first.message;
    throw new StartupError('CONFIG_INVALID', `config key "${key}" in ${origin}: ${detail}`);
  }
  const config = withDefaults as Config;
  if (options.formats) checkIdentitySources(config, options.formats, origin);
  return deepFreeze(config);
}

/** `identity.sources` is keyed by format id: a key no parser has would silently never apply. */
export function checkIdentitySources(config: Config, formats: readonly string[], origin: string): void {
  for (const key of Object.keys(config.identity.sources)) {
    if (!formats.includes(key)) {
      throw new StartupError(
        'CONFIG_INVALID',
        `config key "identity.sources.${key}" in ${origin}: no format "${key}"; the formats are ${formats.join(', ')}`,
      );
    }
  }
}

/** Every key with documented environment variables, with its path (objects only: not lists). */
export function envSourcedKeys(
  schema: TSchema = ConfigSchema,
  path: string[] = [],
): Array<{ path: string[]; sources: EnvSource[] }> {
  const out: Array<{ path: string[]; sources: EnvSource[] }> = [];
  if (Array.isArray(schema.envSources)) out.push({ path, sources: schema.envSources as EnvSource[] });
  const props = schema.properties as Record<string, TSchema> | undefined;
  if (props) for (const [k, child] of Object.entries(props)) out.push(...envSourcedKeys(child, [...path, k]));
  return out;
}

/** Sets each env-sourced key from the first of its variables that is set (non-empty). */
export function applyEnvSources(raw: Record<string, unknown>, env: Environment): Record<string, unknown> {
  const out = structuredClone(raw);
  for (const { path, sources } of envSourcedKeys()) {
    const source = sources.find((s) => (env[s.name] ?? '') !== '');
    if (!source) continue;
    const text = env[source.name]!.trim();
    const value =
      source.as === 'value' ? text : source.as === 'env-ref' ? `env:${source.name}` : `file:${text}`;
    let target = out;
    for (const seg of path.slice(0, -1)) {
      const next = target[seg];
      if (typeof next !== 'object' || next === null || Array.isArray(next)) target[seg] = {};
      target = target[seg] as Record<string, unknown>;
    }
    target[path.at(-1)!] = value;
  }
  return out;
}

/**
 * `APIWATCH__BUS__KIND=kafka` sets bus.kind; segments match schema keys case-insensitively, so
 * `APIWATCH__STORE__MAXBATCHROWS=100` sets store.maxBatchRows. Values are parsed as YAML scalars
 * (numbers, booleans) or JSON for arrays.
 */
export function applyEnvOverrides(raw: Record<string, unknown>, env: Environment): Record<string, unknown> {
  const out = structuredClone(raw);
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || value === undefined) continue;
    const segments = name.slice(ENV_PREFIX.length).split('__');
    let schema: TSchema | undefined = ConfigSchema;
    let target: Record<string, unknown> = out;
    const path: string[] = [];
    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i]!;
      const props: Record<string, TSchema> | undefined = schema?.properties;
      const key: string | undefined = props
        ? Object.keys(props).find((k) => k.toLowerCase() === seg.toLowerCase())
        : seg.toLowerCase();
      if (!key) {
        throw new StartupError(
          'CONFIG_INVALID',
          `environment variable ${name}: no config key "${[...path, seg].join('.')}"`,
        );
      }
      path.push(key);
      schema = props?.[key];
      if (i === segments.length - 1) {
        target[key] = parseYaml(value);
      } else {
        const next = target[key];
        if (typeof next !== 'object' || next === null) target[key] = {};
        target = target[key] as Record<string, unknown>;
      }
    }
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
