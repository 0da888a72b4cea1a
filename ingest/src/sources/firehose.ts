import type { FastifyInstance, FastifyReply } from 'fastify';
import { awsApigwEntries } from '../parsers/aws-apigw.ts';
import { authenticateCollector } from '../server/auth.ts';
import { CollectorRateLimitedError } from '../server/rate-limit.ts';
import { decodeBody, type PushSourceOptions, publishParsed, rawBodies, sourceIdentity } from './push.ts';

/**
 * `POST /v1/aws/firehose`: an Amazon Data Firehose HTTP endpoint destination
 * (docs/formats/aws-apigw.md). Firehose sends `{requestId, timestamp, records: [{data}]}` with the
 * access key in `X-Amz-Firehose-Access-Key` (checked against the collector token hashes), and
 * expects `{requestId, timestamp}` back (plus `errorMessage` on failure). Each record's data is
 * base64 of one or more newline-separated access-log JSON lines, or a gzip CloudWatch Logs
 * subscription envelope. Firehose retries any non-200 answer, so records that cannot be read are
 * dead-lettered and the delivery still succeeds.
 */
export async function firehoseSource(app: FastifyInstance, opts: PushSourceOptions): Promise<void> {
  rawBodies(app, opts.maxBodyBytes);
  const identity = sourceIdentity(opts, 'aws-apigw');

  const answer = (reply: FastifyReply, status: number, requestId: string, errorMessage?: string) =>
    reply
      .code(status)
      .type('application/json')
      .send({ requestId, timestamp: Date.now(), ...(errorMessage ? { errorMessage } : {}) });

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, req, reply) => {
    const requestId = String(req.headers['x-amz-firehose-request-id'] ?? '');
    if (error.statusCode === 413 || error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return answer(
        reply,
        413,
        requestId,
        `body larger than ${opts.maxBodyBytes} bytes; lower the Firehose buffer size`,
      );
    }
    if (error instanceof CollectorRateLimitedError)
      reply.header('retry-after', String(error.retryAfterSeconds));
    if (error.statusCode && error.statusCode < 500)
      return answer(reply, error.statusCode, requestId, error.message);
    opts.log.error({ err: error }, 'Firehose delivery failed inside apiwatch.');
    return answer(reply, 500, requestId, 'internal error; see apiwatch logs');
  });

  app.post('/v1/aws/firehose', async (req, reply) => {
    const headerRequestId = String(req.headers['x-amz-firehose-request-id'] ?? '');
    const key = req.headers['x-amz-firehose-access-key'];
    const collector =
      typeof key === 'string' ? authenticateCollector(`Bearer ${key}`, opts.collectors) : null;
    if (!collector) {
      if (opts.counters) opts.counters.unauthenticated++;
      return answer(
        reply,
        401,
        headerRequestId,
        'set the destination access key to an apiwatch collector token',
      );
    }
    if (opts.bus.saturated()) {
      if (opts.counters) opts.counters.throttled++;
      reply.header('retry-after', '1');
      return answer(reply, 429, headerRequestId, 'the pipeline is saturated; Firehose retries');
    }
    const decoded = decodeBody(
      req.body,
      req.headers['content-encoding'] as string | undefined,
      opts.maxBodyBytes,
    );
    if (!decoded.ok) return answer(reply, decoded.status, headerRequestId, decoded.message);
    let body: unknown;
    try {
      body = JSON.parse(decoded.bytes.toString('utf8'));
    } catch (e) {
      return answer(reply, 400, headerRequestId, `the body is not JSON: ${(e as Error).message}`);
    }
    const delivery =
      body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : null;
    const requestId = typeof delivery?.requestId === 'string' ? delivery.requestId : headerRequestId;
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
    const now = Date.now();
    const { events, rejected } = awsApigwEntries({ requestId, records: delivery.records }, '', {
      identity,
      gateway: null,
      now,
    });
    const rejections = rejected.map((r, index) => ({
      index,
      code: r.code,
      reason: `${r.where.replace(/^record\./, '')}: ${r.reason}`,
      raw: r.raw,
    }));
    const result = await publishParsed(opts, 'aws-apigw', collector, now, events, rejections);
    if (result.rejected.length > 0) {
      req.log.debug?.({ rejected: result.rejected.length }, 'Firehose records dead-lettered.');
    }
    return answer(reply, 200, requestId);
  });
}
