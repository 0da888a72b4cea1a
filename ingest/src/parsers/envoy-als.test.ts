import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type ApiEvent, apiEventValidator } from '@apiwatch/core';
import { createIdentityContext } from '../identity/context.ts';
import { alsMessageEvents, durationMs, envoyAlsParser } from './envoy-als.ts';
import { goldenEvents } from './golden/harness.ts';
import type { ParseContext } from './types.ts';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, '../../../test/fixtures/public/envoy/als');
const identity = createIdentityContext(Buffer.from('0123456789abcdef0123456789abcdef'), 'test');
const ctx: ParseContext = { identity, gateway: null, now: 1_700_000_000_000 };

const golden = async (file: string) =>
  (await goldenEvents(envoyAlsParser, file, ctx, join(here, 'golden', `${basename(file)}.ndjson`))).events;

const ENTRY = {
  commonProperties: {
    downstreamRemoteAddress: { socketAddress: { address: '203.0.113.5', portValue: 0 } },
    downstreamDirectRemoteAddress: { socketAddress: { address: '10.0.0.9', portValue: 51000 } },
    startTime: '2024-05-01T12:00:00.123456789Z',
    duration: '0.000151880s',
    upstreamCluster: 'outbound|8080||orders.default.svc.cluster.local',
  },
  protocolVersion: 'HTTP2',
  request: {
    requestMethod: 'GET',
    scheme: 'https',
    authority: 'api.example.com',
    path: '/orders/9?page=2',
    requestId: 'r-1',
    requestHeadersBytes: '200',
    requestBodyBytes: '0',
  },
  response: {
    responseCode: 200,
    responseHeadersBytes: '100',
    responseBodyBytes: '900',
    responseCodeDetails: 'via_upstream',
  },
};

function one(entry: unknown): ApiEvent {
  const r = envoyAlsParser.parse({ text: JSON.stringify(entry), json: entry }, ctx);
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  assert.equal(r.value.length, 1);
  assert.ok(apiEventValidator.check(r.value[0]), apiEventValidator.explain(r.value[0]));
  return r.value[0]!;
}

describe('envoy-als parser: golden fixtures', () => {
  it('every fixture yields one valid event per HTTP entry', async () => {
    for (const f of readdirSync(fixtures).filter((n) => n.endsWith('.json'))) {
      const events = await golden(join(fixtures, f));
      assert.equal(events.length, 1, f);
    }
  });

  it('Gloo/Istio mTLS: peer SPIFFE SAN is the calling service; old-Istio request principal is not a user', async () => {
    const [e] = await golden(join(fixtures, 'gloo-mesh-accesslog-istio-mtls-spiffe.json'));
    assert.equal(e!.identity.credential.kind, 'mtls');
    assert.equal(e!.identity.service, 'spiffe://cluster1/ns/default/sa/bookinfo-productpage');
    assert.equal(e!.identity.user, null);
    assert.equal(e!.identity.principal, 'batch');
    assert.equal(e!.ts, Date.parse('2021-03-21T17:33:46.182Z'));
    assert.equal(e!.response.latencyMs, 40.708877);
    assert.equal(e!.request.bytes, 644);
    assert.equal(e!.response.bytes, 1340 + 379);
  });

  it('the four SkyWalking hops of one request keep one request id but distinct event ids', async () => {
    const files = [
      'skywalking-envoy-ingress.json',
      'skywalking-envoy-ingress2sidecar.json',
      'skywalking-envoy-mesh-client-sidecar.json',
      'skywalking-envoy-mesh-server-sidecar.json',
    ];
    const events = (await Promise.all(files.map((f) => golden(join(fixtures, f))))).flat();
    assert.equal(new Set(events.map((e) => e.request.requestId)).size, 1);
    assert.equal(new Set(events.map((e) => e.id)).size, 4);
    assert.ok(
      events.every(
        (e) => e.source.gateway?.startsWith('sidecar~') || e.source.gateway?.startsWith('router~'),
      ),
    );
  });
});

describe('envoy-als parser: edge cases', () => {
  it('durations, ns timestamps, XFF-derived client vs socket peer, query split', () => {
    const e = one(ENTRY);
    assert.equal(e.ts, Date.parse('2024-05-01T12:00:00.123Z'));
    assert.equal(e.response.latencyMs, 0.15188);
    assert.equal(e.client.ip, '203.0.113.5');
    assert.equal(e.client.peerIp, '10.0.0.9');
    assert.equal(e.request.path, '/orders/9');
    assert.deepEqual(e.request.queryKeys, ['page']);
    assert.equal(e.request.bytes, 200);
    assert.equal(e.response.bytes, 1000);
  });

  it('missing responseCode (reset before a response) → status 0; enum as integer', () => {
    const e = one({ ...ENTRY, request: { ...ENTRY.request, requestMethod: 3 }, response: {} });
    assert.equal(e.response.status, 0);
    assert.equal(e.request.method, 'POST');
  });

  it('jwt_authn metadata → jwt credential with the user; istio source principal → service', () => {
    const e = one({
      ...ENTRY,
      commonProperties: {
        ...ENTRY.commonProperties,
        metadata: {
          filterMetadata: {
            'envoy.filters.http.jwt_authn': {
              jwt_payload: { sub: 'alice', iss: 'https://idp.example', scope: 'orders:read' },
            },
            istio_authn: { 'source.principal': 'cluster.local/ns/web/sa/frontend' },
          },
        },
      },
    });
    assert.equal(e.identity.credential.kind, 'jwt');
    assert.equal(e.identity.user, 'alice');
    assert.equal(e.identity.credential.issuer, 'https://idp.example');
    assert.equal(e.identity.service, 'spiffe://cluster.local/ns/web/sa/frontend');
    assert.equal(e.identity.principal, 'user');
  });

  it('modern Istio request.auth.principal (iss/sub) → user', () => {
    const e = one({
      ...ENTRY,
      commonProperties: {
        ...ENTRY.commonProperties,
        metadata: {
          filterMetadata: {
            istio_authn: {
              'source.principal': 'cluster.local/ns/web/sa/frontend',
              'request.auth.principal': 'https://accounts.example.com/bob',
            },
          },
        },
      },
    });
    assert.equal(e.identity.user, 'bob');
    assert.equal(e.identity.credential.issuer, 'https://accounts.example.com');
  });

  it('an API key in logged requestHeaders is fingerprinted; ext_authz denial is an auth failure', () => {
    const e = one({
      ...ENTRY,
      request: { ...ENTRY.request, requestHeaders: { 'x-api-key': 'als-secret-key-1' } },
      response: { responseCode: 403, responseCodeDetails: 'ext_authz_denied' },
    });
    assert.equal(e.identity.credential.fingerprint, identity.fingerprint('als-secret-key-1'));
    assert.equal(e.identity.auth, 'failure');
    assert.ok(!JSON.stringify(e).includes('als-secret-key-1'));
  });

  it('a stream message without identifier uses the one cached from the first message', () => {
    const first = alsMessageEvents(
      {
        identifier: { node: { id: 'sidecar~10.0.0.1~a.ns~ns.svc.cluster.local' }, logName: 'als' },
        httpLogs: { logEntry: [ENTRY] },
      },
      null,
      ctx,
    );
    const cached = { nodeId: 'sidecar~10.0.0.1~a.ns~ns.svc.cluster.local', cluster: null, logName: 'als' };
    const second = alsMessageEvents({ httpLogs: { logEntry: [ENTRY, { request: {} }] } }, cached, ctx);
    assert.equal(first.events[0]!.source.gateway, cached.nodeId);
    assert.equal(second.events[0]!.source.gateway, cached.nodeId);
    assert.equal(second.rejected.length, 1);
    assert.equal(second.rejected[0]!.index, 1);
  });

  it('durationMs reads proto3 JSON strings and decoded {seconds, nanos}', () => {
    assert.equal(durationMs('1.5s'), 1500);
    assert.equal(durationMs('0.000000001s'), 0.000001);
    assert.equal(durationMs({ seconds: 2, nanos: 500_000_000 }), 2500);
    assert.equal(durationMs('12ms'), null);
  });

  it('rejects what is not ALS', () => {
    for (const v of [{ foo: 1 }, [1, 2], 'x']) {
      const r = envoyAlsParser.parse({ text: JSON.stringify(v), json: v }, ctx);
      assert.equal(r.ok, false);
    }
    const noTime = envoyAlsParser.parse({ text: '', json: { ...ENTRY, commonProperties: {} } }, ctx);
    assert.equal(noTime.ok, false);
  });
});
