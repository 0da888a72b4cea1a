import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { TestContext } from 'node:test';

/** The absolute path of an executable on PATH (plus the sbin directories Debian puts daemons in), or null. */
export function findBinary(name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * Returns the binary's path when it is installed; otherwise skips the test with a loud reason
 * (or fails it when APIWATCH_REQUIRE_SERVICES=1, as in CI), like `requireService`.
 */
export function requireBinary(t: TestContext, name: string, aptPackage: string = name): string | null {
  const path = findBinary(name);
  if (path) return path;
  const reason = `${name} is not installed; install it with: apt-get install -y ${aptPackage}`;
  if (process.env.APIWATCH_REQUIRE_SERVICES === '1')
    throw new Error(`APIWATCH_REQUIRE_SERVICES=1 and ${reason}`);
  process.stderr.write(`\n*** SKIPPING ${t.name}: ${reason} ***\n\n`);
  t.skip(reason);
  return null;
}
