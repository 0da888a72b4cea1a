import { type Bus, type Config, type Finding, type Logger, metrics, type Subscription } from '@apiwatch/core';
import { DetectionEngine } from '@apiwatch/detectors';

/**
 * The detect role: consumes events, runs the detectors in event-time order and publishes
 * findings. A tick every 50 ms releases events held for allowedLatenessMs of wall-clock time,
 * which bounds the time from an event's arrival to its finding.
 */
export async function startDetectRole(
  config: Config,
  bus: Bus,
  log: Logger,
): Promise<{ engine: DetectionEngine; stop(): Promise<void> }> {
  const engine = new DetectionEngine(config.detect);
  const publish = async (findings: Finding[]) => {
    if (findings.length === 0) return;
    await bus.publish(
      'findings',
      findings.map((f) => ({ key: f.fingerprint, value: f })),
    );
    for (const f of findings) {
      log.info(
        {
          detector: f.detector,
          severity: f.severity,
          entity: `${f.entity.kind}:${f.entity.id}`,
          route: f.route,
          finding: f.id,
        },
        `finding: ${f.summary}`,
      );
    }
  };
  const sub: Subscription = await bus.subscribe('events', 'detect', async (batch) => {
    const now = Date.now();
    const findings: Finding[] = [];
    for (const m of batch) for (const f of engine.push(m.value, now)) findings.push(f);
    await publish(findings);
  });
  const timer = setInterval(() => {
    if (engine.buffered === 0) return;
    publish(engine.tick(Date.now())).catch((e: unknown) =>
      log.error({ err: e }, 'publishing findings failed.'),
    );
  }, 50);
  const c = engine.counters;
  metrics.register('apiwatch_detect_events_total', 'Events run through the detectors.', 'counter', () => [
    { value: c.events },
  ]);
  metrics.register(
    'apiwatch_detect_late_events_total',
    'Events that arrived behind their partition watermark.',
    'counter',
    () => [{ value: c.late }],
  );
  metrics.register(
    'apiwatch_detect_findings_total',
    'Finding updates emitted (firing and resolved).',
    'counter',
    () => [{ value: c.findings }],
  );
  metrics.register(
    'apiwatch_detect_buffered_events',
    'Events waiting in the reorder buffers.',
    'gauge',
    () => [{ value: engine.buffered }],
  );
  const perDetector = (
    name: string,
    help: string,
    type: 'counter' | 'gauge',
    pick: (s: ReturnType<DetectionEngine['stats']>[number]) => number,
  ) =>
    metrics.register(name, help, type, () =>
      engine.stats().map((s) => ({ labels: { detector: s.id }, value: pick(s) })),
    );
  perDetector(
    'apiwatch_detect_detector_events_total',
    'Events a detector keyed and handled.',
    'counter',
    (s) => s.events,
  );
  perDetector(
    'apiwatch_detect_detector_findings_total',
    'Finding updates a detector emitted (firing and resolved).',
    'counter',
    (s) => s.findings,
  );
  perDetector(
    'apiwatch_detect_suppressed_findings_total',
    'Findings dropped by detect.suppressions.',
    'counter',
    (s) => s.suppressed,
  );
  perDetector('apiwatch_detect_state_keys', 'Keys in the detector state store.', 'gauge', (s) => s.keys);
  perDetector(
    'apiwatch_detect_state_evictions_total',
    'Keys evicted at detect.maxActors (LRU).',
    'counter',
    (s) => s.evictions,
  );
  perDetector(
    'apiwatch_detect_state_expired_total',
    'Keys dropped after the detector idle time.',
    'counter',
    (s) => s.expired,
  );
  perDetector(
    'apiwatch_detect_detector_errors_total',
    'Events a detector threw on (skipped).',
    'counter',
    (s) => s.errors,
  );
  metrics.register(
    'apiwatch_detect_state_bytes',
    'Approximate bytes of detector state (sampled).',
    'gauge',
    () =>
      [...engine.stateBytes()].map(([detector, value]) => ({
        labels: { detector },
        value: Math.round(value),
      })),
  );
  log.info({ detectors: engine.detectorIds }, 'detect role consuming events.');
  return {
    engine,
    async stop() {
      clearInterval(timer);
      await sub.close();
      await publish(engine.drain());
    },
  };
}
