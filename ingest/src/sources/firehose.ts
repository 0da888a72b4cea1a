import type { FastifyInstance, FastifyReply } from 'fastify';
import { awsApigwParser, DECODED_DATA, isGzip } from '../parsers/aws-apigw.ts';
import { parseJson } from '../parsers/json.ts';
import * as push from './push.ts';

/**
 * `POST /v1/aws/firehose`: an Amazon Data Firehose HTTP endpoint destination
 * (docs/formats/aws-apigw.md). Firehose sends `{requestId, timestamp, records: [{data}]}` with the
 * access key in `X-Amz-Firehose-Access-Key` (checked against the collector token hashes), and
 * expects `{requestId, timestamp}` back (plus `errorMessage` on failure). Each record's data is
 * base64 of one or more newline-separated access-log JSON lines, or a gzip CloudWatch Logs
 * subscription envelope. Firehose retries any non-200 answer, so records that cannot be read are
 * dead-lettered and the delivery still succeeds.
 *
 * Gzip record data is inflated here, asynchronously (zlib thread pool) and within one budget for
 * the whole request (`ingest.maxInflatedBytes`, counting the decoded body): a delivery of gzip
 * bombs is answered 413 without blocking the event loop; the parser inflates nothing itself.
 */
export async function firehoseSource(app: FastifyInstance, opts: push.PushSourceOptions): Promise<void> {
  const pipeline = push.sourcePipeline(opts, awsApigwParser);

  const answer = (reply: FastifyReply, status: number, requestId: string, errorMessage?: string) =>
    reply
      .code(status)
      .type('application/json')
      .send({ requestId, timestamp: Date.now(), ...(errorMessage ? { errorMessage } : {}) });
  const headerRequestId = (req: { headers: Record<string, unknown> }) =>
    String(req.headers['x-amz-firehose-request-id'] ?? '').slice(0, 128);
  const refuse = (reply: FastifyReply, requestId: string, r: push.Refusal) => {
    if (r.retryAfterSeconds) reply.header('retry-after', String(r.retryAfterSeconds));
    return answer(reply, r.status, requestId, r.message);
  };
  push.pushPlugin(
    app,
    opts,
    'Firehose delivery',
    (reply, req, r) => refuse(reply, headerRequestId(req), r),
    (reply, req) => answer(reply, 500, headerRequestId(req), 'internal error; see apiwatch logs'),
  );

  app.post('/v1/aws/firehose', async (req, reply) => {
    const admitted = await push.admit(opts, req, {
      authorization: (r) => {
        const key = r.headers['x-amz-firehose-access-key'];
        return typeof key === 'string' ? `Bearer ${key}` : undefined;
      },
      authHint: 'set the destination access key to an apiwatch collector token',
      mediaTypes: ['application/json'],
      allowEmptyType: true,
    });
    if (!admitted.ok) return refuse(reply, headerRequestId(req), admitted.refusal);
    const body = parseJson(admitted.body.toString('utf8'), 'body');
    if (!body.ok)
      return answer(reply, 400, headerRequestId(req), `the body is not JSON: ${body.error.message}`);
    const delivery =
      body.value && typeof body.value === 'object' && !Array.isArray(body.value)
        ? (body.value as Record<string, unknown>)
        : null;
    const requestId =
      typeof delivery?.requestId === 'string' ? delivery.requestId.slice(0, 128) : headerRequestId(req);
    if (!delivery || !Array.isArray(delivery.records)) {
      return answer(reply, 400, requestId, 'not a Firehose delivery: no records array');
    }
    if (delivery.records.length > opts.maxRecordsPerRequest) {
      return answer(
        reply,
        413,
        requestId,
        `more than ${opts.maxRecordsPerRequest} records; lower the Firehose buffer size`,
      );
    }
    const inflated = await inflateRecords(delivery.records, push.inflatedLimit(opts) - admitted.body.length);
    if (inflated) return refuse(reply, requestId, inflated);
    const now = Date.now();
    const result = pipeline.run({ text: '', json: { requestId, records: delivery.records } }, { now });
    const published = await push.publishResult(opts, 'aws-apigw', admitted.collector, now, result);
    if (!published.ok) return refuse(reply, requestId, published.refusal);
    return answer(reply, 200, requestId);
  });
}

/**
 * Decodes every record's base64 data, inflating gzip asynchronously, and sets the text on the
 * record (DECODED_DATA) for the parser. The inflated bytes of all records together stay within
 * `budget`; past it the request is refused (413) before anything is parsed.
 */
async function inflateRecords(records: unknown[], budget: number): Promise<push.Refusal | null> {
  let left = budget;
  for (const record of records) {
    const r = record && typeof record === 'object' ? (record as Record<string | symbol, unknown>) : null;
    if (!r || typeof r.data !== 'string') continue;
    if (!/^[A-Za-z0-9+/=\s_-]*$/.test(r.data)) {
      r[DECODED_DATA] = { reason: 'data is not base64' };
      continue;
    }
    const bytes = Buffer.from(r.data, 'base64');
    let text: Buffer = bytes;
    if (isGzip(bytes)) {
      const out = await push.inflateBounded(bytes, 'gzip', left);
      if (!out.ok && out.reason === 'too-large') return tooMuch(budget);
      if (!out.ok) {
        r[DECODED_DATA] = { reason: 'gzip data could not be inflated' };
        continue;
      }
      text = out.bytes;
    }
    left -= text.length;
    if (left < 0) return tooMuch(budget);
    r[DECODED_DATA] = text.toString('utf8');
  }
  return null;
}

const tooMuch = (budget: number) =>
  push.refusal(
    413,
    'INGEST_BODY_TOO_LARGE',
    `the records inflate to more than ${Math.max(0, budget)} bytes in one request; lower the Firehose buffer size`,
  );
