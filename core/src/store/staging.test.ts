import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { syntheticEvents } from '@apiwatch/test';
import { drainPending } from 'chdb';
import { ChdbStore } from './chdb.ts';
import { stagingDirFor } from './staging.ts';

/** Issue 7 §3: staging files hold raw event rows; they live 0600 in a private 0700 directory. */
const root = mkdtempSync(join(tmpdir(), 'apiwatch-staging-'));
after(async () => {
  await drainPending();
  rmSync(root, { recursive: true, force: true });
});

test('leftovers of a crashed run are removed at start; the directory is 0700 and files 0600', async () => {
  const path = join(root, 'db');
  const staging = stagingDirFor(root, path);
  // What a crash left: the directory (too open) and a batch of raw rows.
  mkdirSync(staging, { recursive: true, mode: 0o755 });
  writeFileSync(join(staging, '4242-7.tsv'), 'raw event row with a bearer token\n');
  // And what an older apiwatch left in the shared root itself, from a process that is gone.
  writeFileSync(join(root, 'apiwatch-2147480000-3.tsv'), 'raw event row\n');
  const store = new ChdbStore({ path, stagingRoot: root });
  await store.start();
  try {
    assert.equal(store.stagingDirectory, staging);
    assert.deepEqual(readdirSync(staging), [], 'leftovers removed');
    assert.equal(existsSync(join(root, 'apiwatch-2147480000-3.tsv')), false, 'legacy leftover removed');
    assert.equal(statSync(staging).mode & 0o777, 0o700);
    const seen = await store.withStagedFile('x', 'tsv', async (file) => ({
      dir: join(file, '..'),
      mode: statSync(file).mode & 0o777,
    }));
    assert.equal(seen.dir, staging);
    assert.equal(seen.mode, 0o600);
    await store.insertEvents(syntheticEvents(50, { seed: 1, startMs: Date.now() - 60_000 }));
    assert.deepEqual(readdirSync(staging), [], 'an insert leaves nothing behind');
    const [row] = await store.query<{ n: string }>('SELECT count() AS n FROM api_events');
    assert.equal(Number(row!.n), 50);
  } finally {
    await store.close();
  }
  // Nothing is written straight into the shared root any more.
  assert.deepEqual(
    readdirSync(root).filter((n) => n.endsWith('.tsv')),
    [],
  );
});

test('a staging path that is a symlink is refused', async () => {
  const path = join(root, 'db2');
  const staging = stagingDirFor(root, path);
  mkdirSync(join(root, 'elsewhere'));
  symlinkSync(join(root, 'elsewhere'), staging);
  const store = new ChdbStore({ path, stagingRoot: root });
  await assert.rejects(
    () => store.start(),
    (e: Error & { code?: string }) => e.code === 'STORE_STAGING_UNSAFE',
  );
  await store.close();
});
