import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { buildManagementApi } from '@apiwatch/alerting';
import { ChdbStore, createLogger, loadConfig, metrics } from '@apiwatch/core';
import { loadSpecFiles, SpecCatalog } from '@apiwatch/ingest';
import { startPipeline } from '../../cli/src/pipeline.ts';
import { freePort, runApiwatch, waitFor } from '../src/index.ts';

/**
 * Issue 11 §4, specs (upload, list): POST /api/v1/specs validates an OpenAPI 3.x document (JSON
 * or YAML) against the official schema, stores it (api_specs), audits it — and the running
 * ingest's route stage uses it: a call that got an inferred template before the upload gets the
 * spec's template after it, with no restart.
 */
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const ADMIN = 'spec-admin-token-0123456789';
const VIEW = 'spec-viewer-token-0123456789';
const tokens = [
  { name: 'ops', role: 'admin' as const, tokenSha256: sha(ADMIN) },
  { name: 'vic', role: 'viewer' as const, tokenSha256: sha(VIEW) },
];
const log = createLogger('silent');
const FIXTURES = new URL('../fixtures/public/openapi/', import.meta.url);

const WIDGETS = `openapi: 3.1.0
info:
  title: Widget Registry
  version: 2.4.0
paths:
  /widgets/{widgetSerial}:
    parameters:
      - name: widgetSerial
        in: path
        required: true
        schema: { type: string, pattern: '^sn-[0-9]+$' }
    get:
      operationId: getWidget
      responses:
        '200': { description: the widget }
    delete:
      operationId: deleteWidget
      responses:
        '204': { description: gone }
`;

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'apiwatch-specs-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('inject: upload JSON and YAML, list, and a coded 4xx for each bad input; all audited', async (t) => {
  // chDB holds one data directory per process: this test's store closes before the pipeline's opens.
  const store = new ChdbStore(join(dir, 'inject'));
  await store.start();
  t.after(() => store.close());
  const catalog = new SpecCatalog(store, log);
  const app = await buildManagementApi({
    tokens,
    router: null,
    engine: null,
    store,
    specs: catalog,
    metrics,
    log,
  });
  const heard: number[] = [];
  catalog.onChange((specs) => heard.push(specs.length));
  await catalog.watch(0);
  try {
    const upload = (body: string | Buffer, type: string, query = '', token = ADMIN) =>
      app.inject({
        method: 'POST',
        url: `/api/v1/specs${query}`,
        headers: { authorization: `Bearer ${token}`, 'content-type': type },
        payload: body,
      });
    // A real third-party document (OWASP crAPI), as JSON.
    const crapiText = readFileSync(new URL('crapi-openapi-spec.json', FIXTURES), 'utf8');
    const crapiOps = loadSpecFiles([new URL('crapi-openapi-spec.json', FIXTURES).pathname])[0]!.operations
      .length;
    const c = await upload(crapiText, 'application/json');
    assert.equal(c.statusCode, 201, c.body);
    assert.equal(c.json().spec.name, 'owasp-crapi-api', 'named after info.title');
    assert.equal(c.json().spec.operations, crapiOps);
    assert.equal(c.json().spec.sha256, sha(crapiText));
    assert.equal(c.json().spec.uploadedBy, 'ops');
    const w = await upload(WIDGETS, 'application/yaml', '?name=widgets');
    assert.equal(w.statusCode, 201, w.body);
    assert.deepEqual(
      [w.json().spec.title, w.json().spec.version, w.json().spec.openapi, w.json().spec.operations],
      ['Widget Registry', '2.4.0', '3.1.0', 2],
    );
    assert.equal((await upload(WIDGETS, 'text/yaml', '?name=widgets')).json().unchanged, true);
    const v2 = await upload(WIDGETS.replace('2.4.0', '2.5.0'), 'application/x-yaml', '?name=widgets');
    assert.equal(v2.json().replaced, true);
    assert.deepEqual(heard, [1, 2, 2], 'listeners hear each change, not the unchanged re-upload');

    const list = await app.inject({ url: '/api/v1/specs', headers: { authorization: `Bearer ${VIEW}` } });
    assert.equal(list.statusCode, 200);
    assert.deepEqual(
      list
        .json()
        .map((s: { name: string; version: string; operations: number }) => [s.name, s.version, s.operations]),
      [
        ['owasp-crapi-api', c.json().spec.version, crapiOps],
        ['widgets', '2.5.0', 2],
      ],
    );

    const swagger = readFileSync(new URL('juice-shop-b2b-swagger.yml', FIXTURES), 'utf8');
    const cases: Array<[string, string | Buffer, string, string, number, string]> = [
      ['viewer', WIDGETS, 'application/yaml', '', 403, 'ALERT_API_FORBIDDEN'],
      ['empty', '', 'application/json', '', 400, 'ALERT_SPEC_EMPTY'],
      ['not JSON', '{"openapi":', 'application/json', '', 400, 'ALERT_API_INVALID_JSON'],
      ['not YAML', 'openapi: [3.1\n  x: }', 'application/yaml', '', 400, 'ALERT_SPEC_UNPARSABLE'],
      [
        'billion laughs',
        `a: &a [x,x,x,x,x,x,x,x,x]\n${Array.from(
          { length: 9 },
          (_, i) =>
            `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9)
              .fill(`*${String.fromCharCode(97 + i)}`)
              .join(',')}]`,
        ).join('\n')}\n`,
        'application/yaml',
        '',
        400,
        'ALERT_SPEC_UNPARSABLE',
      ],
      [
        'Swagger 2.0',
        '{"swagger":"2.0","info":{"title":"x","version":"1"},"paths":{}}',
        'application/json',
        '',
        400,
        'ALERT_SPEC_UNSUPPORTED_VERSION',
      ],
      ['a list', '[1,2]', 'application/json', '', 422, 'ALERT_SPEC_INVALID'],
      [
        'schema',
        WIDGETS.replace("'204': { description: gone }", "'204': gone"),
        'application/yaml',
        '',
        422,
        'ALERT_SPEC_INVALID',
      ],
      [
        'no info.version',
        WIDGETS.replace('  version: 2.4.0\n', ''),
        'application/yaml',
        '',
        422,
        'ALERT_SPEC_INVALID',
      ],
      [
        'no operations',
        'openapi: 3.0.3\ninfo: { title: Empty, version: "1" }\npaths: {}\n',
        'application/yaml',
        '',
        422,
        'ALERT_SPEC_NO_OPERATIONS',
      ],
      [
        'no name',
        WIDGETS.replace('Widget Registry', '"***"'),
        'application/yaml',
        '',
        400,
        'ALERT_SPEC_NAME_REQUIRED',
      ],
      ['bad name', WIDGETS, 'application/yaml', '?name=../etc', 400, 'ALERT_API_INVALID_REQUEST'],
      ['media type', WIDGETS, 'text/plain', '', 415, 'ALERT_API_UNSUPPORTED_MEDIA_TYPE'],
      [
        'too large',
        Buffer.alloc(17 * 1024 * 1024, 0x20),
        'application/json',
        '',
        413,
        'ALERT_SPEC_TOO_LARGE',
      ],
    ];
    for (const [what, body, type, query, status, code] of cases) {
      const r = await upload(body, type, query, what === 'viewer' ? VIEW : ADMIN);
      assert.equal(r.statusCode, status, `${what}: ${r.body}`);
      assert.equal(r.json().error.code, code, what);
    }
    // The Swagger file is a real one and would load from ingest.specs; the upload is OpenAPI 3 only.
    assert.match(swagger, /^openapi: 3\.0\.0/m);
    const yamlInOtherRoute = await app.inject({
      method: 'POST',
      url: '/api/v1/findings/x/comment',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/yaml' },
      payload: 'text: hi',
    });
    assert.equal(yamlInOtherRoute.statusCode, 415, 'YAML only where a document is expected');
    assert.equal((await catalog.list()).length, 2, 'nothing bad was stored');
  } finally {
    catalog.close();
    await app.close();
  }
  const audit = await store.query<{
    outcome: string;
    target_ref: string;
    initiated_by: string;
    response_status: number;
  }>(
    "SELECT outcome, target_ref, initiated_by, response_status FROM response_actions_audit WHERE action = 'spec.upload' ORDER BY ts",
  );
  assert.equal(audit.filter((r) => r.outcome === 'executed').length, 4);
  assert.deepEqual(
    audit
      .filter((r) => r.outcome !== 'executed')
      .map((r) => [r.outcome, Number(r.response_status)])
      .slice(0, 3),
    [
      ['denied', 403],
      ['failed', 400],
      ['failed', 400],
    ],
  );
  assert.ok(audit.every((r) => r.outcome !== 'executed' || r.initiated_by === 'ops'));
});

test('listener: an uploaded spec takes effect in the running ingest (embedded pipeline), no restart', async (t) => {
  const data = join(dir, 'pipeline');
  const [ingestPort, apiPort] = [await freePort(), await freePort()];
  const config = loadConfig(undefined, {
    APIWATCH__DATADIR: data,
    APIWATCH__LOGLEVEL: 'error',
    APIWATCH__INGEST__LISTEN__PORT: String(ingestPort),
    APIWATCH__ALERT__API__ENABLED: 'true',
    APIWATCH__ALERT__API__PORT: String(apiPort),
    APIWATCH__ALERT__API__TOKENS: JSON.stringify(tokens),
  });
  const pipeline = await startPipeline(config, ['ingest', 'detect', 'store', 'alert'], createLogger('error'));
  t.after(() => pipeline.close());
  const collector = readFileSync(join(data, 'collector-token'), 'utf8').trim();
  const api = `http://127.0.0.1:${apiPort}`;
  const kong = (id: string, serial: string) => ({
    request: {
      method: 'GET',
      uri: `/widgets/${serial}`,
      url: `http://api.example.com/widgets/${serial}`,
      headers: { host: 'api.example.com', 'x-request-id': id },
      size: 100,
    },
    response: { status: 200, size: 20, headers: {} },
    latencies: { request: 3, kong: 1, proxy: 2 },
    client_ip: '198.51.100.23',
    started_at: Date.now(),
  });
  const send = async (id: string, serial: string) => {
    const r = await fetch(`${pipeline.ingestUrl}/v1/kong/http-log`, {
      method: 'POST',
      headers: { authorization: `Bearer ${collector}`, 'content-type': 'application/json' },
      body: JSON.stringify([kong(id, serial)]),
    });
    assert.equal(r.status, 200, await r.text());
  };
  const routeOf = (path: string) =>
    waitFor(
      `the event for ${path} in the store`,
      async () => {
        await pipeline.bus.flush();
        const rows = await pipeline.store!.query<{ route: string }>(
          'SELECT route FROM api_events WHERE path = {p:String}',
          { p: path },
        );
        return rows[0]?.route;
      },
      20_000,
    );

  await send('before-1', 'sn-1001');
  const before = await routeOf('/widgets/sn-1001');
  assert.notEqual(before, '/widgets/{widgetSerial}', 'no spec yet: not the spec template');

  const up = await fetch(`${api}/api/v1/specs?name=widgets`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/yaml' },
    body: WIDGETS,
  });
  assert.equal(up.status, 201, await up.text());
  const listed = (await (
    await fetch(`${api}/api/v1/specs`, { headers: { authorization: `Bearer ${VIEW}` } })
  ).json()) as Array<{ name: string; operations: number; uploadedBy: string; sha256: string }>;
  assert.deepEqual(
    listed.map((s) => [s.name, s.operations, s.uploadedBy, s.sha256]),
    [['widgets', 2, 'ops', sha(WIDGETS)]],
  );

  await send('after-1', 'sn-2002');
  assert.equal(await routeOf('/widgets/sn-2002'), '/widgets/{widgetSerial}');
  const [audited] = await pipeline.store!.query<{ n: string }>(
    "SELECT count() AS n FROM response_actions_audit WHERE action = 'spec.upload' AND initiated_by = 'ops' AND target_ref = 'widgets'",
  );
  assert.equal(Number(audited!.n), 1);

  // The CLI's `apiwatch specs` uploads a real document (crAPI) and lists both.
  const env = { APIWATCH_API_TOKEN: ADMIN };
  const crapi = new URL('crapi-openapi-spec.json', FIXTURES).pathname;
  const up2 = await runApiwatch(['specs', 'upload', crapi, '--name', 'crapi', '--url', api], env);
  assert.equal(up2.code, 0, up2.stderr);
  assert.match(up2.stdout, /^uploaded crapi {2}OWASP crAPI API@/m);
  const denied = await runApiwatch(['specs', 'upload', crapi, '--url', api], { APIWATCH_API_TOKEN: VIEW });
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /ALERT_API_FORBIDDEN/);
  const ls = await runApiwatch(['specs', 'list', '--json', '--url', api], { APIWATCH_API_TOKEN: VIEW });
  assert.equal(ls.code, 0, ls.stderr);
  assert.deepEqual(
    (JSON.parse(ls.stdout) as Array<{ name: string }>).map((s) => s.name),
    ['crapi', 'widgets'],
  );
});
