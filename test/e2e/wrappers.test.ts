/**
 * Logs as operators ship them (issue 8 §B), through the real CLI: `apiwatch parse --format nginx`
 * reads syslog-prefixed, CRI- and Docker-wrapped lines; `--format envoy` reads CRI-wrapped JSON;
 * error-log lines in the same file are reported (INGEST_NOT_ACCESS_LOG), not fatal.
 * Fixtures: test/fixtures/captured (SOURCES.md: captured from nginx 1.22 / HAProxy 2.6).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ROOT, runApiwatch } from '../src/processes.ts';

const captured = join(ROOT, 'test/fixtures/captured');
const work = mkdtempSync(join(tmpdir(), 'apiwatch-wrappers-'));
const env = { APIWATCH__DATADIR: join(work, 'data') };
after(() => rmSync(work, { recursive: true, force: true }));

const parse = async (format: string, file: string) => {
  const r = await runApiwatch(['parse', '--format', format, join(captured, file)], env);
  const events = r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { request: { method: string; path: string }; response: { status: number } });
  return { ...r, events };
};

const cases: Array<[string, string, string[], number]> = [
  ['nginx', 'nginx-1.22-syslog-combined.log', ['/api/items/7', '/api/orders', '/missing/file.txt'], 0],
  [
    'nginx',
    'nginx-wrapped-mixed.log',
    ['/api/items/7', '/api/items/7', '/api/orders', '/missing/file.txt'],
    2,
  ],
  ['nginx', 'nginx-docker-json-file.log', ['/api/items/7', '/missing/file.txt'], 1],
  ['envoy', 'envoy-gateway-cri-json.log', ['/get', '/get'], 1],
  [
    'haproxy',
    'haproxy-2.6-syslog-rfc3164-rfc5424.log',
    ['/api/items/7', '/api/items/7', '/nope', '/nope'],
    0,
  ],
];

for (const [format, file, paths, notAccess] of cases) {
  test(`apiwatch parse --format ${format} ${file}`, async () => {
    const r = await parse(format, file);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      r.events.map((e) => e.request.path),
      paths,
    );
    const reported = r.stderr.match(/INGEST_NOT_ACCESS_LOG: not an access log/g) ?? [];
    assert.equal(reported.length, notAccess, r.stderr);
    if (notAccess > 0) assert.match(r.stderr, new RegExp(`rejected: ${notAccess} INGEST_NOT_ACCESS_LOG`));
  });
}
