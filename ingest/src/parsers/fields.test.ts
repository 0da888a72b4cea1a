import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostWithoutUserinfo, originForm, splitTarget } from './fields.ts';
import { goldenContext } from './golden/harness.ts';
import { PARSERS } from './registry.ts';

test('originForm reduces absolute-form targets to their path, userinfo and authority dropped', () => {
  const cases: Array<[string, string]> = [
    ['/x?y=1', '/x?y=1'],
    ['https://bob:pw@api.example.com/x', '/x'],
    ['http://bob:pw@api.example.com?user_id=3', '/?user_id=3'],
    ['HTTP://api.example.com', '/'],
    ['http://api.example.com#frag', '/'],
    ['*', '*'],
    ['', '/'],
  ];
  for (const [target, want] of cases) assert.equal(originForm(target), want, target);
  assert.deepEqual(splitTarget('https://u:p@h/a/b?c=1&d'), { path: '/a/b', queryKeys: ['c', 'd'] });
  assert.equal(hostWithoutUserinfo('user:pw@api.example.com'), 'api.example.com');
  assert.equal(hostWithoutUserinfo('api.example.com:8443'), 'api.example.com:8443');
});

test('every text parser reduces an absolute-form target (no password in the path)', () => {
  const lines: Record<string, string> = {
    nginx:
      '203.0.113.7 - - [01/May/2024:10:00:06 +0000] "GET https://bob:Pw1@api.example.com/x HTTP/1.1" 200 5 "-" "curl/8"',
    traefik:
      '203.0.113.7 - - [01/May/2024:10:00:06 +0000] "GET https://bob:Pw1@api.example.com/x HTTP/1.1" 200 5 "-" "curl/8" 1 "r@docker" "http://10.0.0.2:80" 3ms',
    envoy:
      '[2024-05-01T10:00:08.000Z] "GET https://bob:Pw1@api.example.com/x HTTP/1.1" 200 - 0 12 3 2 "10.0.35.28" "curl/8" "id-1" "api.example.com" "tcp://10.0.2.1:80"',
    haproxy:
      '127.0.0.1:43784 [28/Nov/2026:03:31:53.996] fe_api be_api/upstream1 0/0/0/8/8 200 165 - - ---- 1/1/0/0/0 0/0 "GET https://bob:Pw1@api.example.com/x HTTP/1.1"',
  };
  for (const parser of PARSERS) {
    const line = lines[parser.id];
    if (!line) continue;
    const r = parser.parse({ text: line }, goldenContext());
    assert.ok(r.ok, `${parser.id}: ${!r.ok && r.error.message}`);
    assert.equal(r.value[0]!.request.path, '/x', parser.id);
    assert.ok(!JSON.stringify(r.value).includes('Pw1'), parser.id);
  }
});
