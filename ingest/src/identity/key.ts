import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  type Config,
  type IdentityConfigValue,
  processSecrets,
  type SecretResolver,
  StartupError,
} from '@apiwatch/core';
import { createIdentityContext, type FingerprintKey, type IdentityContext } from './context.ts';

/**
 * The fingerprint key: `identity.fingerprintKey.secret` (env:NAME or file:path, hex or base64,
 * >= 16 bytes; set by `APIWATCH_FINGERPRINT_KEY` or `APIWATCH_FINGERPRINT_KEY_FILE`), else
 * `<dataDir>/fingerprint-key`, created on first use. Every ingest replica must share it so one
 * credential has one fingerprint everywhere. Its id is `identity.fingerprintKey.id` (default
 * `k1`, env `APIWATCH_FINGERPRINT_KEY_ID`).
 *
 * Rotation (docs/identity.md): give the new key a new id and, during the overlap, set the old one
 * as `identity.previousFingerprintKey` (env `APIWATCH_FINGERPRINT_PREVIOUS_KEY` or `…_FILE`, with
 * `…_ID`); every secret is then fingerprinted under both and the pairs can be drained from the context.
 *
 * The `identity` config section also holds the mapping rules; `source` picks a per-source
 * override (the CLI passes the `--format` id).
 */
export function loadIdentityContext(
  config: Pick<Config, 'dataDir' | 'identity'>,
  secrets: SecretResolver = processSecrets,
  source?: string,
): IdentityContext {
  const identity = config.identity;
  const current = loadKey(identity, 'current', secrets, join(config.dataDir, 'fingerprint-key'));
  if (!current)
    throw new Error('unreachable: the current fingerprint key always resolves (a default file is created)');
  const previous = loadKey(identity, 'previous', secrets, null);
  try {
    return createIdentityContext(current.key, current.keyId, { identity, source: source ?? null, previous });
  } catch (e) {
    throw new StartupError('CONFIG_INVALID', (e as Error).message);
  }
}

/**
 * The configured secret, else `defaultFile` (created when missing). Null when nothing is
 * configured and there is no default file.
 */
function loadKey(
  identity: IdentityConfigValue,
  which: 'current' | 'previous',
  secrets: SecretResolver,
  defaultFile: string | null,
): FingerprintKey | null {
  const where = which === 'current' ? 'identity.fingerprintKey' : 'identity.previousFingerprintKey';
  const { secret, id } = which === 'current' ? identity.fingerprintKey : identity.previousFingerprintKey;
  if (!secret && !defaultFile) return null;
  if (!id) {
    throw new StartupError(
      'CONFIG_INVALID',
      `${where}.secret is set: also set ${where}.id (APIWATCH_FINGERPRINT_PREVIOUS_KEY_ID), the id its fingerprints carry`,
    );
  }
  if (secret) {
    const text = secrets(`${where}.secret`, { ref: secret }, true) as string;
    return { key: decodeKey(text, `${where}.secret`), keyId: id };
  }
  const path = defaultFile as string;
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  }
  return { key: decodeKey(readFileSync(path, 'utf8').trim(), path), keyId: id };
}

function decodeKey(text: string, origin: string): Buffer {
  const key = /^[0-9a-f]+$/i.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (key.length < 16)
    throw new StartupError('CONFIG_INVALID', `${origin}: the fingerprint key must be at least 16 bytes`);
  return key;
}
