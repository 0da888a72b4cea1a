import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ApiEvent, ChdbStore, type Config, type Finding } from '@apiwatch/core';
import { ReplayRunner } from '@apiwatch/detectors';

/**
 * Runs parsed events through detection exactly as `apiwatch replay` does: a ReplayRunner that
 * learns its baselines from the replayed history on event time (an embedded store under a
 * temporary directory, refreshed every detect.baselines.refreshMinutes), then finishes (drains
 * the reorder buffer, fires due timers).
 */
/** Progress lines are at most this often (wall clock: a long replay must show it is moving). */
const PROGRESS_MS = 15_000;

export async function detectFindings(
  events: readonly ApiEvent[],
  detect: Config['detect'],
  progress?: (line: string) => void,
): Promise<Finding[]> {
  const learn = detect.baselines.enabled;
  const tempDir = learn ? mkdtempSync(join(tmpdir(), 'apiwatch-eval-')) : null;
  const store = tempDir ? new ChdbStore(join(tempDir, 'chdb')) : null;
  try {
    if (store) await store.start();
    const runner = new ReplayRunner({ detect, baselineStore: store, sink: store });
    const out: Finding[] = [];
    let next = Date.now() + PROGRESS_MS;
    for (let i = 0; i < events.length; i++) {
      for (const f of await runner.push(events[i]!)) out.push(f);
      if (progress && (i & 1023) === 0 && Date.now() >= next) {
        next = Date.now() + PROGRESS_MS;
        progress(
          `detecting: ${Math.floor((100 * i) / events.length)}% of ${events.length} events (event time ${new Date(events[i]!.ts).toISOString().slice(0, 16)}Z), ${out.length} finding updates so far.`,
        );
      }
    }
    for (const f of await runner.finish()) out.push(f);
    return out;
  } finally {
    await store?.close();
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  }
}
