import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type IdentityConfigValue, StartupError } from '@apiwatch/core';
import { createIdentityContext, type FingerprintKey, type IdentityContext } from './context.ts';

/**
 * The fingerprint key: `APIWATCH_FINGERPRINT_KEY` (hex or base64, >= 16 bytes), else the file
 * `APIWATCH_FINGERPRINT_KEY_FILE`, else `<dataDir>/fingerprint-key`, created on first use. Every
 * ingest replica must share it so one credential has one fingerprint everywhere. Its id is
 * `APIWATCH_FINGERPRINT_KEY_ID` (default `k1`).
 *
 * Rotation (docs/identity.md): give the new key a new id and, during the overlap, set the old one
 * as `APIWATCH_FINGERPRINT_PREVIOUS_KEY` (or `_PREVIOUS_KEY_FILE`) with `_PREVIOUS_KEY_ID`; every
 * secret is then fingerprinted under both and the pairs can be drained from the context.
 *
 * `identity` is the config section with the mapping rules; `source` picks a per-source override
 * (the CLI passes the `--format` id).
 */
export function loadIdentityContext(
  dataDir: string,
  env: NodeJS.ProcessEnv = process.env,
  identity?: IdentityConfigValue,
  source?: string,
): IdentityContext {
  const current = loadKey(env, 'APIWATCH_FINGERPRINT_KEY', join(dataDir, 'fingerprint-key'), 'k1');
  if (!current)
    throw new Error('unreachable: the current fingerprint key always resolves (a default file is created)');
  const previous = loadKey(env, 'APIWATCH_FINGERPRINT_PREVIOUS_KEY', null, null);
  try {
    return createIdentityContext(current.key, current.keyId, { identity, source: source ?? null, previous });
  } catch (e) {
    throw new StartupError('CONFIG_INVALID', (e as Error).message);
  }
}

/**
 * `<prefix>` (the key itself), else `<prefix>_FILE`, else `defaultFile` (created when missing);
 * the id comes from `<prefix>_ID`. Null when nothing is configured and there is no default file.
 */
function loadKey(
  env: NodeJS.ProcessEnv,
  prefix: string,
  defaultFile: string | null,
  defaultId: string | null,
): FingerprintKey | null {
  const keyId = env[`${prefix}_ID`] ?? defaultId;
  const inline = env[prefix];
  const file = env[`${prefix}_FILE`] ?? defaultFile;
  if (!inline && !file) return null;
  if (!keyId) {
    throw new StartupError(
      'CONFIG_INVALID',
      `${prefix} is set: also set ${prefix}_ID, the id its fingerprints carry`,
    );
  }
  if (inline) return { key: decodeKey(inline, prefix), keyId };
  const path = file as string;
  if (!existsSync(path)) {
    if (path !== defaultFile)
      throw new StartupError('CONFIG_FILE_UNREADABLE', `${prefix}_FILE: ${path} does not exist`);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  }
  return { key: decodeKey(readFileSync(path, 'utf8').trim(), path), keyId };
}

function decodeKey(text: string, origin: string): Buffer {
  const key = /^[0-9a-f]+$/i.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (key.length < 16)
    throw new StartupError('CONFIG_INVALID', `${origin}: the fingerprint key must be at least 16 bytes`);
  return key;
}
