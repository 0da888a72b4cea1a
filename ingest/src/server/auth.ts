import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface CollectorCredential {
  id: string;
  tokenSha256: string;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Matches a bearer token against the configured hashes in constant time; returns the collector id. */
export function authenticateCollector(
  header: string | undefined,
  collectors: readonly CollectorCredential[],
): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)$/i.exec(header.trim());
  if (!m) return null;
  const digest = Buffer.from(sha256Hex(m[1]!), 'hex');
  let found: string | null = null;
  for (const c of collectors) {
    if (timingSafeEqual(digest, Buffer.from(c.tokenSha256, 'hex'))) found = c.id;
  }
  return found;
}

/**
 * With no collectors configured, the embedded default still requires a token: one is generated
 * into `<dataDir>/collector-token` (mode 0600) on first start, and `apiwatch collect` reads it.
 */
export function defaultCollectorToken(dataDir: string): {
  file: string;
  token: string;
  credential: CollectorCredential;
} {
  const file = join(dataDir, 'collector-token');
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
  }
  const token = readFileSync(file, 'utf8').trim();
  return { file, token, credential: { id: 'local', tokenSha256: sha256Hex(token) } };
}
