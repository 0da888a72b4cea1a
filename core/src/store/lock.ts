import { readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { StartupError } from '../errors.ts';

/**
 * Who holds an embedded data directory. libchdb writes `<path>/status` ("PID: n", "Started at:
 * …") and keeps it locked while a process has the directory open; a second process only gets a
 * bare "Failed to create connection". The PID in the file names the holder when that process is
 * alive and is not this one.
 */
export interface DataDirHolder {
  pid: number;
  startedAt: string | null;
}

export function dataDirHolder(path: string): DataDirHolder | null {
  let text: string;
  try {
    text = readFileSync(join(path, 'status'), 'utf8');
  } catch {
    return null;
  }
  const pid = Number(/^PID:\s*(\d+)/m.exec(text)?.[1]);
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return null;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return null;
  }
  // A stale status file whose PID was recycled (by any process, another node among them) is not
  // a holder: on Linux the holder has the status file open, which /proc shows.
  if (!holdsFile(pid, join(path, 'status'))) return null;
  return { pid, startedAt: /^Started at:\s*(.+)$/m.exec(text)?.[1]?.trim() ?? null };
}

export class StoreLockedError extends StartupError {
  readonly holder: DataDirHolder;
  readonly dataPath: string;
  constructor(path: string, holder: DataDirHolder) {
    super(
      'STORE_DATA_DIR_LOCKED',
      `another apiwatch (pid ${holder.pid}${holder.startedAt ? `, started ${holder.startedAt}` : ''}) holds the data directory ${path}; stop it first, or give this one another dataDir / store.chdb.path`,
    );
    this.holder = holder;
    this.dataPath = path;
  }
}

/** Whether `pid` has `file` open; true when /proc cannot tell (no /proc, another user's process). */
function holdsFile(pid: number, file: string): boolean {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ENOENT' || !existsProc();
  }
  let target: string;
  try {
    target = realpathSync(file);
  } catch {
    return false;
  }
  for (const fd of fds) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) === target) return true;
    } catch {
      // The descriptor closed while we looked.
    }
  }
  return false;
}

function existsProc(): boolean {
  try {
    readdirSync('/proc/self/fd');
    return true;
  } catch {
    return false;
  }
}
