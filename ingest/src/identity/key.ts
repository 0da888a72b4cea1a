import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createIdentityContext, type IdentityContext } from './context.ts';

/**
 * The fingerprint key: `APIWATCH_FINGERPRINT_KEY` (hex or base64, >= 16 bytes), else the file
 * `APIWATCH_FINGERPRINT_KEY_FILE`, else `<dataDir>/fingerprint-key`, created on first use. Every
 * ingest replica must share it so one credential has one fingerprint everywhere.
 */
export function loadIdentityContext(dataDir: string, env: NodeJS.ProcessEnv = process.env): IdentityContext {
  const fromEnv = env.APIWATCH_FINGERPRINT_KEY;
  if (fromEnv) return createIdentityContext(decodeKey(fromEnv, 'APIWATCH_FINGERPRINT_KEY'), env.APIWATCH_FINGERPRINT_KEY_ID ?? 'k1');
  const file = env.APIWATCH_FINGERPRINT_KEY_FILE ?? join(dataDir, 'fingerprint-key');
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  }
  return createIdentityContext(decodeKey(readFileSync(file, 'utf8').trim(), file), env.APIWATCH_FINGERPRINT_KEY_ID ?? 'k1');
}

function decodeKey(text: string, origin: string): Buffer {
  const key = /^[0-9a-f]+$/i.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (key.length < 16) throw new Error(`${origin}: the fingerprint key must be at least 16 bytes`);
  return key;
}
