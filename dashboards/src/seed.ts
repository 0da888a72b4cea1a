import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ApiEvent,
  ChdbStore,
  type DlqRecord,
  exampleFinding,
  type Finding,
  loadConfig,
  type NotificationDeliveryRecord,
  type ResponseActionAudit,
} from '@apiwatch/core';
import { DETECTORS } from '@apiwatch/detectors';
import {
  buildCorpus,
  corpusReader,
  detectFindings,
  parseCorpus,
  renderCorpus,
} from '@apiwatch/test/eval/index.ts';

const DAY = 86_400_000;

/**
 * Seed data for the dashboard tests and the static screenshots, through the store's real insert
 * path (ChdbStore.insertEvents / insertFindings / insertAudit / insertDeadLetters, migrations as
 * shipped):
 *
 * - events: the labelled evaluation corpus (test/src/eval) — two weeks of benign traffic over five
 *   APIs with one attack of every catalogue kind in the last week — rendered as Kong log records
 *   and parsed back by the real Kong parser, identity and route stages;
 * - findings: what the real detection engine (DetectionEngine, default config) raises on those
 *   events, firing and resolved updates; families the small corpus does not trigger (BOLA, spec,
 *   volume at this scale) get one hand-made finding each naming a real actor and route of the
 *   corpus, so every panel has a row to check;
 * - response actions: a revocation of the busiest API-key credential half-way through its
 *   activity (so "revoked keys still seen" has rows), plus a dry run and a refused action;
 * - dead letters: a few records with the codes the ingest path uses;
 * - notification deliveries (notification_deliveries, through ChdbStore.insertDeliveries): one
 *   notification per finding update to each of three receivers, with the outcomes the delivery
 *   queues record — a chat receiver that always accepts, a pager that answers 503 to every fourth
 *   first attempt (retried, then delivered), a SIEM webhook that rejects every ninth with 400
 *   (dead-lettered at once) and is down for every sixth (three 500s, dead-lettered).
 */
export interface Seeded {
  store: ChdbStore;
  dir: string;
  start: number;
  end: number;
  scoredStart: number;
  events: ApiEvent[];
  findings: Finding[];
  /** Findings the detection engine produced (the rest were added by hand). */
  detected: number;
  revokedRef: string;
  close(): Promise<void>;
}

export interface SeedOptions {
  seed?: number;
  weeks?: number;
  scale?: number;
}

export async function seedStore(options: SeedOptions = {}): Promise<Seeded> {
  const config = loadConfig(undefined);
  // The corpus ends at the last Monday before today: recent enough for the tables' TTLs
  // (dead_letters keeps 30 days), the same weekdays and hours every day the test runs.
  const weeks = options.weeks ?? 2;
  const lastMonday = Math.floor(Date.now() / DAY) * DAY - ((new Date().getUTCDay() + 6) % 7) * DAY;
  const corpus = buildCorpus({
    startMs: lastMonday - weeks * 7 * DAY,
    seed: options.seed ?? 11,
    weeks,
    scale: options.scale ?? 0.015,
    perKind: 1,
  });
  const parsed = parseCorpus(corpus, renderCorpus(corpus, 'kong'), corpusReader('kong', config), 'kong');
  const events = parsed.events;
  // The evaluation reader stamps one fixed ingest time (detectors do not judge it); a pipeline
  // health panel does, so give each event the 0.2–1.2 s a collector adds.
  events.forEach((e, i) => {
    e.ingestTs = e.ts + 200 + ((i * 7919) % 1000);
  });
  // Auth and recon detectors only: on this corpus the BOLA, spec and volume detectors that
  // landed later cost minutes of CPU (over the test's budget); those families get one
  // hand-made finding each below.
  const detectors: Record<string, unknown> = { ...config.detect.detectors };
  for (const d of DETECTORS) if (!/^(auth|recon)\./.test(d.id)) detectors[d.id] = { enabled: false };
  const detected = await detectFindings(events, { ...config.detect, detectors } as typeof config.detect);
  const findings = [...detected, ...handMadeFindings(events, detected)];

  const dir = mkdtempSync(join(tmpdir(), 'apiwatch-dashboards-'));
  const store = new ChdbStore({ path: join(dir, 'db'), stagingRoot: dir });
  await store.start();
  for (let i = 0; i < events.length; i += 20_000) await store.insertEvents(events.slice(i, i + 20_000));
  await store.insertFindings(findings);

  // The busiest credential with a revocable ref, revoked half-way through its calls.
  const byRef = new Map<string, ApiEvent[]>();
  for (const e of events) {
    const ref = e.identity.credential.ref;
    if (ref && e.identity.credential.kind !== 'jwt') byRef.set(ref, [...(byRef.get(ref) ?? []), e]);
  }
  const [revokedRef, calls] = [...byRef.entries()].sort((a, b) => b[1].length - a[1].length)[0] ?? ['', []];
  if (!revokedRef) throw new Error('seed: no event carries a revocable credential ref');
  const revokedAt = calls[Math.floor(calls.length / 2)]!.ts;
  const abuse = findings.find((f) => f.family === 'auth') ?? findings[0]!;
  const audit: ResponseActionAudit[] = [
    {
      ts: revokedAt,
      actionId: 'act-1',
      action: 'revoke',
      mode: 'auto',
      outcome: 'executed',
      targetKind: 'credential',
      targetRef: revokedRef,
      gateway: 'kong',
      findingId: abuse.id,
      findingFingerprint: abuse.fingerprint,
      detector: abuse.detector,
      initiatedBy: 'rule:auto-revoke',
      reason: 'credential abuse',
      responseStatus: 204,
      details: {},
    },
    ...findings
      .filter((f) => f.status === 'firing')
      .slice(0, 6)
      .map(
        (f, i): ResponseActionAudit => ({
          ts: f.lastSeen + 60_000,
          actionId: `act-${i + 2}`,
          action: i === 4 ? 'restore' : 'revoke',
          mode: i % 3 === 0 ? 'dry_run' : 'manual',
          outcome: (['skipped', 'executed', 'denied', 'failed', 'executed', 'skipped'] as const)[i]!,
          targetKind: f.entity.kind,
          targetRef: f.entity.ref ?? f.entity.id,
          gateway: 'kong',
          findingId: f.id,
          findingFingerprint: f.fingerprint,
          detector: f.detector,
          initiatedBy: i % 2 === 0 ? 'analyst:alice' : 'policy:auto',
          reason: f.title,
          responseStatus: [200, 204, 403, 502, 204, 200][i]!,
          details: {},
        }),
      ),
  ];
  await store.insertAudit(audit);
  const dlq: DlqRecord[] = [0, 1, 2, 3, 4].map((i) => ({
    ts: corpus.scoredStart + i * 3_600_000 * 7,
    source: i % 2 ? 'nginx' : 'kong',
    collector: null,
    code: [
      'PARSE_INVALID_JSON',
      'PARSE_MISSING_FIELD',
      'EVENT_INVALID',
      'PARSE_INVALID_JSON',
      'STORE_ROW_REJECTED',
    ][i]!,
    reason: 'seeded dead letter',
    raw: '{"truncated":',
  }));
  await store.insertDeadLetters(dlq);
  await store.insertDeliveries(seedDeliveries(findings));

  return {
    store,
    dir,
    start: corpus.start,
    end: corpus.end,
    scoredStart: corpus.scoredStart,
    events,
    findings,
    detected: detected.length,
    revokedRef,
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Delivery attempts for the findings' notifications (see seedStore). */
function seedDeliveries(findings: readonly Finding[]): NotificationDeliveryRecord[] {
  const out: NotificationDeliveryRecord[] = [];
  findings.forEach((f, i) => {
    const queuedAt = f.detectedAt + 500;
    const attempt = (
      receiver: string,
      n: number,
      outcome: NotificationDeliveryRecord['outcome'],
      httpStatus: number,
      afterMs: number,
    ): NotificationDeliveryRecord => ({
      ts: queuedAt + afterMs,
      notificationId: `n-${receiver}-${f.id}`.slice(0, 64),
      receiver,
      type: 'findings',
      groupKey: `${f.detector}/${f.tenant ?? ''}`,
      status: f.status,
      attempt: n,
      outcome,
      code:
        outcome === 'delivered'
          ? ''
          : httpStatus >= 500
            ? 'ALERT_DELIVERY_SERVER_ERROR'
            : 'ALERT_DELIVERY_REJECTED',
      httpStatus,
      sendMs: 80 + ((i * 37 + n * 11) % 400),
      queuedAt,
      findings: 1,
      error: outcome === 'delivered' ? '' : `HTTP ${httpStatus} from the receiver`,
    });
    out.push(attempt('slack-soc', 1, 'delivered', 200, 300 + (i % 7) * 90));
    if (i % 4 === 0)
      out.push(
        attempt('pagerduty-oncall', 1, 'retried', 503, 400),
        attempt('pagerduty-oncall', 2, 'delivered', 202, 1400 + (i % 5) * 200),
      );
    else out.push(attempt('pagerduty-oncall', 1, 'delivered', 202, 350 + (i % 5) * 60));
    if (i % 9 === 4) out.push(attempt('siem-webhook', 1, 'dead_lettered', 400, 250));
    else if (i % 6 === 5)
      out.push(
        attempt('siem-webhook', 1, 'retried', 500, 250),
        attempt('siem-webhook', 2, 'retried', 500, 2_250),
        attempt('siem-webhook', 3, 'dead_lettered', 500, 6_250),
      );
    else out.push(attempt('siem-webhook', 1, 'delivered', 204, 200 + (i % 3) * 50));
  });
  return out;
}

/** One finding per family the detectors did not raise, on a real actor and route of the corpus. */
function handMadeFindings(events: readonly ApiEvent[], detected: readonly Finding[]): Finding[] {
  const families = new Set(detected.map((f) => f.family));
  const withObjects = events.filter((e) => e.objects.length > 0 && e.identity.user);
  const sample = withObjects[Math.floor(withObjects.length * 0.9)] ?? events[events.length - 1]!;
  const last = events[events.length - 1]!.ts;
  const base = (detector: string, i: number): Partial<Finding> => ({
    id: `seed-${detector}`,
    fingerprint: `seed-fp-${detector}`,
    detector,
    title: detector,
    route: sample.request.route ?? sample.request.path,
    method: sample.request.method,
    tenant: sample.identity.tenant,
    firstSeen: last - (i + 2) * 3_600_000,
    lastSeen: last - (i + 1) * 3_600_000,
    detectedAt: last - (i + 1) * 3_600_000,
    labels: {},
  });
  const out: Finding[] = [];
  const user = sample.identity.user ?? 'unknown';
  const specs: Array<[string, Partial<Finding>]> = [
    [
      'bola.object_enumeration',
      {
        family: 'bola',
        severity: 'high',
        owasp: 'API1:2023',
        nist: 'authorization',
        entity: { kind: 'user', id: user, name: user, ref: null },
        summary: `user ${user} requested far more distinct objects than its peers.`,
      },
    ],
    [
      'spec.shadow_endpoint',
      {
        family: 'spec',
        severity: 'medium',
        owasp: 'API9:2023',
        nist: 'inventory',
        entity: {
          kind: 'endpoint',
          id: `${sample.request.method} ${sample.request.route}`,
          name: null,
          ref: null,
        },
        summary: 'an endpoint not in any spec answered 2xx.',
      },
    ],
    [
      'spec.zombie_endpoint',
      {
        family: 'spec',
        severity: 'low',
        owasp: 'API9:2023',
        nist: 'inventory',
        entity: {
          kind: 'endpoint',
          id: `${sample.request.method} ${sample.request.route}`,
          name: null,
          ref: null,
        },
        summary: 'a deprecated operation still receives calls.',
      },
    ],
    [
      'volume.route_spike',
      {
        family: 'volume',
        severity: 'medium',
        owasp: 'API4:2023',
        nist: 'rate-limiting',
        entity: {
          kind: 'endpoint',
          id: `${sample.request.method} ${sample.request.route}`,
          name: null,
          ref: null,
        },
        summary: 'calls far above the hour-of-week baseline.',
      },
    ],
  ];
  specs.forEach(([detector, f], i) => {
    if (families.has(f.family!) && detected.some((d) => d.detector === detector)) return;
    out.push(exampleFinding({ ...base(detector, i), ...f }));
  });
  return out;
}
