import assert from 'node:assert/strict';
import { basename, dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { type ApiEvent, apiEventValidator } from '@apiwatch/core';
import { createIdentityContext } from '../identity/context.ts';
import { awsApigwEntries, awsApigwParser } from './aws-apigw.ts';
import { goldenEvents } from './golden/harness.ts';
import type { ParseContext } from './types.ts';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, '../../../test/fixtures/public/aws-apigw');
const identity = createIdentityContext(Buffer.from('0123456789abcdef0123456789abcdef'), 'test');
const ctx: ParseContext = { identity, gateway: null, now: 1_700_000_000_000 };

const golden = (file: string) =>
  goldenEvents(awsApigwParser, file, ctx, join(here, 'golden', `${basename(file)}.ndjson`));

/** The REST access-log template docs/formats/aws-apigw.md recommends, as API Gateway fills it. */
const REST = {
  requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
  extendedRequestId: 'Dx1a2FakeId=',
  requestTimeEpoch: '1686411388123',
  requestTime: '10/Jun/2023:15:36:28 +0000',
  httpMethod: 'GET',
  resourcePath: '/pets/{petId}',
  path: '/prod/pets/42',
  stage: 'prod',
  apiId: 'a1b2c3d4e5',
  domainName: 'a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com',
  status: '200',
  protocol: 'HTTP/1.1',
  responseLength: '310',
  responseLatency: '57',
  integrationLatency: '51',
  'identity.sourceIp': '198.51.100.7',
  'identity.userAgent': 'okhttp/4.12',
  'identity.apiKeyId': 'k7h2xq9w1e',
  'identity.apiKey': '-',
  'authorizer.principalId': '-',
  'error.responseType': '-',
  xrayTraceId: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8',
};

function one(value: unknown): ApiEvent {
  const r = awsApigwParser.parse({ text: JSON.stringify(value), json: value }, ctx);
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  assert.equal(r.value.length, 1);
  assert.ok(apiEventValidator.check(r.value[0]), apiEventValidator.explain(r.value[0]));
  return r.value[0]!;
}

describe('aws-apigw parser: golden fixtures', () => {
  it('Lambda proxy v2 event with JWT authorizer and mTLS → one request event (no status yet)', async () => {
    const { events } = await golden(
      join(fixtures, 'aws-lambda-go-apigw-v2-request-jwt-authorizer-mtls.json'),
    );
    assert.equal(events.length, 1);
    const e = events[0]!;
    assert.equal(e.ts, 1_583_348_638_390);
    assert.equal(e.request.path, '/my/path');
    assert.deepEqual(e.request.queryKeys, ['parameter1', 'parameter2']);
    assert.equal(e.request.route, null, '$default is not a template');
    assert.equal(e.response.status, 0);
    assert.equal(e.identity.credential.kind, 'jwt');
    assert.deepEqual(e.identity.scopes, ['scope1', 'scope2']);
    assert.equal(
      e.identity.service,
      'C=US,ST=Washington,L=Seattle,O=Amazon Web Services,OU=Security,CN=My Client',
    );
    assert.equal(e.source.gateway, 'api-id/$default');
  });

  it('CloudWatch Logs subscription: decoded, both log events reported (they are not access logs)', async () => {
    const { events, errors } = await golden(
      join(fixtures, 'aws-lambda-go-cloudwatch-logs-subscription-event.json'),
    );
    assert.equal(events.length, 0);
    assert.match(errors[0]!, /awslogs\.data\.logEvents\[0\]: not an access-log JSON line.*and 1 more/);
  });

  it('Firehose transformation event: records decoded, "Hello World" reported as not an access log', async () => {
    const { events, errors } = await golden(join(fixtures, 'aws-lambda-go-kinesis-firehose-event.json'));
    assert.equal(events.length, 0);
    assert.match(errors[0]!, /records\[0\]: not an access-log JSON line/);
  });
});

describe('aws-apigw parser: access logs and envelopes', () => {
  it('REST template: template route, stage stripped from the path, apiKeyId as ref, X-Ray trace', () => {
    const e = one(REST);
    assert.equal(e.ts, 1_686_411_388_123);
    assert.equal(e.request.route, '/pets/{petId}');
    assert.equal(e.request.path, '/pets/42');
    assert.equal(e.response.status, 200);
    assert.equal(e.response.bytes, 310);
    assert.equal(e.response.latencyMs, 57);
    assert.equal(e.identity.credential.kind, 'api_key');
    assert.equal(e.identity.credential.ref, 'k7h2xq9w1e');
    assert.equal(e.identity.credential.fingerprint, null);
    assert.equal(e.trace.traceId, '5759e988bd862e3fe1be46a994272793');
    assert.equal(e.source.gateway, 'a1b2c3d4e5/prod');
    assert.equal(e.request.requestId, 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef');
  });

  const cases: Array<{ name: string; value: Record<string, unknown>; check: (e: ApiEvent) => void }> = [
    {
      name: 'console REST preset (CLF time, no path: the template stands in)',
      value: {
        requestId: 'r1',
        ip: '192.0.2.1',
        caller: '-',
        user: '-',
        requestTime: '10/Jun/2023:15:36:28 +0000',
        httpMethod: 'POST',
        resourcePath: '/orders',
        status: '201',
        protocol: 'HTTP/1.1',
        responseLength: '12',
      },
      check: (e) => {
        assert.equal(e.ts, Date.UTC(2023, 5, 10, 15, 36, 28));
        assert.equal(e.request.path, '/orders');
        assert.equal(e.client.ip, '192.0.2.1');
      },
    },
    {
      name: 'HTTP API default: method and template from routeKey',
      value: {
        requestId: 'GQIVriFLIAMEMsA=',
        ip: '192.0.2.2',
        requestTime: '10/Jun/2023:15:36:28 +0000',
        httpMethod: 'GET',
        routeKey: 'GET /pets/{id}',
        status: '404',
        protocol: 'HTTP/1.1',
        responseLength: '0',
      },
      check: (e) => {
        assert.equal(e.request.route, '/pets/{id}');
        assert.equal(e.response.status, 404);
      },
    },
    {
      name: 'a raw $context.identity.apiKey is fingerprinted, never kept',
      value: { ...REST, 'identity.apiKey': 'AbCdEfRawKeyValue0123456789' },
      check: (e) => {
        assert.equal(e.identity.credential.fingerprint, identity.fingerprint('AbCdEfRawKeyValue0123456789'));
        assert.ok(!JSON.stringify(e).includes('AbCdEfRawKeyValue0123456789'));
      },
    },
    {
      name: 'Cognito claims (nested) → jwt with user and client',
      value: {
        ...REST,
        'identity.apiKeyId': '-',
        authorizer: {
          claims: { sub: 'u-123', client_id: 'web-app', iss: 'https://cognito-idp/pool', scope: 'pets/read' },
        },
      },
      check: (e) => {
        assert.equal(e.identity.credential.kind, 'jwt');
        assert.equal(e.identity.user, 'u-123');
        assert.equal(e.identity.service, 'web-app');
        assert.equal(e.identity.credential.issuer, 'https://cognito-idp/pool');
        assert.deepEqual(e.identity.scopes, ['pets/read']);
      },
    },
    {
      name: 'flat claim keys ("authorizer.claims.sub")',
      value: { ...REST, 'authorizer.claims.sub': 'u-flat' },
      check: (e) => assert.equal(e.identity.user, 'u-flat'),
    },
    {
      name: 'Lambda authorizer principalId → user',
      value: { ...REST, 'identity.apiKeyId': '-', 'authorizer.principalId': 'user|42' },
      check: (e) => {
        assert.equal(e.identity.user, 'user|42');
        assert.equal(e.identity.principal, 'user');
      },
    },
    {
      name: 'client certificate subject DN → mtls service',
      value: {
        ...REST,
        'identity.apiKeyId': '-',
        'identity.clientCert.subjectDN': 'C=US,O=Acme,CN=billing',
        'identity.clientCert.serialNumber': '0a1b',
      },
      check: (e) => {
        assert.equal(e.identity.credential.kind, 'mtls');
        assert.equal(e.identity.service, 'C=US,O=Acme,CN=billing');
        assert.equal(e.identity.credential.ref, '0a1b');
      },
    },
    {
      name: 'IAM caller → session credential, role ARN as service, access key id as ref',
      value: {
        ...REST,
        'identity.apiKeyId': '-',
        'identity.userArn': 'arn:aws:sts::123:assumed-role/etl/job',
        'identity.accessKey': 'ASIAEXAMPLE',
      },
      check: (e) => {
        assert.equal(e.identity.credential.kind, 'session');
        assert.equal(e.identity.service, 'arn:aws:sts::123:assumed-role/etl/job');
        assert.equal(e.identity.credential.ref, 'ASIAEXAMPLE');
      },
    },
    {
      name: 'error.responseType INVALID_API_KEY → auth failure',
      value: { ...REST, status: '403', 'error.responseType': 'INVALID_API_KEY' },
      check: (e) => assert.equal(e.identity.auth, 'failure'),
    },
  ];
  for (const c of cases) it(c.name, () => c.check(one(c.value)));

  it('CloudWatch subscription with access-log messages; CONTROL_MESSAGE gives nothing', () => {
    const envelope = {
      messageType: 'DATA_MESSAGE',
      owner: '123',
      logGroup: 'API-Gateway-Execution-Logs',
      logStream: 's',
      subscriptionFilters: ['f'],
      logEvents: [
        { id: '1', timestamp: 1686411388123, message: JSON.stringify(REST) },
        { id: '2', timestamp: 1686411388124, message: '{"broken":' },
        {
          id: '3',
          timestamp: 1686411388125,
          message: JSON.stringify({ ...REST, requestId: 'second', httpMethod: 'DELETE' }),
        },
      ],
    };
    const wrapped = { awslogs: { data: gzipSync(JSON.stringify(envelope)).toString('base64') } };
    const { events, rejected } = awsApigwEntries(wrapped, JSON.stringify(wrapped), ctx);
    assert.deepEqual(
      events.map((e) => e.request.method),
      ['GET', 'DELETE'],
    );
    assert.equal(rejected.length, 1);
    assert.equal(rejected[0]!.where, 'record.awslogs.data.logEvents[1]');
    const control = {
      awslogs: {
        data: gzipSync(JSON.stringify({ ...envelope, messageType: 'CONTROL_MESSAGE' })).toString('base64'),
      },
    };
    const r = awsApigwParser.parse({ text: '', json: control }, ctx);
    assert.ok(r.ok);
    assert.equal(r.value.length, 0);
  });

  it('Firehose HTTP-endpoint delivery: several newline-separated lines per record, and gzip CloudWatch records', () => {
    const lines = `${JSON.stringify(REST)}\n${JSON.stringify({ ...REST, requestId: 'b' })}\n`;
    const cw = {
      messageType: 'DATA_MESSAGE',
      logEvents: [{ id: '1', timestamp: 1, message: JSON.stringify({ ...REST, requestId: 'c' }) }],
    };
    const body = {
      requestId: 'ed4acda5-034f-9f42-bba1-f29aea6d7d8f',
      timestamp: 1578090901599,
      records: [
        { data: Buffer.from(lines).toString('base64') },
        { data: gzipSync(JSON.stringify(cw)).toString('base64') },
        { data: '!!!' },
      ],
    };
    const { events, rejected } = awsApigwEntries(body, '', ctx);
    assert.deepEqual(
      events.map((e) => e.request.requestId),
      ['c6af9ac6-7b61-11e6-9a41-93e8deadbeef', 'b', 'c'],
    );
    assert.equal(rejected.length, 1);
    assert.match(rejected[0]!.reason, /not base64/);
  });

  it('a gzip bomb is refused rather than inflated', () => {
    const bomb = gzipSync(Buffer.alloc(40 * 1024 * 1024, 0x20));
    const { events, rejected } = awsApigwEntries({ awslogs: { data: bomb.toString('base64') } }, '', ctx);
    assert.equal(events.length, 0);
    assert.match(rejected[0]!.reason, /could not be inflated/);
  });

  const rejects: Array<[string, unknown, RegExp]> = [
    ['no method', { requestId: 'x', status: '200', requestTimeEpoch: '1' }, /no httpMethod/],
    ['no status', { requestId: 'x', httpMethod: 'GET', requestTimeEpoch: '1' }, /no status/],
    ['no time', { requestId: 'x', httpMethod: 'GET', status: '200' }, /no time/],
    ['a string', 'hello', /not a JSON object/],
  ];
  for (const [name, value, re] of rejects) {
    it(`rejects ${name}`, () => {
      const r = awsApigwParser.parse({ text: JSON.stringify(value), json: value }, ctx);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.error.message, re);
    });
  }
});
