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
    'Events that arrived behind the watermark.',
    'counter',
    () => [{ value: c.late }],
  );
  metrics.register(
    'apiwatch_detect_evicted_actors_total',
    'Actor states evicted at detect.maxActors.',
    'counter',
    () => [{ value: c.evicted }],
  );
  metrics.register('apiwatch_detect_findings_total', 'Findings raised.', 'counter', () => [
    { value: c.findings },
  ]);
  metrics.register(
    'apiwatch_detect_buffered_events',
    'Events waiting in the reorder buffer.',
    'gauge',
    () => [{ value: engine.buffered }],
  );
  metrics.register('apiwatch_detect_actor_states', 'Per-actor states held by all detectors.', 'gauge', () => [
    { value: engine.stateSize() },
  ]);
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
