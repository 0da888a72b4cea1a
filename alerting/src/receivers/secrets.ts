import { readFileSync } from 'node:fs';
import { StartupError } from '@apiwatch/core';

/**
 * The one secret resolver for receivers and revokers: a secret (webhook URL, routing key,
 * signing secret, admin token) comes from an environment variable or a file, never from the YAML.
 * `env` is handed in by the config loader's caller (the CLI), so this never reads process.env.
 */
export interface SecretSource {
  env?: string | undefined;
  file?: string | undefined;
  /** A non-secret inline value the schema allows (e.g. a Slack URL in a test config). */
  inline?: string | undefined;
}

export type SecretResolver = (where: string, source: SecretSource, required: boolean) => string | null;

export function createSecretResolver(env: Readonly<Record<string, string | undefined>>): SecretResolver {
  return (where, source, required) => {
    if (source.env) {
      const v = env[source.env];
      if (!v)
        throw new StartupError('CONFIG_INVALID', `${where}: environment variable ${source.env} is not set`);
      return v.trim();
    }
    if (source.file) {
      try {
        return readFileSync(source.file, 'utf8').trim();
      } catch (e) {
        throw new StartupError(
          'CONFIG_INVALID',
          `${where}: cannot read ${source.file}: ${(e as Error).message}`,
        );
      }
    }
    if (source.inline) return source.inline;
    if (required)
      throw new StartupError('CONFIG_INVALID', `${where}: set the secret through an *Env or *File key`);
    return null;
  };
}
