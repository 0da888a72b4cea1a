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
export async function detectFindings(
  events: readonly ApiEvent[],
  detect: Config['detect'],
): Promise<Finding[]> {
  const learn = detect.baselines.enabled;
  const tempDir = learn ? mkdtempSync(join(tmpdir(), 'apiwatch-eval-')) : null;
  const store = tempDir ? new ChdbStore(join(tempDir, 'chdb')) : null;
  try {
    if (store) await store.start();
    const runner = new ReplayRunner({ detect, baselineStore: store, sink: store });
    const out: Finding[] = [];
    for (const e of events) for (const f of await runner.push(e)) out.push(f);
    for (const f of await runner.finish()) out.push(f);
    return out;
  } finally {
    await store?.close();
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  }
}
