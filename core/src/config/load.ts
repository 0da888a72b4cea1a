import { readFileSync } from 'node:fs';
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { StartupError } from '../errors.ts';
import { type Config, ConfigSchema } from './schema.ts';

const compiled = TypeCompiler.Compile(ConfigSchema);

/** The one place apiwatch reads the process environment for configuration. */
export const ENV_PREFIX = 'APIWATCH__';

/**
 * Loads the YAML file (optional), applies `APIWATCH__SECTION__KEY=value` overrides, fills the
 * defaults, validates, and freezes. Errors name the key and where the value came from.
 */
export function loadConfig(file?: string, env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
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
  const overridden = applyEnvOverrides(raw as Record<string, unknown>, env);
  const withDefaults = Value.Default(ConfigSchema, structuredClone(overridden));
  const origin = file ? `${file} (or an ${ENV_PREFIX}* override)` : `${ENV_PREFIX}* environment overrides`;
  const first = compiled.Errors(withDefaults).First();
  if (first) {
    const key = first.path.replace(/^\//, '').replaceAll('/', '.') || '(top level)';
    const detail =
      first.schema.additionalProperties === false && first.message.includes('additional')
        ? `unknown key under ${key}`
        : first.message;
    throw new StartupError('CONFIG_INVALID', `config key "${key}" in ${origin}: ${detail}`);
  }
  return deepFreeze(withDefaults as Config);
}

/**
 * `APIWATCH__BUS__KIND=kafka` sets bus.kind; segments match schema keys case-insensitively, so
 * `APIWATCH__STORE__MAXBATCHROWS=100` sets store.maxBatchRows. Values are parsed as YAML scalars
 * (numbers, booleans) or JSON for arrays.
 */
export function applyEnvOverrides(
  raw: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): Record<string, unknown> {
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
