import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { Config } from '../config/schema.ts';
import { StartupError } from '../errors.ts';
import { ChdbStore } from './chdb.ts';
import { ClickHouseStore } from './clickhouse.ts';
import type { HttpEndpointUser } from './http-auth.ts';
import type { Store } from './types.ts';

/** The configured store (not started), or null for store.kind: none. */
export function createStoreFromConfig(config: Config, env: NodeJS.ProcessEnv = process.env): Store | null {
  const s = config.store;
  if (s.kind === 'none') return null;
  if (s.kind === 'clickhouse') {
    const ch = config.clickhouse;
    return new ClickHouseStore({
      url: ch.url,
      username: ch.username,
      password: env[ch.passwordEnv] ?? '',
      database: ch.database,
      cluster: ch.cluster,
      compression: ch.compression,
      requestTimeoutMs: ch.requestTimeoutMs,
      retention: s.retention,
    });
  }
  return new ChdbStore({
    path: resolve(s.chdb.path || join(config.dataDir, 'chdb')),
    retention: s.retention,
  });
}

/** store.http.users with their passwords resolved to SHA-256 (from the hash, or from the env variable). */
export function httpEndpointUsers(config: Config, env: NodeJS.ProcessEnv = process.env): HttpEndpointUser[] {
  return config.store.http.users.map((u) => {
    let hash = u.passwordSha256;
    if (!hash && u.passwordEnv) {
      const pw = env[u.passwordEnv];
      if (pw === undefined) {
        throw new StartupError(
          'CONFIG_INVALID',
          `store.http.users[${u.name}].passwordEnv: ${u.passwordEnv} is not set`,
        );
      }
      hash = createHash('sha256').update(pw).digest('hex');
    }
    if (!hash)
      throw new StartupError(
        'CONFIG_INVALID',
        `store.http.users[${u.name}]: set passwordSha256 or passwordEnv`,
      );
    return { name: u.name, passwordSha256: hash, readonly: u.readonly };
  });
}
