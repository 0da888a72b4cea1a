import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createLogger, type HttpEndpoint, startClickhouseHttpEndpoint } from '@apiwatch/core';
import { parse } from 'yaml';
import { buildDashboard } from './build.ts';
import { withActor } from './dashboards/common.ts';
import { DASHBOARDS } from './dashboards/index.ts';
import type { ExpandContext, VariableValue } from './macros.ts';
import { DATASOURCE_TYPE, DATASOURCE_UID, type DashboardSpec } from './model.ts';
import { GRAFANA_DASHBOARDS_PATH, generatedFiles } from './provisioning.ts';
import { type Seeded, seedStore } from './seed.ts';
import { checkDashboardJson, checkPanelResult, expandPanel, type QueryResult, runSql } from './verify.ts';

/**
 * Issue 11 §1–§2: the generated dashboards are what the code builds (CI compares them), they are
 * well formed for Grafana, and every panel's SQL — expanded the way Grafana and the ClickHouse
 * data source expand it — runs on chDB through apiwatch's read-only ClickHouse endpoint (the
 * statement policy Grafana meets) and returns the columns, types, units and order the panel
 * declares, over seeded data, for several ranges, intervals and variable selections.
 */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const uids = new Set(DASHBOARDS.map((d) => d.uid));

describe('generated dashboards and provisioning', () => {
  const files = generatedFiles();

  test('the committed files are exactly what the code generates (npm run gen)', () => {
    for (const [rel, text] of files)
      assert.equal(readFileSync(join(ROOT, rel), 'utf8'), text, `${rel} is stale`);
  });

  test('every dashboard: unique ids, 24-column grid without overlaps, fixed data source, defined variables, links to shipped uids', () => {
    assert.equal(uids.size, DASHBOARDS.length, 'dashboard uids are unique');
    for (const d of DASHBOARDS) {
      const json = JSON.parse(files.get(`dashboards/grafana/dashboards/${d.folder}/${d.file}.json`)!);
      assert.deepEqual(checkDashboardJson(json, d, uids), [], d.uid);
      // What was committed is the Foundation SDK's typed builders' output, key for key.
      assert.deepEqual(json, JSON.parse(JSON.stringify(buildDashboard(d))));
      assert.equal(json.templating.list.length, d.variables.length);
    }
  });

  test('the checks catch broken dashboards', () => {
    const d = DASHBOARDS[0]!;
    const json = JSON.parse(JSON.stringify(buildDashboard(d)));
    json.panels[1].id = json.panels[0].id;
    json.panels[2].gridPos = { ...json.panels[0].gridPos };
    json.panels[3].datasource = { type: DATASOURCE_TYPE, uid: 'other' };
    json.panels[4].targets[0].rawSql += ' AND $undefined_var';
    json.panels[5].targets[0].format = 0;
    const errs = checkDashboardJson(json, d, uids).join('\n');
    for (const want of [
      'duplicate id',
      'overlap',
      'data source ref',
      '$undefined_var used but not defined',
      'format 0',
    ])
      assert.ok(errs.includes(want), `${want} in\n${errs}`);
  });

  test('provisioning: a data source with the fixed uid on the store endpoint, read-only user, secret from the environment; a file provider with folders', () => {
    const ds = parse(files.get('dashboards/grafana/provisioning/datasources/apiwatch.yaml')!);
    assert.equal(ds.apiVersion, 1);
    const [source] = ds.datasources;
    assert.equal(source.uid, DATASOURCE_UID);
    assert.equal(source.type, DATASOURCE_TYPE);
    assert.equal(source.jsonData.protocol, 'http');
    assert.equal(source.jsonData.port, 8123);
    assert.equal(source.jsonData.username, 'grafana');
    assert.match(source.secureJsonData.password, /^\$[A-Z_]+$/);
    const prov = parse(files.get('dashboards/grafana/provisioning/dashboards/apiwatch.yaml')!);
    const [p] = prov.providers;
    assert.equal(p.type, 'file');
    assert.equal(p.options.foldersFromFilesStructure, true);
    assert.equal(p.options.path, GRAFANA_DASHBOARDS_PATH);
    const folders = new Set(
      [...files.keys()].filter((k) => k.endsWith('.json')).map((k) => k.split('/').at(-2)),
    );
    assert.deepEqual([...folders].sort(), ['Operations', 'SOC']);
  });
});

describe('every panel query on chDB through the read-only endpoint', () => {
  let seeded: Seeded;
  let endpoint: HttpEndpoint;
  const RO = { user: 'grafana', password: 'dash-secret' };
  const sql = (q: string): Promise<QueryResult> => runSql(endpoint.url, RO.user, RO.password, q);

  before(async () => {
    seeded = await seedStore();
    endpoint = await startClickhouseHttpEndpoint({
      store: seeded.store,
      host: '127.0.0.1',
      port: 0,
      users: [
        {
          name: RO.user,
          passwordSha256: createHash('sha256').update(RO.password).digest('hex'),
          readonly: true,
        },
      ],
      maxBodyBytes: 1024 * 1024,
      log: createLogger('silent'),
    });
  });
  after(async () => {
    await endpoint?.close();
    await seeded?.close();
  });

  test('the endpoint is the restrictive one: a table function and ad hoc filters are refused', async () => {
    await assert.rejects(sql('SELECT number FROM numbers(3)'), /HTTP 403/);
    await assert.rejects(
      sql(
        "SELECT count() FROM api_events SETTINGS additional_table_filters = {'api_events': 'status = 200'}",
      ),
      /HTTP 403/,
    );
  });

  /** Variable values: All everywhere, or one real value per variable (from the variables' own queries). */
  async function contexts(d: DashboardSpec): Promise<Array<{ name: string; ctx: ExpandContext }>> {
    const all: Record<string, VariableValue> = {};
    const options: Record<string, string[]> = {};
    const base = { fromMs: seeded.start, toMs: seeded.end, intervalMs: 3_600_000 };
    for (const v of d.variables) {
      if (v.kind === 'query') {
        const r = await sql(expandPanel(v.sql!, { ...base, vars: all }));
        assert.equal(r.meta.length, 1, `${d.uid} $${v.name}: one column`);
        assert.equal(r.meta[0]!.type.includes('String'), true, `${d.uid} $${v.name}: text values`);
        options[v.name] = r.data.map((row) => String(row[0]));
        all[v.name] = { value: [], all: true, options: options[v.name] };
      } else all[v.name] = { value: '' };
    }
    // A specific selection: the busiest actor of the last week and its tenant/host/route.
    const [busy] = (
      await sql(
        withActor(`SELECT actor, tenant, host, route FROM api_events WHERE ts >= fromUnixTimestamp64Milli(${seeded.scoredStart})
        GROUP BY actor, tenant, host, route ORDER BY count() DESC LIMIT 1`),
      )
    ).data as string[][];
    const specific: Record<string, VariableValue> = { ...all };
    const pick: Record<string, string> = {
      tenant: busy![1]!,
      service: busy![2]!,
      route: busy![3]!,
      actor: busy![0]!,
      finding: seeded.findings[0]!.id,
    };
    for (const v of d.variables) {
      const value = pick[v.name];
      if (value === undefined) continue;
      if (v.kind === 'textbox') specific[v.name] = { value };
      else if (value !== '' && options[v.name]!.includes(value)) specific[v.name] = { value: [value] };
    }
    return [
      { name: 'whole corpus, 1 h interval, All', ctx: { ...base, vars: all } },
      {
        name: 'last week, 10 min interval, All',
        ctx: { fromMs: seeded.scoredStart, toMs: seeded.end - 1, intervalMs: 600_000, vars: all },
      },
      {
        name: 'last week, 30 min interval, one tenant/service/route/actor',
        ctx: {
          fromMs: seeded.scoredStart + 1234,
          toMs: seeded.end - 1,
          intervalMs: 1_800_000,
          vars: specific,
        },
      },
    ];
  }

  for (const d of DASHBOARDS) {
    test(`${d.uid}: ${d.panels.length} panels return what they declare`, async () => {
      const ctxs = await contexts(d);
      for (const { name, ctx } of ctxs) {
        for (const p of d.panels) {
          const expanded = expandPanel(p.sql, ctx);
          const r = await sql(expanded);
          assert.deepEqual(
            checkPanelResult(p, r),
            [],
            `${d.uid} panel ${p.id} "${p.title}" (${name}):\n${expanded}`,
          );
          if (name.startsWith('whole'))
            assert.ok(r.rows > 0, `${d.uid} panel ${p.id} "${p.title}" has rows over the seeded data`);
        }
      }
    });
  }

  test('the seeded data is real: detector findings, revoked key still seen', async () => {
    assert.ok(seeded.detected > 0, 'the detection engine raised findings on the corpus');
    const r = await sql(
      expandPanel(
        DASHBOARDS.find((d) => d.uid === 'apiwatch-response')!.panels.find(
          (p) => p.title === 'Revoked keys still in use',
        )!.sql,
        {
          fromMs: seeded.start,
          toMs: seeded.end,
          intervalMs: 60_000,
          vars: {},
        },
      ),
    );
    assert.equal(r.data[0]![0], seeded.revokedRef);
    assert.ok((r.data[0]![4] as number) > 0);
  });

  test('delivery panels: per receiver, the failing SIEM webhook first; sent, retried and dead-lettered add up to the attempts stored', async () => {
    const response = DASHBOARDS.find((d) => d.uid === 'apiwatch-response')!;
    const ctx: ExpandContext = {
      fromMs: seeded.start,
      toMs: seeded.end,
      intervalMs: 3_600_000,
      vars: { receiver: { value: [], all: true, options: [] } },
    };
    const panel = (title: string) => response.panels.find((p) => p.title === title)!;
    const per = await sql(expandPanel(panel('Delivery per receiver').sql, ctx));
    const rows = per.data.map((row) => Object.fromEntries(per.meta.map((m, i) => [m.name, row[i]])));
    assert.deepEqual(
      rows.map((r) => r.receiver),
      ['siem-webhook', 'pagerduty-oncall', 'slack-soc'],
    );
    const [siem, pager, slack] = rows as Array<Record<string, number | string>>;
    assert.ok((siem!.dead_lettered as number) > 0 && siem!.last_failure_code !== '');
    assert.equal(pager!.dead_lettered, 0);
    assert.ok((pager!.retried as number) > 0);
    assert.equal(pager!.last_failure_code, 'ALERT_DELIVERY_SERVER_ERROR');
    assert.deepEqual([slack!.failed, slack!.last_failure_code], [0, '']);
    assert.ok((pager!.p95_latency_ms as number) > (slack!.p95_latency_ms as number), 'retries add latency');
    const [stored] = (
      await sql(
        `SELECT count() AS n, countIf(outcome = 'delivered') AS d FROM notification_deliveries WHERE ts >= fromUnixTimestamp64Milli(${seeded.start}) AND ts <= fromUnixTimestamp64Milli(${seeded.end})`,
      )
    ).data as number[][];
    const sum = (k: string) => rows.reduce((n, r) => n + (r[k] as number), 0);
    assert.equal(sum('sent') + sum('failed'), stored![0]);
    assert.equal(sum('sent'), stored![1]);
    const one = await sql(
      expandPanel(panel('Notifications dead-lettered').sql, {
        ...ctx,
        vars: { receiver: { value: ['slack-soc'] } },
      }),
    );
    assert.equal(one.data[0]![0], 0, 'the receiver variable filters');
  });
});
