import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { createClient } from '@clickhouse/client';
import type { ClickhouseConfigValue, Config, StoreHttpUserConfig } from '../config/schema.ts';
import { processSecrets, type SecretResolver } from '../config/secrets.ts';
import { StartupError } from '../errors.ts';
import { ChdbStore } from './chdb.ts';
import { ClickHouseStore } from './clickhouse.ts';
import type { HttpEndpointUser } from './http-auth.ts';
import { localReaderExecutor } from './local-reader.ts';
import type { SqlExecutor } from './migrate.ts';
import type { Store } from './types.ts';

/** The configured store (not started), or null for store.kind: none. */
export function createStoreFromConfig(
  config: Config,
  secrets: SecretResolver = processSecrets,
): Store | null {
  const s = config.store;
  if (s.kind === 'none') return null;
  if (s.kind === 'clickhouse') {
    const ch = config.clickhouse;
    return new ClickHouseStore({
      url: ch.url,
      username: ch.username,
      password: clickhousePassword(ch, secrets),
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

/** The ClickHouse password: passwordFile, else passwordEnv; an unset default variable means none. */
export function clickhousePassword(
  ch: ClickhouseConfigValue,
  secrets: SecretResolver = processSecrets,
): string {
  const where = ch.passwordFile ? 'clickhouse.passwordFile' : 'clickhouse.passwordEnv';
  return (
    secrets(
      where,
      ch.passwordFile ? { file: ch.passwordFile } : { env: ch.passwordEnv, envMayBeUnset: true },
      false,
    ) ?? ''
  );
}

/** One store.http user's password (passwordFile or passwordEnv); null when neither is set. */
function httpUserPassword(u: StoreHttpUserConfig, secrets: SecretResolver): string | null {
  return secrets(`store.http.users[${u.name}]`, { env: u.passwordEnv, file: u.passwordFile }, false);
}

/** store.http.users with their passwords resolved to SHA-256 (from the hash, or from the secret). */
export function httpEndpointUsers(
  config: Config,
  secrets: SecretResolver = processSecrets,
): HttpEndpointUser[] {
  return config.store.http.users.map((u) => {
    let hash = u.passwordSha256;
    if (!hash) {
      const pw = httpUserPassword(u, secrets);
      if (pw !== null) hash = createHash('sha256').update(pw).digest('hex');
    }
    if (!hash)
      throw new StartupError(
        'CONFIG_INVALID',
        `store.http.users[${u.name}]: set passwordSha256, passwordEnv or passwordFile`,
      );
    return { name: u.name, passwordSha256: hash, readonly: u.readonly };
  });
}

/** A running server's ClickHouse-compatible endpoint, as a SqlExecutor for the CLI's read commands. */
export interface EndpointExecutor extends SqlExecutor {
  url: string;
  user: string;
  close(): Promise<void>;
}

/**
 * Connects to the store endpoint (store.http) of the apiwatch that holds the data directory,
 * as the first configured user whose password is in this environment (read-only users first);
 * or says why it cannot.
 */
export function runningEndpointExecutor(
  config: Config,
  secrets: SecretResolver = processSecrets,
): EndpointExecutor | { reason: string } {
  const http = config.store.http;
  // The embedded server's own local reader first (store.localReader): it needs no set-up.
  const local = localReaderExecutor(resolve(config.dataDir));
  if (!('reason' in local)) return local;
  if (!http.enabled) return { reason: `store.http.enabled is false in this config, and ${local.reason}` };
  const users = [...http.users].sort((a, b) => Number(b.readonly) - Number(a.readonly));
  // A user whose password cannot be resolved here (its variable unset, its file unreadable) is skipped.
  const resolvable = (u: StoreHttpUserConfig) => {
    try {
      return { name: u.name, password: httpUserPassword(u, secrets) };
    } catch {
      return null;
    }
  };
  const user = users.map(resolvable).find((u) => u?.password != null);
  if (!user) {
    return {
      reason: `no store.http.users entry has its password (passwordEnv variable or passwordFile) available here, and ${local.reason}`,
    };
  }
  const host = http.listen.host === '0.0.0.0' || http.listen.host === '::' ? '127.0.0.1' : http.listen.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${http.listen.port}`;
  const client = createClient({ url, username: user.name, password: user.password ?? '' });
  return {
    url,
    user: user.name,
    async exec(sql, settings = {}) {
      await client.command({ query: sql, clickhouse_settings: settings });
    },
    async query<T>(sql: string, params: Record<string, unknown> = {}): Promise<T[]> {
      const rs = await client.query({ query: sql, query_params: params, format: 'JSONEachRow' });
      return rs.json<T>();
    },
    close: () => client.close(),
  };
}
