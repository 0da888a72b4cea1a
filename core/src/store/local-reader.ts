import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from '@clickhouse/client';
import type { Logger } from '../log.ts';
import type { ChdbStore } from './chdb.ts';
import type { EndpointExecutor } from './factory.ts';
import { type HttpEndpoint, startClickhouseHttpEndpoint } from './http-endpoint.ts';

/**
 * The embedded store's local reader. chDB holds its data directory with a file lock, so while
 * `apiwatch start` runs, no other process can open the store: `apiwatch findings`, `store stats`
 * and `demo` would have nothing to read. The server therefore serves the store read-only on an
 * ephemeral 127.0.0.1 port, as one generated read-only user, and writes where and how to connect
 * to `<dataDir>/store-reader.json` (mode 0600, like the collector token beside it; removed at a
 * clean stop). The read-only user gets the same statement policy as any `store.http` reader
 * (docs/store.md, Security): SELECT and friends over the apiwatch tables only.
 */

export const LOCAL_READER_USER = 'apiwatch-local';
const FILE = 'store-reader.json';

interface LocalReaderFile {
  pid: number;
  url: string;
  user: string;
  password: string;
}

export interface LocalReader {
  url: string;
  close(): Promise<void>;
}

export async function startLocalReader(store: ChdbStore, dataDir: string, log: Logger): Promise<LocalReader> {
  const password = randomBytes(24).toString('base64url');
  const endpoint: HttpEndpoint = await startClickhouseHttpEndpoint({
    store,
    host: '127.0.0.1',
    port: 0,
    users: [
      {
        name: LOCAL_READER_USER,
        passwordSha256: createHash('sha256').update(password).digest('hex'),
        readonly: true,
      },
    ],
    maxBodyBytes: 1024 * 1024,
    log,
  });
  const path = join(dataDir, FILE);
  const body: LocalReaderFile = { pid: process.pid, url: endpoint.url, user: LOCAL_READER_USER, password };
  // Written whole, then renamed: a reader never sees half a file.
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(body)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
  return {
    url: endpoint.url,
    async close() {
      try {
        const current = JSON.parse(readFileSync(path, 'utf8')) as LocalReaderFile;
        if (current.pid === process.pid) rmSync(path, { force: true });
      } catch {
        // Already gone.
      }
      await endpoint.close();
    },
  };
}

/** The running server's local reader, or why there is none. */
export function localReaderExecutor(dataDir: string): EndpointExecutor | { reason: string } {
  const path = join(dataDir, FILE);
  let file: LocalReaderFile;
  try {
    file = JSON.parse(readFileSync(path, 'utf8')) as LocalReaderFile;
  } catch {
    return { reason: `${path} does not exist (store.localReader is off, or the server is not running)` };
  }
  try {
    process.kill(file.pid, 0);
  } catch {
    return { reason: `${path} names pid ${file.pid}, which is not running` };
  }
  const client = createClient({ url: file.url, username: file.user, password: file.password });
  return {
    url: file.url,
    user: file.user,
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
