import type { Bus, Config, Finding, Logger, Subscription } from '@apiwatch/core';
import { DetectionEngine } from '@apiwatch/detectors';

/**
 * The detect role: consumes events, runs the detectors in event-time order and publishes
 * findings. When events stop arriving the watermark cannot advance, so after
 * allowedLatenessMs of wall-clock quiet the reorder buffer is drained.
 */
export async function startDetectRole(
  config: Config,
  bus: Bus,
  log: Logger,
): Promise<{ engine: DetectionEngine; stop(): Promise<void> }> {
  const engine = new DetectionEngine(config.detect);
  let lastEventAt = Date.now();
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
    lastEventAt = Date.now();
    const findings: Finding[] = [];
    for (const m of batch) for (const f of engine.push(m.value)) findings.push(f);
    await publish(findings);
  });
  const idleMs = Math.max(50, config.detect.allowedLatenessMs);
  const timer = setInterval(
    () => {
      if (engine.buffered > 0 && Date.now() - lastEventAt >= idleMs) {
        publish(engine.drain()).catch((e: unknown) => log.error({ err: e }, 'publishing findings failed.'));
      }
    },
    Math.min(idleMs, 250),
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
