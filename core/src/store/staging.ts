import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { StartupError } from '../errors.ts';

/**
 * Where the embedded store stages insert batches for `file()` (raw event rows, for the few
 * milliseconds an insert takes). Not /dev/shm itself, where any local user can list, read and
 * outlive them: a directory of this store's own, `<root>/apiwatch-<uid>-<hash of the data
 * path>`, created 0700 (tightened to 0700 when it exists) and refused when it is not a plain
 * directory owned by this user (a symlink, someone else's); files
 * in it are created 0600 and exclusively. One directory per data directory, so the process that
 * holds the data directory's lock owns the staging directory too, and can remove what a
 * crashed run left behind at start without touching another instance's files.
 */

export function defaultStagingRoot(): string {
  return existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
}

export function stagingDirFor(root: string, dataPath: string): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  const hash = createHash('sha256').update(resolve(dataPath)).digest('hex').slice(0, 16);
  return join(root, `apiwatch-${uid}-${hash}`);
}

/** Creates the staging directory (0700) or checks the one there; removes every leftover file. */
export function cleanStagingDir(dir: string): number {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  const uid = typeof process.getuid === 'function' ? process.getuid() : st.uid;
  if (st.isDirectory() && st.uid === uid && (st.mode & 0o077) !== 0) chmodSync(dir, 0o700);
  else if (!st.isDirectory() || st.uid !== uid) {
    throw new StartupError(
      'STORE_STAGING_UNSAFE',
      `the store's staging directory ${dir} is not a private directory of this user (it must be a directory, owned by uid ${uid}, mode 0700); remove it and start again`,
    );
  }
  let removed = 0;
  for (const name of readdirSync(dir)) {
    unlinkSync(join(dir, name));
    removed++;
  }
  return removed;
}

/**
 * Staging files of apiwatch before 0.1 lived in the shared root itself as
 * `apiwatch-<pid>-<n>.tsv`; removes those of this user whose process is gone (a crash left
 * them, with raw event rows, readable by any local user).
 */
export function removeLegacyStagingFiles(root: string): number {
  const uid = typeof process.getuid === 'function' ? process.getuid() : null;
  let removed = 0;
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return 0;
  }
  for (const name of names) {
    const m = /^apiwatch-(\d+)-\d+\.tsv$/.exec(name);
    if (!m) continue;
    const file = join(root, name);
    try {
      const st = lstatSync(file);
      if (!st.isFile() || (uid !== null && st.uid !== uid)) continue;
      if (isAlive(Number(m[1]))) continue;
      unlinkSync(file);
      removed++;
    } catch {
      // Gone meanwhile, or not ours to remove.
    }
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
