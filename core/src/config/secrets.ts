import { readFileSync } from 'node:fs';
import { StartupError } from '../errors.ts';

/**
 * The one secret resolver. A secret (receiver URL or key, signing secret, revoker token, store
 * password, collector or API token, fingerprint key) is never a value in the config: the config
 * names where it is, either as a reference string (`env:NAME`, `file:/path`) or as a pair of keys
 * ending in `Env` / `File`. Every component resolves through this, so a secret has one set of
 * rules (trimmed, a missing variable or unreadable file is a coded start-up error naming the key).
 *
 * The environment is the process environment unless a caller (a test) hands in its own: together
 * with load.ts this folder is the one place apiwatch reads `process.env`.
 */

/** The environment variables the loader and the resolver read. */
export type Environment = Readonly<Record<string, string | undefined>>;

/** Where one secret is: exactly one of them is used, in this order. */
export interface SecretSource {
  /** A reference: `env:NAME` or `file:/path` (a relative path is read from the working directory). */
  ref?: string | undefined;
  /** An environment variable (the `…Env` keys). */
  env?: string | undefined;
  /** The variable is a default name (e.g. APIWATCH_CLICKHOUSE_PASSWORD): unset resolves to null, not an error. */
  envMayBeUnset?: boolean;
  /** A file (the `…File` keys). */
  file?: string | undefined;
  /** A non-secret inline value the schema allows (e.g. a Slack URL in a test config). */
  inline?: string | undefined;
}

/**
 * `where` is the config key the source came from (for the error message); `required` makes "no
 * source at all" an error instead of null.
 */
export type SecretResolver = (where: string, source: SecretSource, required: boolean) => string | null;

/** The form of a secret reference (the schema pattern of every `…Secret`-style key). */
export const SECRET_REF_PATTERN = '^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)$';

/** Splits `env:NAME` / `file:/path`; throws a coded error for anything else. */
export function parseSecretRef(where: string, ref: string): { env: string } | { file: string } {
  if (ref.startsWith('env:') && /^[A-Za-z_][A-Za-z0-9_]*$/.test(ref.slice(4))) return { env: ref.slice(4) };
  if (ref.startsWith('file:') && ref.length > 5) return { file: ref.slice(5) };
  throw new StartupError(
    'CONFIG_INVALID',
    `${where}: a secret reference is env:<VARIABLE> or file:<path>, got "${ref.slice(0, 40)}"`,
  );
}

export function createSecretResolver(env: Environment = process.env): SecretResolver {
  return (where, source, required) => {
    let name = source.env;
    let file = source.file;
    if (source.ref) {
      const parsed = parseSecretRef(where, source.ref);
      if ('env' in parsed) name = parsed.env;
      else file = parsed.file;
    }
    if (name) {
      const v = env[name];
      if ((v === undefined || v === '') && source.envMayBeUnset) return null;
      if (v === undefined || v.trim() === '')
        throw new StartupError('CONFIG_INVALID', `${where}: environment variable ${name} is not set`);
      return v.trim();
    }
    if (file) {
      try {
        return readFileSync(file, 'utf8').trim();
      } catch (e) {
        throw new StartupError('CONFIG_INVALID', `${where}: cannot read ${file}: ${(e as Error).message}`);
      }
    }
    if (source.inline) return source.inline;
    if (required)
      throw new StartupError(
        'CONFIG_INVALID',
        `${where}: set the secret as env:<VARIABLE> or file:<path> (or through its *Env / *File key)`,
      );
    return null;
  };
}

/** Resolves against the process environment: what the CLI uses. */
export const processSecrets: SecretResolver = createSecretResolver();
