import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { type ApiEvent, apiEventValidator, buildEvent, type SpecAnnotationValue } from '@apiwatch/core';
import { checkValue, statusDocumented } from './conformance.ts';
import { loadSpecFile, parseSpecText } from './openapi.ts';
import { createRouteTemplater } from './templater.ts';

const FIXTURES = join(import.meta.dirname, '../../../test/fixtures/public/openapi');
const crapi = loadSpecFile(join(FIXTURES, 'crapi-openapi-spec.json'));
const vampi = loadSpecFile(join(FIXTURES, 'vampi-openapi3.yml'));
const petstore = loadSpecFile(join(FIXTURES, 'petstore-v3-openapi.yaml'));
const juice = loadSpecFile(join(FIXTURES, 'juice-shop-b2b-swagger.yml'));
const twilio = loadSpecFile(join(FIXTURES, 'twilio_api_v2010.json'));
const ALL = [crapi, vampi, petstore, juice, twilio];

function event(method: string, target: string, status = 200, host: string | null = null): ApiEvent {
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const queryKeys =
    q < 0
      ? []
      : target
          .slice(q + 1)
          .split('&')
          .map((p) => decodeURIComponent(p.split('=')[0]!));
  return buildEvent({ ts: 1, method, path, queryKeys, status, sourceKind: 'test', raw: target, host }, 1);
}

/** Runs the route stage over one call with its raw request line, as a parser would hand it. */
function spec(
  method: string,
  target: string,
  opts: { status?: number; host?: string; specs?: typeof ALL } = {},
): { e: ApiEvent; s: SpecAnnotationValue | null | undefined } {
  const t = createRouteTemplater({ specs: opts.specs ?? ALL });
  const e = event(method, target, opts.status ?? 200, opts.host ?? null);
  t.applyRoutes(e, { recordText: `"${method} ${target} HTTP/1.1" ${opts.status ?? 200} 10` });
  assert.ok(apiEventValidator.check(e), apiEventValidator.explain(e));
  return { e, s: e.spec };
}

const codes = (s: SpecAnnotationValue | null | undefined) =>
  (s?.violations ?? []).map((v) => `${v.code}:${v.in ?? '-'}:${v.name ?? '-'}`).sort();

interface Row {
  name: string;
  method: string;
  target: string;
  status?: number;
  host?: string;
  want: Partial<SpecAnnotationValue> | null;
  violations?: string[];
}

const TABLE: Row[] = [
  {
    name: 'crAPI documented, secured, uuid path id ok',
    method: 'GET',
    target: '/identity/api/v2/vehicle/4bae9968-ec7f-4de3-a3a0-ba1b2ab5e5e5/location',
    want: {
      status: 'documented',
      operationId: 'get_location',
      deprecated: false,
      securityRequired: true,
      requiredScopes: [],
    },
    violations: [],
  },
  {
    name: 'crAPI uuid path param that is not a uuid',
    method: 'GET',
    target: '/identity/api/v2/vehicle/12345/location',
    want: { status: 'documented', operationId: 'get_location' },
    violations: ['param_format:path:vehicleId'],
  },
  {
    name: 'crAPI integer path id given a word (type), a 418 nobody documents',
    method: 'GET',
    target: '/workshop/api/shop/orders/abc',
    status: 418,
    want: { status: 'documented', securityRequired: true },
    violations: ['param_type:path:order_id', 'status_undocumented:-:-'],
  },
  {
    name: 'crAPI query limit not an integer, unknown query key',
    method: 'GET',
    target: '/community/api/v2/community/posts/recent?limit=lots&debug=1',
    want: { status: 'documented', securityRequired: true },
    violations: ['param_type:query:limit', 'param_unknown:query:debug'],
  },
  {
    name: 'crAPI old OTP version v2 beside v3 is deprecated (the crAPI OTP brute-force challenge)',
    method: 'POST',
    target: '/identity/api/auth/v2/check-otp',
    want: { status: 'documented', deprecated: true, securityRequired: false },
    violations: [],
  },
  {
    name: 'crAPI newest OTP version is not deprecated',
    method: 'POST',
    target: '/identity/api/auth/v3/check-otp',
    want: { status: 'documented', deprecated: false },
  },
  {
    name: 'crAPI login-with-token v2.7 is older than v4.0',
    method: 'POST',
    target: '/identity/api/auth/v2.7/user/login-with-token',
    want: { status: 'documented', deprecated: true },
  },
  {
    name: 'crAPI v2 dashboard is the only version: not deprecated',
    method: 'GET',
    target: '/identity/api/v2/user/dashboard',
    want: { status: 'documented', deprecated: false, securityRequired: true },
  },
  {
    name: 'crAPI v1 of a v2-only path: shadow under a retired version (zombie)',
    method: 'GET',
    target: '/identity/api/v1/user/dashboard',
    want: { status: 'shadow', operationId: null, deprecated: true, securityRequired: true },
  },
  {
    name: 'crAPI `security: [{}]` is callable without credentials',
    method: 'GET',
    target: '/workshop/api/shop/return_qr_code',
    want: { status: 'documented', securityRequired: false },
  },
  {
    name: 'crAPI undocumented method on a documented path',
    method: 'DELETE',
    target: '/identity/api/v2/user/dashboard',
    want: { status: 'undocumented_method', operationId: null, securityRequired: false },
    violations: ['method_undocumented:-:-'],
  },
  {
    name: 'petstore oauth scopes, int64 id fine, `default` response documents every status',
    method: 'GET',
    target: '/api/v3/pet/10',
    status: 503,
    host: 'petstore3.swagger.io',
    want: { status: 'documented', operationId: 'getPetById', securityRequired: true },
    violations: [],
  },
  {
    name: 'petstore updatePet requires write:pets and read:pets',
    method: 'PUT',
    target: '/api/v3/pet',
    host: 'petstore3.swagger.io',
    want: {
      status: 'documented',
      operationId: 'updatePet',
      securityRequired: true,
      requiredScopes: ['read:pets', 'write:pets'],
    },
  },
  {
    name: 'petstore enum violation on a query value',
    method: 'GET',
    target: '/api/v3/pet/findByStatus?status=stolen',
    host: 'petstore3.swagger.io',
    want: { status: 'documented', operationId: 'findPetsByStatus' },
    violations: ['param_enum:query:status'],
  },
  {
    name: 'petstore enum value that is documented',
    method: 'GET',
    target: '/api/v3/pet/findByStatus?status=sold',
    host: 'petstore3.swagger.io',
    want: { status: 'documented' },
    violations: [],
  },
  {
    name: 'petstore api_key security: required, no scopes',
    method: 'GET',
    target: '/api/v3/store/inventory',
    host: 'petstore3.swagger.io',
    want: { status: 'documented', securityRequired: true, requiredScopes: [] },
  },
  {
    name: 'petstore host, unknown path under its base path: shadow',
    method: 'GET',
    target: '/api/v3/internal/metrics',
    host: 'petstore3.swagger.io',
    want: { status: 'shadow', deprecated: false, operationId: null },
  },
  {
    name: 'VAmPI username path param with no constraints is never a violation',
    method: 'GET',
    target: '/users/v1/name1',
    host: 'localhost',
    want: { status: 'documented', deprecated: false },
    violations: [],
  },
  {
    name: 'juice-shop B2B relative server /b2b/v2, document-level bearer security',
    method: 'POST',
    target: '/b2b/v2/orders',
    want: { status: 'documented', operationId: 'createCustomerOrder', securityRequired: true },
    violations: [],
  },
  {
    name: 'Twilio AccountSid pattern ^AC[0-9a-f]{32}$ in a mixed segment',
    method: 'GET',
    target: '/2010-04-01/Accounts/XX123/Calls.json',
    host: 'api.twilio.com',
    want: { status: 'documented', operationId: 'ListCall', securityRequired: true },
    violations: ['param_pattern:path:AccountSid'],
  },
  {
    name: 'Twilio right-length sid with the wrong prefix breaks the pattern',
    method: 'GET',
    target: `/2010-04-01/Accounts/ZZ${'a'.repeat(32)}/Calls.json`,
    host: 'api.twilio.com',
    want: { status: 'documented' },
    violations: ['param_pattern:path:AccountSid'],
  },
  {
    name: 'Twilio valid sid, enum query Status broken, 200 documented',
    method: 'GET',
    target: `/2010-04-01/Accounts/AC${'a'.repeat(32)}/Calls.json?Status=exploded&PageSize=20`,
    host: 'api.twilio.com',
    want: { status: 'documented', operationId: 'ListCall' },
    violations: ['param_enum:query:Status'],
  },
];

for (const row of TABLE) {
  test(`spec annotation: ${row.name}`, () => {
    const { s } = spec(row.method, row.target, {
      ...(row.status !== undefined ? { status: row.status } : {}),
      ...(row.host !== undefined ? { host: row.host } : {}),
    });
    if (row.want === null) {
      assert.equal(s, null);
      return;
    }
    assert.ok(s, 'annotated');
    for (const [k, v] of Object.entries(row.want)) assert.deepEqual(s[k as keyof SpecAnnotationValue], v, k);
    if (row.violations) assert.deepEqual(codes(s), row.violations.sort());
  });
}

test('a host no spec names and no host-agnostic spec covers: spec null, not shadow', () => {
  const { s } = spec('GET', '/api/v3/internal/1', { host: 'other.example.com', specs: [petstore, twilio] });
  assert.equal(s, null);
});

test('a path outside every base path is not shadow (petstore lives under /api/v3)', () => {
  const { s } = spec('GET', '/healthz', { specs: [petstore] });
  assert.equal(s, null);
});

test('no specs loaded: event.spec stays absent', () => {
  const t = createRouteTemplater();
  const e = event('GET', '/x/1');
  t.applyRoutes(e);
  assert.equal(e.spec, undefined);
});

test('a violation carries the name, never the value', () => {
  const { e } = spec('GET', '/community/api/v2/community/posts/recent?limit=SECRETVALUE77', {
    specs: [crapi],
  });
  assert.deepEqual(codes(e.spec), ['param_type:query:limit']);
  assert.ok(!JSON.stringify(e).includes('SECRETVALUE77'));
});

test('an apiKey security scheme in the query is not an unknown parameter', () => {
  const s = parseSpecText(
    JSON.stringify({
      openapi: '3.0.3',
      info: { title: 'k', version: '1' },
      components: { securitySchemes: { k: { type: 'apiKey', in: 'query', name: 'api_key' } } },
      security: [{ k: [] }],
      paths: {
        '/items': {
          get: {
            parameters: [
              { name: 'page', in: 'query', required: true, schema: { type: 'integer', minimum: 1 } },
            ],
            responses: { '2XX': { description: 'ok' } },
          },
        },
      },
    }),
    'k.json',
  );
  const ok = spec('GET', '/items?page=2&api_key=zzz', { specs: [s], status: 204 });
  assert.deepEqual(codes(ok.s), []);
  assert.equal(ok.s?.securityRequired, true);
  assert.equal(ok.s?.specId, 'k@1');
  const bad = spec('GET', '/items?page=0', { specs: [s] });
  assert.deepEqual(codes(bad.s), ['param_range:query:page']);
  const missing = spec('GET', '/items', { specs: [s], status: 404 });
  assert.deepEqual(codes(missing.s), ['param_required:query:page', 'status_undocumented:-:-']);
});

test('checkValue: types, formats, bounds, lengths, arrays', () => {
  const base = {
    type: null,
    format: null,
    enum: null,
    pattern: null,
    minimum: null,
    maximum: null,
    exclusiveMinimum: false,
    exclusiveMaximum: false,
    minLength: null,
    maxLength: null,
    items: null,
  } as const;
  assert.equal(checkValue('12', { ...base, type: 'integer' }), null);
  assert.equal(checkValue('1.5', { ...base, type: 'integer' }), 'param_type');
  assert.equal(checkValue('1.5e3', { ...base, type: 'number' }), null);
  assert.equal(checkValue('yes', { ...base, type: 'boolean' }), 'param_type');
  assert.equal(
    checkValue('10', { ...base, type: 'integer', maximum: 10, exclusiveMaximum: true }),
    'param_range',
  );
  assert.equal(checkValue('2026-13-01', { ...base, format: 'date' }), 'param_format');
  assert.equal(checkValue('2026-12-01T10:00:00Z', { ...base, format: 'date-time' }), null);
  assert.equal(checkValue('3000000000', { ...base, type: 'integer', format: 'int32' }), 'param_range');
  assert.equal(checkValue('ab', { ...base, type: 'string', minLength: 3 }), 'param_length');
  assert.equal(checkValue('héé', { ...base, type: 'string', maxLength: 3 }), null);
  assert.equal(
    checkValue('1,2,x', { ...base, type: 'array', items: { ...base, type: 'integer' } }),
    'param_type',
  );
  assert.equal(checkValue('2', { ...base, type: 'integer', enum: ['1', '2'] }), null);
});

test('statusDocumented: exact, range, default, none listed', () => {
  assert.equal(statusDocumented(['200', '404'], 404), true);
  assert.equal(statusDocumented(['200', '4XX'], 429), true);
  assert.equal(statusDocumented(['200'], 500), false);
  assert.equal(statusDocumented(['200', 'DEFAULT'], 500), true);
  assert.equal(statusDocumented([], 500), true);
  assert.equal(statusDocumented(['200'], 0), true);
});

test('a parser-supplied template still gets its annotation', () => {
  const t = createRouteTemplater({ specs: [petstore] });
  const e = buildEvent(
    {
      ts: 1,
      method: 'GET',
      path: '/api/v3/pet/notanumber',
      queryKeys: [],
      status: 200,
      sourceKind: 'test',
      raw: 'x',
      route: '/pet/{petId}',
    },
    1,
  );
  const r = t.applyRoutes(e);
  assert.equal(r.source, 'parser');
  assert.equal(r.operationId, 'getPetById');
  assert.deepEqual(codes(e.spec), ['param_type:path:petId']);
});

test('a spec whose only server is localhost (crAPI) covers the real host: unknown paths there are shadow', () => {
  const { s } = spec('GET', '/identity/api/v2/internal/export', {
    host: 'crapi.example.com',
    specs: [crapi],
  });
  assert.equal(s?.status, 'shadow');
});
