import { type Finding, findingValidator, StartupError } from '@apiwatch/core';
import type { Command } from '../command.ts';
import { loadCliConfig } from '../config.ts';
import { openStoreReader, type StoreReader } from '../store-reader.ts';

/**
 * `apiwatch findings`: what the detectors raised, read from the store (or through the running
 * server, which holds the embedded store). A table on a terminal, NDJSON (the stored Finding
 * documents, latest update of each episode) when piped. `--follow` keeps polling for updates.
 */

interface Row {
  id: string;
  detected_ms: string | number;
  body: string;
}

const FOLLOW_POLL_MS = 2000;

export const findingsCommand: Command = {
  name: 'findings',
  summary:
    'List findings from the store (or a running server): a table on a terminal, NDJSON when piped; --follow prints new and updated findings as they arrive.',
  usage:
    'apiwatch findings [--since <duration|time>] [--detector <id|family>] [--entity <kind:id|id>] [--status firing|resolved] [--limit <n>] [--follow] [--json] [--config <file>]',
  options: {
    config: {
      type: 'string',
      short: 'c',
      description: 'YAML config; without it the embedded store under .apiwatch/.',
      valueName: 'file',
    },
    since: {
      type: 'string',
      default: '24h',
      description:
        'Findings updated since then: a duration back from now (30m, 24h, 7d) or an ISO time. Event time: `detectedAt` is the watermark when the update was raised.',
      valueName: 'duration|time',
    },
    detector: {
      type: 'string',
      description: 'Only this detector id (auth.brute_force) or family (auth).',
      valueName: 'id|family',
    },
    entity: {
      type: 'string',
      description: 'Only this entity: kind:id (ip:203.0.113.9, user:alice) or an id/name of any kind.',
      valueName: 'kind:id',
    },
    status: { type: 'string', description: 'Only firing or only resolved episodes.', valueName: 'status' },
    limit: {
      type: 'string',
      default: '200',
      description: 'Most findings to print (newest kept).',
      valueName: 'n',
    },
    follow: { type: 'boolean', short: 'f', description: 'Keep running and print new and updated findings.' },
    json: { type: 'boolean', description: 'NDJSON even on a terminal.' },
  },
  details: [
    'Examples:',
    '  apiwatch findings                                  # the last 24 h, newest last',
    '  apiwatch findings --detector auth --since 2h',
    '  apiwatch findings --entity ip:203.0.113.66 --json | jq .evidence',
    '  apiwatch findings --follow                         # while apiwatch start runs',
    '',
    'While `apiwatch start` holds the embedded store, this reads through the server (store.localReader).',
  ].join('\n'),
  async run(values) {
    const config = loadCliConfig(values.config as string | undefined);
    const sinceMs = parseSince(String(values.since), Date.now());
    const limit = Number(values.limit);
    if (!Number.isInteger(limit) || limit <= 0)
      throw new StartupError(
        'CONFIG_INVALID',
        `--limit must be a positive integer, got ${String(values.limit)}`,
      );
    const status = values.status as string | undefined;
    if (status !== undefined && status !== 'firing' && status !== 'resolved')
      throw new StartupError('CONFIG_INVALID', `--status must be firing or resolved, got ${status}`);
    const filter = buildFilter(
      values.detector as string | undefined,
      values.entity as string | undefined,
      status,
    );
    const asJson = Boolean(values.json) || !process.stdout.isTTY;
    const reader = await openStoreReader(config, 'findings');
    process.stderr.write(`apiwatch findings: reading ${reader.via}.\n`);
    try {
      let cursor = sinceMs;
      const seen = new Map<string, string>();
      let first = true;
      for (;;) {
        const rows = await fetchRows(reader, filter, cursor, first ? limit : 10_000);
        const findings: Finding[] = [];
        for (const r of rows) {
          const f = JSON.parse(r.body) as unknown;
          if (!findingValidator.check(f)) continue;
          // An update (resolved, grown) replaces the version already printed.
          const version = `${f.status}|${f.detectedAt}|${f.lastSeen}`;
          if (seen.get(f.id) === version) continue;
          seen.set(f.id, version);
          findings.push(f);
          cursor = Math.max(cursor, Number(r.detected_ms));
        }
        if (asJson) for (const f of findings) process.stdout.write(`${JSON.stringify(f)}\n`);
        else process.stdout.write(formatTable(findings, first));
        if (first && !values.follow) {
          process.stderr.write(
            `apiwatch findings: ${findings.length} finding(s) since ${new Date(sinceMs).toISOString()}.\n`,
          );
        }
        first = false;
        if (!values.follow) return 0;
        await new Promise((r) => setTimeout(r, FOLLOW_POLL_MS));
      }
    } finally {
      await reader.close();
    }
  },
};

interface Filter {
  where: string[];
  params: Record<string, unknown>;
}

function buildFilter(
  detector: string | undefined,
  entity: string | undefined,
  status: string | undefined,
): Filter {
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  if (detector) {
    where.push(detector.includes('.') ? 'detector = {detector:String}' : 'family = {detector:String}');
    params.detector = detector;
  }
  if (entity) {
    const colon = entity.indexOf(':');
    const kinds = ['credential', 'user', 'service', 'ip', 'endpoint', 'tenant'];
    if (colon > 0 && kinds.includes(entity.slice(0, colon))) {
      where.push('entity_kind = {ek:String} AND (entity_id = {eid:String} OR entity_name = {eid:String})');
      params.ek = entity.slice(0, colon);
      params.eid = entity.slice(colon + 1);
    } else {
      where.push('(entity_id = {eid:String} OR entity_name = {eid:String} OR entity_ref = {eid:String})');
      params.eid = entity;
    }
  }
  if (status) {
    where.push('status = {status:String}');
    params.status = status;
  }
  return { where, params };
}

async function fetchRows(
  reader: StoreReader,
  filter: Filter,
  sinceMs: number,
  limit: number,
): Promise<Row[]> {
  const where = ['detected_at >= fromUnixTimestamp64Milli({since:Int64})', ...filter.where].join(' AND ');
  // Newest `limit` updates, printed oldest first. FINAL: the latest update of each episode.
  const rows = await reader.db.query<Row>(
    `SELECT id, toUnixTimestamp64Milli(detected_at) AS detected_ms, body FROM findings FINAL
     WHERE ${where} ORDER BY detected_at DESC, id LIMIT {limit:UInt32}`,
    { ...filter.params, since: sinceMs, limit },
  );
  return rows.reverse();
}

const SEVERITY_MARK: Record<string, string> = {
  critical: 'CRIT',
  high: 'HIGH',
  medium: 'MED',
  low: 'LOW',
  info: 'INFO',
};

function formatTable(findings: readonly Finding[], header: boolean): string {
  if (findings.length === 0) return header ? 'No findings in this window.\n' : '';
  const rows = findings.map((f) => [
    new Date(f.lastSeen).toISOString().replace('T', ' ').slice(0, 19),
    SEVERITY_MARK[f.severity] ?? f.severity,
    f.status,
    f.detector,
    entityLabel(f),
    f.route ? `${f.method ?? ''} ${f.route}`.trim() : '',
    f.summary,
  ]);
  const head = ['last seen (UTC)', 'sev', 'status', 'detector', 'entity', 'route', 'summary'];
  const width = (i: number) => Math.min(48, Math.max(head[i]!.length, ...rows.map((r) => r[i]!.length)));
  const cut = (s: string, w: number) => (s.length > w ? `${s.slice(0, w - 1)}…` : s.padEnd(w));
  const line = (r: string[]) =>
    `${r
      .slice(0, 6)
      .map((c, i) => cut(c, width(i)))
      .join('  ')}  ${r[6]}`;
  return `${header ? `${line(head)}\n` : ''}${rows.map(line).join('\n')}\n`;
}

function entityLabel(f: Finding): string {
  const { kind, id, name } = f.entity;
  const shown = name && name !== id ? `${name} (${id.slice(0, 12)})` : id;
  return `${kind}:${shown}`;
}

/** `30m`, `24h`, `7d`, `90s` back from now, or an ISO time. */
export function parseSince(text: string, now: number): number {
  const m = /^(\d+)\s*(s|m|h|d|w)$/.exec(text.trim());
  if (m) {
    const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86_400e3, w: 604_800e3 }[
      m[2] as 's' | 'm' | 'h' | 'd' | 'w'
    ];
    return now - Number(m[1]) * unit;
  }
  const t = Date.parse(text);
  if (Number.isNaN(t))
    throw new StartupError(
      'CONFIG_INVALID',
      `--since must be a duration (30m, 24h, 7d) or an ISO time, got ${text}`,
    );
  return t;
}
