import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { assertGolden, FIXTURES, goldenContext, parseEvent, TESTDATA } from './golden/harness.ts';
import { haproxyParser } from './haproxy.ts';

describe('haproxy parser: golden fixtures', () => {
  for (const fixture of [
    join(FIXTURES, 'haproxy/filebeat-haproxy-httplog.log'),
    join(FIXTURES, 'haproxy/filebeat-haproxy-httplog-nosrv.log'),
    join(TESTDATA, 'haproxy-2.6-httplog-stdout-raw.log'),
  ]) {
    it(fixture.split('/').slice(-1)[0]!, async () => {
      const lines = await assertGolden(haproxyParser, fixture);
      assert.ok(lines.length > 0 && lines.every((l) => !l.startsWith('{"error"')));
    });
  }
});

describe('haproxy parser: httplog variants', () => {
  it('syslog-prefixed, TLS frontend, captured Host', () => {
    const e = parseEvent(
      haproxyParser,
      'Jul 30 09:03:52 localhost haproxy[32450]: 1.2.3.4:38862 [30/Jul/2018:09:03:52.726] incoming~ docs_microservice/docs 0/0/1/0/2 304 168 - - ---- 6/6/0/0/0 0/0 {docs.example.internal||} {|||} "GET /component.js HTTP/1.1"',
    );
    assert.equal(e.ts, Date.UTC(2018, 6, 30, 9, 3, 52, 726));
    assert.equal(e.request.scheme, 'https');
    assert.equal(e.request.host, 'docs.example.internal');
    assert.equal(e.client.peerIp, '1.2.3.4');
    assert.equal(e.response.latencyMs, 2);
    assert.equal(e.source.gateway, 'localhost');
  });

  it('<NOSRV>, -1 timers (never reached), SC-- (503)', () => {
    const e = parseEvent(
      haproxyParser,
      'Dec 10 12:01:46 voyager haproxy[19312]: 127.0.0.1:35982 [10/Dec/2018:12:01:46.395] http-webservices http-webservices/<NOSRV> 0/-1/-1/-1/-1 503 213 - - SC-- 1/1/0/0/0 0/0 "GET / HTTP/1.1"',
    );
    assert.equal(e.response.status, 503);
    assert.equal(e.response.latencyMs, null);
  });

  it('RFC 5424 header with PRI, IPv6 client, captured XFF / UA / Basic Authorization', () => {
    const basic = `Basic ${Buffer.from('gina:hunter2').toString('base64')}`;
    const e = parseEvent(
      haproxyParser,
      `<134>1 2024-05-01T10:00:00.000Z edge-1 haproxy 812 - - 2001:db8::5:50000 [01/May/2024:10:00:00.120] fe_api be_api/s1 0/0/1/40/41 200 1024 - - ---- 3/3/1/1/0 0/0 {api.example.com|Mozilla/5.0 (X11)|198.51.100.2, 10.0.0.1|${basic}} "POST /login?redirect=%2F HTTP/1.1"`,
    );
    assert.equal(e.client.peerIp, '2001:db8::5');
    assert.equal(e.client.ip, '198.51.100.2');
    assert.equal(e.client.userAgent, 'Mozilla/5.0 (X11)');
    assert.equal(e.request.host, 'api.example.com');
    assert.equal(e.identity.credential.kind, 'basic');
    assert.equal(e.identity.user, 'gina');
    assert.deepEqual(e.request.queryKeys, ['redirect']);
    assert.equal(e.source.gateway, 'edge-1');
    const out = JSON.stringify(e);
    assert.ok(!out.includes('hunter2') && !out.includes(basic.slice(6)));
  });

  it('HAProxy 1.x Tt, logasap "+" values, status -1, <BADREQ>', () => {
    const e = parseEvent(
      haproxyParser,
      '10.0.0.1:5000 [01/Jan/2015:00:00:00.000] fe be/<NOSRV> -1/-1/-1/-1/+3001 -1 +0 - - CR-- 1/1/0/0/0 0/0 "<BADREQ>"',
    );
    assert.equal(e.response.status, 0);
    assert.equal(e.request.method, 'UNKNOWN');
    assert.equal(e.request.path, '/');
    assert.equal(e.response.latencyMs, 3001);
  });

  it('types what it cannot read', () => {
    for (const line of [
      '',
      'Jul 30 09:03:52 localhost haproxy[1]: Proxy fe started.',
      '1.2.3.4:1 [bad] fe be/s 0/0/0/0/0 200 1 - - ---- 0/0/0/0/0 0/0 "GET / HTTP/1.1"',
    ]) {
      const r = haproxyParser.parse({ text: line }, goldenContext());
      assert.equal(r.ok ? 'ok' : r.error.code, 'INGEST_PARSE_UNRECOGNISED', line);
    }
  });
});
