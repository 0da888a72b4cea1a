import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  AlertConfig,
  type AlertConfigValue,
  ChdbStore,
  createLogger,
  createSecretResolver,
  exampleFinding,
  metrics,
} from '@apiwatch/core';
import { Value } from '@sinclair/typebox/value';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { createAlerting } from '../alerting.ts';
import { buildManagementApi } from './management.ts';

const dir = mkdtempSync(join(tmpdir(), 'apiwatch-mgmt-api-'));
const store = new ChdbStore(dir);
const VIEW = 'viewer-token-0123456789';
const ANA = 'analyst-token-0123456789';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const tokens = [
  { name: 'vic', role: 'viewer' as const, tokenSha256: sha(VIEW) },
  { name: 'ana', role: 'analyst' as const, tokenSha256: sha(ANA) },
];
const log = createLogger('silent');
const now = Date.now();
const findings = [1, 2, 3].map((i) =>
  exampleFinding({
    id: `ep${i}`,
    fingerprint: `fp${i}`,
    status: 'firing',
    endedAt: null,
    detectedAt: now - i * 1000,
  }),
);

before(async () => {
  await store.start();
  await store.insertFindings(findings);
});
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const auditRows = () =>
  store.query<{
    action: string;
    outcome: string;
    initiated_by: string;
    response_status: number;
    finding_id: string;
  }>(
    `SELECT action, outcome, initiated_by, response_status, finding_id FROM response_actions_audit ORDER BY ts`,
  );

test('inject: the OpenAPI document validates as OpenAPI 3.1, pages, filters and bad input', async () => {
  const app = await buildManagementApi({ tokens, router: null, engine: null, store, metrics, log });
  const doc = (await app.inject({ url: '/openapi.json' })).json() as {
    openapi: string;
    paths: Record<string, Record<string, unknown>>;
  };
  // The official schema (OAI/OpenAPI-Specification schemas/v3.1/schema.json, vendor/README.md).
  const schema = JSON.parse(
    // Ajv does not resolve the schema's $dynamicRef "#meta" to its only $dynamicAnchor
    // (#/$defs/schema, the default dialect's "object or boolean"): point it there with a $ref.
    readFileSync(new URL('./vendor/openapi-3.1-schema.json', import.meta.url), 'utf8').replaceAll(
      '"$dynamicRef": "#meta"',
      '"$ref": "#/$defs/schema"',
    ),
  );
  const ajv = new Ajv2020({ strict: false, validateFormats: false });
  const validate = ajv.compile(schema);
  assert.ok(validate(doc), JSON.stringify(validate.errors));
  assert.equal(doc.openapi, '3.1.0');
  assert.ok(doc.paths['/api/v1/findings/{id}/acknowledge']?.post);
  assert.ok(!validate({ ...doc, openapi: '3.0.3' }), 'the validator can fail');

  const auth = { authorization: `Bearer ${VIEW}` };
  const p1 = (await app.inject({ url: '/api/v1/findings?limit=2', headers: auth })).json();
  assert.deepEqual(
    p1.items.map((f: { id: string }) => f.id),
    ['ep1', 'ep2'],
  );
  const p2 = (
    await app.inject({ url: `/api/v1/findings?limit=2&cursor=${p1.nextCursor}`, headers: auth })
  ).json();
  assert.deepEqual(
    p2.items.map((f: { id: string }) => f.id),
    ['ep3'],
  );
  assert.equal(p2.nextCursor, null);
  const none = (await app.inject({ url: '/api/v1/findings?detector=nope.none', headers: auth })).json();
  assert.equal(none.items.length, 0);
  assert.equal((await app.inject({ url: '/api/v1/findings/fp2', headers: auth })).json().id, 'ep2');

  for (const [url, code] of [
    ['/api/v1/findings?limit=0', 'ALERT_API_INVALID_REQUEST'],
    ['/api/v1/findings?severity=huge', 'ALERT_API_INVALID_REQUEST'],
    ['/api/v1/findings?bogus=1', 'ALERT_API_INVALID_REQUEST'],
    ['/api/v1/findings?cursor=zzz', 'ALERT_API_INVALID_CURSOR'],
    ['/api/v1/findings?since=yesterday', 'ALERT_API_INVALID_SINCE'],
  ] as const) {
    const r = await app.inject({ url, headers: auth });
    assert.equal(r.statusCode, 400, url);
    assert.equal(r.json().error.code, code, url);
  }
  const ana = { authorization: `Bearer ${ANA}`, 'content-type': 'application/json' };
  const bad = await app.inject({
    method: 'POST',
    url: '/api/v1/findings/ep1/comment',
    headers: ana,
    payload: '{x',
  });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().error.code, 'ALERT_API_INVALID_JSON');
  const empty = await app.inject({
    method: 'POST',
    url: '/api/v1/findings/ep1/comment',
    headers: ana,
    payload: '{}',
  });
  assert.equal(empty.json().error.code, 'ALERT_API_INVALID_REQUEST');
  const text = await app.inject({
    method: 'POST',
    url: '/api/v1/findings/ep1/comment',
    headers: { authorization: `Bearer ${ANA}`, 'content-type': 'application/xml' },
    payload: '<x/>',
  });
  assert.equal(text.statusCode, 415);
  assert.equal(text.json().error.code, 'ALERT_API_UNSUPPORTED_MEDIA_TYPE');
  const huge = await app.inject({
    method: 'POST',
    url: '/api/v1/findings/ep1/comment',
    headers: ana,
    payload: JSON.stringify({ text: 'x'.repeat(1_100_000) }),
  });
  assert.equal(huge.statusCode, 413);
  assert.equal(huge.json().error.code, 'ALERT_API_BAD_REQUEST');
  const missing = await app.inject({ method: 'GET', url: '/api/v1/findings/nope', headers: auth });
  assert.equal(missing.statusCode, 404);
  assert.equal((await app.inject({ url: '/api/v1/findings' })).statusCode, 401);
  const c = await app.inject({
    method: 'POST',
    url: '/api/v1/findings/ep1/comment',
    headers: ana,
    payload: { text: 'looked at it: pen test' },
  });
  assert.equal(c.statusCode, 201);
  assert.equal((await app.inject({ url: '/readyz' })).json().store, 'ok');
  metrics.register('apiwatch_mgmt_probe_total', 'A test counter.', 'counter', () => [{ value: 7 }]);
  const m = await app.inject({ url: '/metrics' });
  assert.match(m.headers['content-type'] as string, /^text\/plain; version=0\.0\.4/);
  assert.match(m.body, /^apiwatch_mgmt_probe_total 7$/m);
  await app.close();
  const rows = await auditRows();
  assert.ok(
    rows.some((r) => r.action === 'finding.comment' && r.initiated_by === 'ana' && r.finding_id === 'ep1'),
  );
});

test('listener: a viewer cannot acknowledge (403), an analyst can, both audited; /decide still served', async () => {
  const config = Value.Default(
    AlertConfig,
    structuredClone({ api: { enabled: true, port: 0, tokens } }),
  ) as AlertConfigValue;
  const alerting = createAlerting(config, { secrets: createSecretResolver({}), log, store, audit: store });
  await alerting.start();
  try {
    const ack = (token: string) =>
      fetch(`${alerting.apiUrl}/api/v1/findings/ep2/acknowledge`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ reason: 'triaged' }),
      });
    const denied = await ack(VIEW);
    assert.equal(denied.status, 403);
    assert.equal(((await denied.json()) as { error: { code: string } }).error.code, 'ALERT_API_FORBIDDEN');
    const ok = await ack(ANA);
    assert.equal(ok.status, 200);
    assert.equal(((await ok.json()) as { findingId: string }).findingId, 'ep2');
    const decide = await fetch(`${alerting.apiUrl}/decide`);
    assert.equal(decide.status, 200);
    const groups = await fetch(`${alerting.apiUrl}/api/v1/groups`, {
      headers: { authorization: `Bearer ${VIEW}` },
    });
    assert.equal(groups.status, 200, 'the older handlers stay mounted');
  } finally {
    await alerting.close();
  }
  const rows = (await auditRows()).filter((r) => r.action === 'finding.acknowledge');
  assert.deepEqual(
    rows.map((r) => [r.initiated_by, r.outcome, Number(r.response_status)]),
    [
      ['vic', 'denied', 403],
      ['ana', 'executed', 200],
    ],
  );
});
