import {
  classifyInventory,
  INVENTORY_STATUSES,
  type InventoryEntry,
  loadRouteTemplater,
  readInventory,
  saveSpecStatus,
} from '@apiwatch/ingest';
import type { Command } from '../command.ts';
import { loadCliConfig } from '../config.ts';
import { specOption, stdoutWriter } from '../input.ts';
import { openStoreReader } from '../store-reader.ts';

export const inventoryCommand: Command = {
  name: 'inventory',
  summary:
    'Print the discovered endpoint catalogue from the store: method, route, host, first and last seen, calls, errors, and its status against the OpenAPI specs (documented, deprecated, undocumented_method, shadow, unspecified, unseen).',
  usage:
    'apiwatch inventory [--config <file>] [--spec <openapi>]... [--tenant <t>] [--status <s>] [--save] [--json]',
  options: {
    config: {
      type: 'string',
      short: 'c',
      description: 'YAML config (store and ingest.specs); without it the embedded store under .apiwatch/.',
      valueName: 'file',
    },
    spec: specOption,
    tenant: { type: 'string', description: 'Only this tenant.', valueName: 'tenant' },
    status: {
      type: 'string',
      description: `Only endpoints with this spec status (${INVENTORY_STATUSES.join(', ')}).`,
      valueName: 'status',
    },
    limit: {
      type: 'string',
      description: 'Most endpoints read, busiest first.',
      valueName: 'n',
      default: '10000',
    },
    save: {
      type: 'boolean',
      description: 'Write the classification into the store (endpoint_inventory.spec_status).',
      default: false,
    },
    json: {
      type: 'boolean',
      description: 'NDJSON (one endpoint per line) even on a terminal.',
      default: false,
    },
  },
  details: [
    'A table on a terminal, NDJSON when stdout is piped (or with --json). The catalogue is kept by the',
    'store as events arrive; the spec status is computed against ingest.specs plus --spec each time.',
    'Endpoints the specs document that no traffic reached are listed as unseen. docs/inventory.md.',
    '',
    'Example: apiwatch inventory --spec openapi.yaml --status shadow',
  ].join('\n'),
  async run(values) {
    const config = loadCliConfig(values.config as string | undefined);
    const status = values.status as string | undefined;
    if (status !== undefined && !(INVENTORY_STATUSES as readonly string[]).includes(status)) {
      process.stderr.write(`apiwatch inventory: --status must be one of ${INVENTORY_STATUSES.join(', ')}\n`);
      return 2;
    }
    const limit = Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1) {
      process.stderr.write('apiwatch inventory: --limit must be a positive integer\n');
      return 2;
    }
    const specs = [...config.ingest.specs, ...((values.spec as string[] | undefined) ?? [])];
    const matcher = loadRouteTemplater({ specs, inferRoutes: false }).matcher;
    const { db, close } = await openStoreReader(config, 'inventory');
    try {
      const rows = await readInventory(db, {
        ...(values.tenant ? { tenant: values.tenant as string } : {}),
        limit,
      });
      const entries = classifyInventory(rows, matcher).filter((e) => !status || e.specStatus === status);
      if (values.save) {
        const n = await saveSpecStatus(db, entries, Date.now());
        process.stderr.write(`apiwatch inventory: saved the spec status of ${n} endpoints.\n`);
      }
      const out = stdoutWriter();
      if (values.json || !process.stdout.isTTY) {
        for (const e of entries) {
          if (out.closed()) break;
          await out.write(`${JSON.stringify(e)}\n`);
        }
      } else await out.write(formatInventory(entries));
      if (!matcher)
        process.stderr.write(
          'apiwatch inventory: no spec loaded (ingest.specs or --spec): every endpoint is unspecified.\n',
        );
      return 0;
    } finally {
      await close();
    }
  },
};

const iso = (ms: number) => (ms > 0 ? new Date(ms).toISOString().slice(0, 19).replace('T', ' ') : '-');

export function formatInventory(entries: readonly InventoryEntry[]): string {
  const head = [
    'STATUS',
    'METHOD',
    'ROUTE',
    'HOST',
    'TENANT',
    'CALLS',
    'ERRORS',
    'FIRST SEEN',
    'LAST SEEN',
    'OPERATION',
  ];
  const rows = entries.map((e) => [
    e.specStatus,
    e.method,
    e.route,
    e.host || '-',
    e.tenant || '-',
    String(e.requests),
    String(e.errors),
    iso(e.firstSeen),
    iso(e.lastSeen),
    e.operationId ?? '-',
  ]);
  const width = head.map((h, i) => Math.min(60, Math.max(h.length, ...rows.map((r) => r[i]!.length))));
  const line = (r: string[]) =>
    r
      .map((c, i) => (c.length > width[i]! ? `${c.slice(0, width[i]! - 1)}…` : c.padEnd(width[i]!)))
      .join('  ')
      .trimEnd();
  const counts = INVENTORY_STATUSES.map(
    (s) => `${s} ${entries.filter((e) => e.specStatus === s).length}`,
  ).join(', ');
  return `${[line(head), ...rows.map(line)].join('\n')}\n\n${entries.length} endpoints: ${counts}\n`;
}
