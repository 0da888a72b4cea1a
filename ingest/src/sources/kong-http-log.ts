import type { FastifyInstance } from 'fastify';
import { kongParser } from '../parsers/kong.ts';
import * as push from './push.ts';

/**
 * `POST /v1/kong/http-log`: the Kong http-log plugin's `http_endpoint` (docs/formats/kong.md).
 * The body is a JSON array (queue batches) or one object; NDJSON is read too. Unreadable entries
 * are answered one by one and dead-lettered; they are not retried (a retry cannot fix them), so
 * the answer is 200 unless the body itself is not JSON.
 */
export async function kongHttpLogSource(app: FastifyInstance, opts: push.PushSourceOptions): Promise<void> {
  push.pushPlugin(app, opts, 'Kong http-log delivery', (reply, _req, r) => push.sendRefusal(reply, r));
  const pipeline = push.sourcePipeline(opts, kongParser);

  app.post('/v1/kong/http-log', async (req, reply) => {
    const admitted = await push.admitJsonRecords(opts, req, {
      authHint: 'set the http-log plugin header Authorization: Bearer <collector token>',
      mediaTypes: push.JSON_MEDIA_TYPES,
      allowEmptyType: true,
      batchHint: "lower the plugin's queue.max_batch_size",
    });
    if (!admitted.ok) return push.sendRefusal(reply, admitted.refusal);
    const now = Date.now();
    const published = await push.publishResult(
      opts,
      'kong',
      admitted.collector,
      now,
      push.runRecords(pipeline, admitted.records, now),
    );
    if (!published.ok) return push.sendRefusal(reply, published.refusal);
    return reply
      .code(200)
      .send({ accepted: published.accepted, rejected: published.rejected.map(push.rejectionSummary) });
  });
}
