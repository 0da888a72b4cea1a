import { loadConfig } from '@apiwatch/core';
import { DetectionEngine } from '@apiwatch/detectors';
import { createIdentityContext, findParser } from '@apiwatch/ingest';
import { nginxTraffic } from '../src/traffic.ts';
import { type BenchResult, medianRate } from './types.ts';

/**
 * Embedded replay throughput: NGINX JSON lines → parser → identity → detection engine (with the
 * reorder buffer), on one core, against the raw floor of JSON.parse over the same lines.
 */
export async function run(): Promise<BenchResult[]> {
  const lines = nginxTraffic({
    seed: 42,
    start: Date.UTC(2026, 0, 5),
    benignEvents: 200_000,
    attackerIp: '203.0.113.5',
    attackAttempts: 200,
  });
  const parser = findParser('nginx')!;
  const identity = createIdentityContext(Buffer.alloc(32, 7), 'bench');
  const config = loadConfig(undefined, {});
  const floor = medianRate(5, lines.length, () => {
    for (const l of lines) JSON.parse(l);
  });
  let findings = 0;
  const replay = medianRate(5, lines.length, () => {
    const engine = new DetectionEngine(config.detect);
    const now = Date.now();
    for (const text of lines) {
      const r = parser.parse({ text, json: JSON.parse(text) }, { identity, gateway: null, now });
      if (!r.ok) throw new Error(r.error.message);
      for (const e of r.value) findings += engine.push(e).length;
    }
    findings += engine.drain().length;
  });
  if (findings === 0)
    throw new Error('the replay bench found no brute force: the benchmark is not measuring detection');
  return [
    {
      name: 'embedded replay (nginx JSON → parse → detect), events/s per core',
      value: replay,
      unit: 'events/s',
      floor,
      ratio: replay / floor,
      note: `floor = JSON.parse of the same ${lines.length.toLocaleString('en-US')} lines`,
    },
  ];
}

if (import.meta.main) {
  for (const r of await run()) console.log(r);
}
