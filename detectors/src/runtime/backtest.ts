import type { ApiEvent, DetectConfigValue, Finding } from '@apiwatch/core';
import type { BaselineQuerier } from '../baselines/types.ts';
import type { AnyDetector } from './define.ts';
import { ReplayRunner } from './replay.ts';

/**
 * `apiwatch backtest`: stored history through a candidate detect config, compared with what was
 * raised. Events are read back from api_events in (ts, id) pages and run on event time exactly
 * like a replay, with baselines refreshed from the same store on event-time boundaries (history
 * before each boundary only, so the candidate never sees the future). The stored event has no
 * spec annotation and a hashed id, so spec.* findings and sample event ids are not reproduced.
 */

const PAGE = 50_000;

interface EventRow {
  id_text: string;
  ts_ms: string | number;
  tenant: string;
  method: string;
  scheme: string;
  host: string;
  path: string;
  route: string;
  query_keys: string[];
  status: number;
  latency_ms: number;
  request_bytes: number;
  response_bytes: number;
  client_ip: string;
  peer_ip: string;
  user_agent: string;
  credential_kind: string;
  credential_fingerprint: string;
  credential_ref: string;
  credential_issuer: string;
  principal: string;
  service: string;
  user: string;
  scopes: string[];
  auth: string;
  object_names: string[];
  object_ids: string[];
  trace_id: string;
  span_id: string;
  source_kind: string;
  gateway: string;
  collector: string;
}

const EVENT_SQL = `
SELECT toString(id) AS id_text, toUnixTimestamp64Milli(ts) AS ts_ms, tenant, method, scheme, host, path, route,
  query_keys, status, latency_ms, request_bytes, response_bytes, client_ip, peer_ip, user_agent,
  credential_kind, credential_fingerprint, credential_ref, credential_issuer, principal, service,
  user, scopes, auth, object_names, object_ids, trace_id, span_id, source_kind, gateway, collector
FROM api_events FINAL
WHERE ts >= fromUnixTimestamp64Milli({fromMs:Int64}) AND ts < fromUnixTimestamp64Milli({toMs:Int64})
  AND (toUnixTimestamp64Milli(ts), id) > ({afterTs:Int64}, {afterId:UInt64})
ORDER BY ts, id
LIMIT {page:UInt32}`;

const orNull = (s: string) => (s === '' ? null : s);

export function eventFromRow(r: EventRow): ApiEvent {
  const ts = Number(r.ts_ms);
  return {
    schemaVersion: 1,
    id: `stored:${r.id_text}`,
    ts,
    ingestTs: ts,
    request: {
      method: r.method,
      scheme: orNull(r.scheme),
      host: orNull(r.host),
      path: r.path || '/',
      queryKeys: r.query_keys,
      route: orNull(r.route),
      bytes: Number(r.request_bytes),
      requestId: null,
    },
    response: { status: Number(r.status), bytes: Number(r.response_bytes), latencyMs: Number(r.latency_ms) },
    client: { ip: orNull(r.client_ip), peerIp: orNull(r.peer_ip), userAgent: orNull(r.user_agent) },
    identity: {
      credential: {
        kind: (r.credential_kind || 'none') as ApiEvent['identity']['credential']['kind'],
        fingerprint: orNull(r.credential_fingerprint),
        ref: orNull(r.credential_ref),
        issuer: orNull(r.credential_issuer),
      },
      principal: (r.principal || 'unknown') as ApiEvent['identity']['principal'],
      service: orNull(r.service),
      user: orNull(r.user),
      tenant: orNull(r.tenant),
      scopes: r.scopes,
      auth: (r.auth || 'unknown') as ApiEvent['identity']['auth'],
    },
    objects: r.object_names.map((name, i) => ({ name, value: r.object_ids[i] ?? '', in: 'path' as const })),
    trace: { traceId: orNull(r.trace_id), spanId: orNull(r.span_id) },
    source: { kind: r.source_kind || 'stored', gateway: orNull(r.gateway), collector: orNull(r.collector) },
  };
}

/** Stored events of [fromMs, toMs) in event-time order, a page at a time. */
export async function* storedEvents(
  store: BaselineQuerier,
  fromMs: number,
  toMs: number,
): AsyncGenerator<ApiEvent> {
  let afterTs = fromMs - 1;
  let afterId = '0';
  for (;;) {
    const rows = await store.query<EventRow>(EVENT_SQL, { fromMs, toMs, afterTs, afterId, page: PAGE });
    for (const r of rows) yield eventFromRow(r);
    if (rows.length < PAGE) return;
    const last = rows[rows.length - 1]!;
    afterTs = Number(last.ts_ms);
    afterId = last.id_text;
  }
}

export interface BacktestRow {
  detector: string;
  /** Episodes (distinct fingerprint + start) the candidate config raised. */
  candidate: number;
  /** Episodes stored (raised live) with a first event in the range. */
  raised: number;
  /** Fingerprints raised by both. */
  both: number;
  /** Fingerprints only the candidate raises (new findings). */
  added: number;
  /** Fingerprints raised live that the candidate would not raise. */
  removed: number;
}

export interface BacktestResult {
  events: number;
  rows: BacktestRow[];
  /** The candidate's firing findings (first update of each episode). */
  findings: Finding[];
  addedFingerprints: string[];
  removedFingerprints: string[];
}

export async function backtest(options: {
  store: BaselineQuerier;
  detect: DetectConfigValue;
  fromMs: number;
  toMs: number;
  detectors?: readonly AnyDetector[];
}): Promise<BacktestResult> {
  const runner = new ReplayRunner({
    detect: options.detect,
    baselineStore: options.store,
    sink: null,
    ...(options.detectors ? { detectors: options.detectors } : {}),
  });
  const findings: Finding[] = [];
  let events = 0;
  for await (const e of storedEvents(options.store, options.fromMs, options.toMs)) {
    events++;
    for (const f of await runner.push(e)) findings.push(f);
  }
  for (const f of await runner.finish()) findings.push(f);
  const stored = await options.store.query<{ detector: string; fingerprint: string; id: string }>(
    `SELECT detector, fingerprint, id FROM findings FINAL
     WHERE first_seen >= fromUnixTimestamp64Milli({fromMs:Int64}) AND first_seen < fromUnixTimestamp64Milli({toMs:Int64})`,
    { fromMs: options.fromMs, toMs: options.toMs },
  );
  const firing = new Map<string, Finding>();
  for (const f of findings) if (!firing.has(f.id)) firing.set(f.id, f);
  const detectors = new Set([
    ...stored.map((s) => s.detector),
    ...[...firing.values()].map((f) => f.detector),
  ]);
  const rows: BacktestRow[] = [];
  const addedFingerprints: string[] = [];
  const removedFingerprints: string[] = [];
  for (const d of [...detectors].sort()) {
    const cand = [...firing.values()].filter((f) => f.detector === d);
    const live = stored.filter((s) => s.detector === d);
    const cf = new Set(cand.map((f) => f.fingerprint));
    const lf = new Set(live.map((s) => s.fingerprint));
    const added = [...cf].filter((x) => !lf.has(x));
    const removed = [...lf].filter((x) => !cf.has(x));
    addedFingerprints.push(...added);
    removedFingerprints.push(...removed);
    rows.push({
      detector: d,
      candidate: cand.length,
      raised: new Set(live.map((s) => s.id)).size,
      both: [...cf].filter((x) => lf.has(x)).length,
      added: added.length,
      removed: removed.length,
    });
  }
  return { events, rows, findings: [...firing.values()], addedFingerprints, removedFingerprints };
}
