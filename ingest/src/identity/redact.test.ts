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
