import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { assertGolden, FIXTURES, goldenContext, parseEvent } from './golden/harness.ts';
import { traefikParser } from './traefik.ts';

describe('traefik parser: golden fixtures', () => {
  it('traefik/filebeat-traefik-clf.log (CLF; the second line is malformed upstream)', async () => {
    const lines = await assertGolden(traefikParser, join(FIXTURES, 'traefik/filebeat-traefik-clf.log'));
    assert.equal(lines.length, 2);
    const [a, b] = lines.map((l) => JSON.parse(l));
    assert.equal(a.response.latencyMs, 2);
    assert.equal(b.response.latencyMs, 3, 'the duration is read despite the broken router quote');
    assert.equal(b.client.ip, '85.181.35.98');
  });
});

describe('traefik parser: JSON', () => {
  const v2 = {
    ClientAddr: '10.10.8.105:48376',
    ClientHost: '175.16.199.10',
    ClientPort: '48376',
    ClientUsername: '-',
    DownstreamContentSize: 36,
    DownstreamStatus: 200,
    Duration: 2_345_678,
    OriginContentSize: 36,
    OriginDuration: 2_000_000,
    OriginStatus: 200,
    Overhead: 345_678,
    RequestAddr: 'api.example.com',
    RequestContentSize: 12,
    RequestCount: 4,
    RequestHost: 'api.example.com',
    RequestMethod: 'POST',
    RequestPath: '/v2/carts/17/items?sku=1',
    RequestPort: '-',
    RequestProtocol: 'HTTP/1.1',
    RequestScheme: 'https',
    RetryAttempts: 0,
    RouterName: 'carts@kubernetescrd',
    ServiceName: 'carts-svc@kubernetescrd',
    ServiceURL: { Scheme: 'http', Host: '10.42.0.7:8080' },
    StartUTC: '2021-03-16T18:56:54.735539596Z',
    StartLocal: '2021-03-16T18:56:54.735539596Z',
    entryPointName: 'websecure',
    level: 'info',
    msg: '',
    'request_User-Agent': 'okhttp/4.9.0',
    time: '2021-03-16T18:56:54Z',
  };

  it('v2 fields: ns Duration, ClientHost vs ClientAddr, path + query, ServiceURL as an object', () => {
    const e = parseEvent(traefikParser, { text: '', json: v2 });
    assert.equal(e.ts, Date.UTC(2021, 2, 16, 18, 56, 54, 735));
    assert.equal(e.response.latencyMs, 2.346);
    assert.equal(e.client.ip, '175.16.199.10');
    assert.equal(e.client.peerIp, '10.10.8.105');
    assert.equal(e.request.path, '/v2/carts/17/items');
    assert.deepEqual(e.request.queryKeys, ['sku']);
    assert.equal(e.request.bytes, 12);
    assert.equal(e.response.bytes, 36);
    assert.equal(e.request.scheme, 'https');
    assert.equal(e.client.userAgent, 'okhttp/4.9.0');
    assert.equal(e.request.route, null, 'a router name is not a route template');
    assert.equal(e.identity.credential.kind, 'none');
  });

  it('v1 fields (FrontendName/BackendName), IPv6 ClientAddr, no StartUTC, string numbers', () => {
    const v1 = {
      BackendName: 'backend-api',
      BackendURL: 'http://10.0.0.3:80',
      ClientAddr: '[::1]:56348',
      ClientHost: '::1',
      ClientUsername: 'dave',
      DownstreamStatus: '401',
      Duration: '150000',
      FrontendName: 'frontend-api',
      RequestMethod: 'GET',
      RequestPath: '/private',
      StartLocal: '2019-01-01T10:00:00.000000001+01:00',
    };
    const e = parseEvent(traefikParser, { text: '', json: v1 });
    assert.equal(e.ts, Date.UTC(2019, 0, 1, 9, 0, 0));
    assert.equal(e.client.peerIp, '::1');
    assert.equal(e.response.status, 401);
    assert.equal(e.response.latencyMs, 0.15);
    assert.equal(e.identity.credential.kind, 'basic');
    assert.equal(e.identity.user, 'dave');
    assert.equal(e.identity.auth, 'failure');
  });

  it('a kept Authorization header yields claims; a redacted one yields nothing', () => {
    const claims = Buffer.from(JSON.stringify({ sub: 'erin', iss: 'idp' })).toString('base64url');
    const token = `eyJhbGciOiJIUzI1NiJ9.${claims}.sig-abc`;
    const kept = parseEvent(traefikParser, {
      text: '',
      json: { ...v2, request_Authorization: `Bearer ${token}` },
    });
    assert.equal(kept.identity.credential.kind, 'jwt');
    assert.equal(kept.identity.user, 'erin');
    assert.ok(!JSON.stringify(kept).includes('sig-abc'));
    const redacted = parseEvent(traefikParser, {
      text: '',
      json: { ...v2, request_Authorization: 'REDACTED' },
    });
    assert.equal(redacted.identity.credential.kind, 'none');
  });

  it('no DownstreamStatus: OriginStatus; neither: a typed error', () => {
    const { DownstreamStatus: _, ...noDown } = v2;
    assert.equal(parseEvent(traefikParser, { text: '', json: noDown }).response.status, 200);
    const { OriginStatus: __, ...none } = noDown;
    const r = traefikParser.parse({ text: '', json: none }, goldenContext());
    assert.equal(r.ok ? 'ok' : r.error.code, 'INGEST_PARSE_UNRECOGNISED');
  });

  it('JSON given as text with spaces after colons', () => {
    const e = parseEvent(
      traefikParser,
      '{"RequestMethod": "GET", "RequestPath": "/", "DownstreamStatus": 204, "Duration": 1000000, "ClientAddr": "10.0.0.1:1"}',
    );
    assert.equal(e.response.status, 204);
    assert.equal(e.response.latencyMs, 1);
  });

  it('CLF with a Basic user and an unknown method token', () => {
    const e = parseEvent(
      traefikParser,
      '203.0.113.9 - frank [02/Oct/2017:20:22:07 +0000] "BREW /pot HTTP/1.1" 418 0 "-" "curl/8" 1 "r1" "http://10.0.0.2:80" 12ms',
    );
    assert.equal(e.request.method, 'BREW');
    assert.equal(e.identity.user, 'frank');
    assert.equal(e.response.latencyMs, 12);
    const r = traefikParser.parse({ text: 'garbage' }, goldenContext());
    assert.equal(r.ok ? 'ok' : r.error.code, 'INGEST_PARSE_UNRECOGNISED');
  });
});
