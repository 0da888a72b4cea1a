import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { assertGolden, FIXTURES, goldenContext, parseEvent, TESTDATA } from './golden/harness.ts';
import { nginxParser } from './nginx.ts';

describe('nginx parser: golden fixtures', () => {
  for (const fixture of [
    join(FIXTURES, 'nginx/filebeat-nginx-access-combined.log'),
    join(FIXTURES, 'nginx/filebeat-nginx-access-edgecases.log'),
    join(FIXTURES, 'nginx/filebeat-ingress-nginx-upstreaminfo.log'),
    join(FIXTURES, 'nginx/observiq-nginx-json-logformat.ndjson'),
    join(TESTDATA, 'nginx-1.22-apiwatch-json.ndjson'),
  ]) {
    it(fixture.split('/').slice(-2).join('/'), async () => {
      const lines = await assertGolden(nginxParser, fixture);
      assert.ok(lines.length > 0 && lines.every((l) => !l.startsWith('{"error"')));
    });
  }
});

describe('nginx parser: combined and ingress-nginx edge cases', () => {
  const cases: Array<{ name: string; line: string; expect: Record<string, unknown> }> = [
    {
      name: 'empty request line (a 400 to a scanner)',
      line: '127.0.0.1 - - [12/Apr/2018:09:48:40 +0200] "" 400 0 "-" "-"',
      expect: { method: 'UNKNOWN', path: '/', status: 400, ua: null, ts: Date.UTC(2018, 3, 12, 7, 48, 40) },
    },
    {
      name: 'X-Forwarded-For list as $remote_addr',
      line: '10.0.0.2, 10.0.0.1, 85.181.35.98 - - [07/Dec/2016:11:05:07 +0100] "GET /ocelot HTTP/1.1" 200 571 "-" "Mozilla/5.0"',
      expect: { client: '10.0.0.2', peer: '85.181.35.98', path: '/ocelot' },
    },
    {
      name: 'quoted XFF list then the socket address',
      line: '"10.5.102.222, 199.96.1.1, 204.246.1.1" 10.2.1.185 - - [22/Jan/2016:13:18:29 +0000] "GET /assets/xxxx?q=100 HTTP/1.1" 200 25507 "-" "Amazon CloudFront"',
      expect: { client: '10.5.102.222', peer: '10.2.1.185', query: ['q'] },
    },
    {
      name: 'vhost before $remote_addr',
      line: 'lessons.example.com 192.168.0.1 - - [09/Jun/2020:12:10:39 -0700] "GET /a%20b.mp4 HTTP/1.1" 206 7648063 "-" "Silk"',
      expect: { client: '192.168.0.1', peer: '192.168.0.1', host: 'lessons.example.com', bytesOut: 7648063 },
    },
    {
      name: 'IPv6 client with a Basic user (ingress-nginx)',
      line: '2a02:cf40:: - remote_monitoring_user [24/Aug/2022:21:04:17 +0000] "POST /_bulk HTTP/1.1" 200 470 "-" "Elastic-metricbeat/7.16.3" 2057 0.033 [esmon-esmon-es-http-9200] [] [2a02:cf40::]:9200 470 0.036 200 3db73c6c673c4256ade033a6ce08c2ab',
      expect: {
        client: '2a02:cf40::',
        user: 'remote_monitoring_user',
        kind: 'basic',
        latency: 33,
        bytesIn: 2057,
        requestId: '3db73c6c673c4256ade033a6ce08c2ab',
      },
    },
    {
      name: 'ingress-nginx retries: lists of upstreams, times and statuses',
      line: '192.168.64.14 - - [07/Feb/2020:12:02:42 +0000] "GET /v2/some HTTP/1.1" 200 61 "-" "Firefox/72.0" 348 0.101 [default-web2-8080] [] 172.17.0.6:8080, 172.17.0.7:8080 61, 100 0.100, 0.004 200, 203 835136ae24486dbb4156dcbe21f5d402',
      expect: { latency: 101, status: 200, bytesIn: 348 },
    },
    {
      name: 'bad method kept as the client sent it',
      line: '192.168.64.1 - - [07/Feb/2020:11:49:50 +0000] "PATCHp /products/42 HTTP/1.1" 400 163 "-" "-" 0 0.000 [] [] - - - - 4c7d2079340e68353c7d0dfff00b904b',
      expect: { method: 'PATCHP', status: 400, latency: 0 },
    },
    {
      name: '\\x22 and UTF-8 \\xHH escapes in the request and user agent',
      line: '10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "GET /search?q=\\x22x\\x22 HTTP/1.1" 200 5 "-" "caf\\xC3\\xA9 \\x22agent\\x22"',
      expect: { path: '/search', query: ['q'], ua: 'café "agent"' },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const e = parseEvent(nginxParser, c.line);
      const actual: Record<string, unknown> = {
        ts: e.ts,
        method: e.request.method,
        path: e.request.path,
        query: e.request.queryKeys,
        status: e.response.status,
        bytesIn: e.request.bytes,
        bytesOut: e.response.bytes,
        latency: e.response.latencyMs,
        client: e.client.ip,
        peer: e.client.peerIp,
        host: e.request.host,
        ua: e.client.userAgent,
        user: e.identity.user,
        kind: e.identity.credential.kind,
        requestId: e.request.requestId,
      };
      for (const [k, v] of Object.entries(c.expect)) assert.deepEqual(actual[k], v, k);
    });
  }

  it('the upstream name is not the gateway', () => {
    const e = parseEvent(
      nginxParser,
      '192.168.64.1 - - [07/Feb/2020:11:48:51 +0000] "POST /products HTTP/1.1" 200 59 "-" "curl/7.54.0" 89 0.001 [default-web-8080] [] 172.17.0.5:8080 59 0.000 200 529a007902362a5f51385a5fa7049884',
    );
    assert.equal(e.source.gateway, null);
  });
});

describe('nginx parser: JSON log_format', () => {
  it('recommended apiwatch format: $msec minus $request_time is the start; identity from a signature-less JWT', () => {
    const claims = Buffer.from(JSON.stringify({ sub: 'bob', iss: 'https://idp', jti: 'tok-1' })).toString(
      'base64url',
    );
    const line = JSON.stringify({
      msec: '1700000000.500',
      request_time: '0.250',
      request_method: 'PUT',
      request_uri: '/orders/9?dry_run=1',
      status: '204',
      remote_addr: '10.0.0.5',
      remote_user: '',
      http_x_forwarded_for: '198.51.100.1, 10.0.0.5',
      http_authorization: `Bearer eyJhbGciOiJSUzI1NiJ9.${claims}.`,
      request_id: 'f00dfeedf00dfeedf00dfeedf00dfeed',
      request_length: '321',
      body_bytes_sent: '0',
      http_user_agent: 'k6/0.47',
      http_traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    });
    const e = parseEvent(nginxParser, line);
    assert.equal(e.ts, 1_700_000_000_250);
    assert.equal(e.response.latencyMs, 250);
    assert.equal(e.request.method, 'PUT');
    assert.equal(e.request.path, '/orders/9');
    assert.deepEqual(e.request.queryKeys, ['dry_run']);
    assert.equal(e.client.ip, '198.51.100.1');
    assert.equal(e.client.peerIp, '10.0.0.5');
    assert.equal(e.identity.credential.kind, 'jwt');
    assert.equal(e.identity.user, 'bob');
    assert.equal(e.identity.credential.ref, 'tok-1');
    assert.equal(e.trace.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(e.request.requestId, 'f00dfeedf00dfeedf00dfeedf00dfeed');
  });

  it('repairs nginx default escaping (\\x22) that makes a JSON line invalid', () => {
    const line =
      '{"time_iso8601":"2021-02-25T16:20:01-05:00","request":"GET /a?b=\\x22c\\x22 HTTP/1.1","status":"200","http_user_agent":"x\\x22y\\xE2\\x82\\xAC","remote_addr":"10.0.0.1"}';
    const e = parseEvent(nginxParser, line);
    assert.equal(e.client.userAgent, 'x"y€');
    assert.equal(e.ts, Date.UTC(2021, 1, 25, 21, 20, 1));
  });

  it('all values strings, "-" for missing (observIQ format)', () => {
    const e = parseEvent(nginxParser, {
      text: '',
      json: {
        remote_addr: '10.33.104.40',
        remote_user: '-',
        time_local: '25/Feb/2021:16:20:01 -0500',
        request: 'GET /about-us?app=prod&user=james&app=stage HTTP/1.1',
        status: '404',
        body_bytes_sent: '178',
        request_time: '0.000',
        http_x_forwarded_for: '-',
      },
    });
    assert.deepEqual(e.request.queryKeys, ['app', 'user']);
    assert.equal(e.response.status, 404);
    assert.equal(e.identity.credential.kind, 'none');
    assert.equal(e.client.ip, '10.33.104.40');
  });

  it('types what it cannot read', () => {
    const cases: Array<[string, string]> = [
      ['{"status":"200"', 'INGEST_PARSE_INVALID_JSON'],
      [
        '{"request":"GET / HTTP/1.1","status":"2000","time_local":"25/Feb/2021:16:20:01 -0500"}',
        'INGEST_PARSE_UNRECOGNISED',
      ],
      ['{"request":"GET / HTTP/1.1","status":"200","time_local":"yesterday"}', 'INGEST_PARSE_UNRECOGNISED'],
      ['not an access log line', 'INGEST_PARSE_UNRECOGNISED'],
    ];
    for (const [line, code] of cases) {
      const r = nginxParser.parse({ text: line }, goldenContext());
      assert.equal(r.ok ? 'ok' : r.error.code, code, line);
    }
  });
});
