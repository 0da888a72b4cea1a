import type { FastifyInstance } from 'fastify';
import { kongParser } from '../parsers/kong.ts';
import {
  admit,
  frameJson,
  JSON_MEDIA_TYPES,
  type PushSourceOptions,
  publishResult,
  pushPlugin,
  refusal,
  rejectionSummary,
  runRecords,
  sendRefusal,
  sourcePipeline,
} from './push.ts';

/**
 * `POST /v1/kong/http-log`: the Kong http-log plugin's `http_endpoint` (docs/formats/kong.md).
 * The body is a JSON array (queue batches) or one object; NDJSON is read too. Unreadable entries
 * are answered one by one and dead-lettered; they are not retried (a retry cannot fix them), so
 * the answer is 200 unless the body itself is not JSON.
 */
export async function kongHttpLogSource(app: FastifyInstance, opts: PushSourceOptions): Promise<void> {
  pushPlugin(app, opts, 'Kong http-log delivery', (reply, _req, r) => sendRefusal(reply, r));
  const pipeline = sourcePipeline(opts, kongParser);

  app.post('/v1/kong/http-log', async (req, reply) => {
    const admitted = await admit(opts, req, {
      authHint: 'set the http-log plugin header Authorization: Bearer <collector token>',
      mediaTypes: JSON_MEDIA_TYPES,
      allowEmptyType: true,
    });
    if (!admitted.ok) return sendRefusal(reply, admitted.refusal);
    const framed = frameJson(admitted.body.toString('utf8'));
    if ('error' in framed) return sendRefusal(reply, framed.error);
    if (framed.records.length > opts.maxRecordsPerRequest) {
      return sendRefusal(
        reply,
        refusal(
          413,
          'INGEST_BODY_TOO_LARGE',
          `more than ${opts.maxRecordsPerRequest} records; lower the plugin's queue.max_batch_size`,
        ),
      );
    }
    const now = Date.now();
    const published = await publishResult(
      opts,
      'kong',
      admitted.collector,
      now,
      runRecords(pipeline, framed.records, now),
    );
    if (!published.ok) return sendRefusal(reply, published.refusal);
    return reply
      .code(200)
      .send({ accepted: published.accepted, rejected: published.rejected.map(rejectionSummary) });
  });
}
