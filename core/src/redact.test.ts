import assert from 'node:assert/strict';
import { test } from 'node:test';
import { REDACTED, redactSecrets } from './redact.ts';

// [record, secrets that must not survive, text that must survive]
const cases: Array<[string, string[], string[]]> = [
  [
    '{"authenticated_entity":{"consumer_id":"c1","key":"2b64e2f0193851d4135a2e885cd08a65"}}',
    ['2b64e2f0193851d4135a2e885cd08a65'],
    ['"consumer_id":"c1"'],
  ],
  [
    '{"identity":{"apiKey":"AKREALKEY1234567890","apiKeyId":"kid1"}}',
    ['AKREALKEY1234567890'],
    ['"apiKeyId":"kid1"'],
  ],
  [
    '{"headers":{"apikey":"hk-123","x-api-key":"xk-456","cookie":"session=S3SS; theme=dark","authorization":"Bearer opaque-xyz"}}',
    ['hk-123', 'xk-456', 'S3SS', 'opaque-xyz'],
    [],
  ],
  [
    '"GET /a?api_key=QK789&access_token=AT000&sig=SG111&code=OC222&id=7 HTTP/1.1"',
    ['QK789', 'AT000', 'SG111', 'OC222'],
    ['id=7'],
  ],
  ['{"message":"{\\"apiKey\\":\\"EMB999\\",\\"path\\":\\"/x\\"}"}', ['EMB999'], ['\\"path\\":\\"/x\\"']],
  [
    'Authorization: Digest username="bob", response="6629fae49393a05397450978507c4ef1"',
    ['6629fae49393a05397450978507c4ef1'],
    [],
  ],
  [
    'x-auth: AWS4-HMAC-SHA256 Credential=AKIA/x, Signature=fe5f80f77d5fa3beca038a248ff0',
    ['fe5f80f77d5fa3beca038a248ff0'],
    [],
  ],
  ['GET https://admin:PwInUrl55@example.com/x', ['PwInUrl55'], ['example.com/x']],
  ['{"cookies":["sessionid=CV1","b=2"],"token":12345678}', ['CV1', '12345678'], []],
  ['{"key": {"inner":"NESTED1"}}', ['NESTED1'], []],
  ['username=bob&password=FORMPW77', ['FORMPW77'], ['username=bob']],
  [
    'tok eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig-part_x',
    ['eyJzdWIiOiIxMjM0NTY3ODkwIn0'],
    ['tok'],
  ],
  [
    '-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----',
    ['MIIEpAIBAAKCAQEA'],
    [],
  ],
  // OTLP attribute pairs: the credential is the value of a pair whose *key field* names it.
  [
    '{"attributes":[{"key":"http.request.header.x-api-key","value":{"arrayValue":{"values":[{"stringValue":"OTLPK1"}]}}},{"key":"http.request.header.x-auth-token","value":{"stringValue":"OTLPT2"}},{"key":"http.route","value":{"stringValue":"/x/{id}"}}]}',
    ['OTLPK1', 'OTLPT2'],
    ['"key":"http.request.header.x-api-key"', '/x/{id}'],
  ],
  // Any name/value pair shape (HAR, Envoy header lists), in either field order.
  [
    '[{"name":"Authorization","value":"opaque-HAR3"},{"value":"HAR4","name":"x-api-key"},{"name":"accept","value":"*/*"}]',
    ['opaque-HAR3', 'HAR4'],
    ['*/*'],
  ],
  // Not one JSON document (truncated): the text form of the pair.
  [
    'span {"key":"http.request.header.authorization","value":{"stringValue":"TRUNC5"}},{"key":"x',
    ['TRUNC5'],
    ['http.request.header.authorization'],
  ],
  // Flattened dotted names (Elasticsearch/Loki exports).
  ['{"http.request.header.x-api-key":"FLAT6","http.route":"/a"}', ['FLAT6'], ['"http.route":"/a"']],
  [
    '{"status":200,"path":"/users/1","request_id":"abc"}',
    [],
    ['{"status":200,"path":"/users/1","request_id":"abc"}'],
  ],
];

cases.forEach(([record, secrets, kept], i) => {
  test(`redactSecrets case ${i + 1}: ${record.slice(0, 48)}`, () => {
    const out = redactSecrets(record);
    for (const s of secrets) assert.ok(!out.includes(s), `${s} survived in ${out}`);
    for (const k of kept) assert.ok(out.includes(k), `${k} was lost from ${out}`);
    if (secrets.length > 0) assert.ok(out.includes(REDACTED));
  });
});
