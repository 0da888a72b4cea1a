import type { ApiEvent, Config, Finding } from '@apiwatch/core';
import { DetectionEngine } from '@apiwatch/detectors';

/**
 * Runs parsed events through the detection engine exactly as `apiwatch replay` does: in order,
 * on event time, then drains the reorder buffer at the end.
 */
export async function detectFindings(
  events: readonly ApiEvent[],
  detect: Config['detect'],
): Promise<Finding[]> {
  const engine = new DetectionEngine(detect);
  const out: Finding[] = [];
  for (const e of events) for (const f of engine.push(e)) out.push(f);
  for (const f of engine.drain()) out.push(f);
  return out;
}
