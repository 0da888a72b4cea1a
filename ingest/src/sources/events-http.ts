import type { DlqRecord } from '@apiwatch/core';
import type { FastifyInstance } from 'fastify';
import { canonicalParser } from '../parsers/canonical.ts';
import {
  admit,
  deadLetters,
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
 * apiwatch's own push endpoints (docs/ingest.md):
 * - `POST /v1/events`: canonical events (`apiwatch collect`, or any sender) as NDJSON, a JSON
 *   array or one object, gzip/deflate/zstd or not. Valid records are published and invalid ones
 *   reported one by one (and dead-lettered, redacted) in the same response.
 * - `POST /v1/dlq`: records a collector could not read, with its reason, kept redacted.
 */
export async function eventsHttpSource(app: FastifyInstance, opts: PushSourceOptions): Promise<void> {
  pushPlugin(app, opts, 'ingest request', (reply, _req, r) => sendRefusal(reply, r));
  const pipeline = sourcePipeline(opts, canonicalParser);
  const spec = {
    authHint: 'send Authorization: Bearer <collector token>',
    mediaTypes: JSON_MEDIA_TYPES,
  };
  const tooMany = () =>
    refusal(
      413,
      'INGEST_BODY_TOO_LARGE',
      `more than ${opts.maxRecordsPerRequest} records; send smaller batches`,
    );

  app.post('/v1/events', async (req, reply) => {
    const admitted = await admit(opts, req, spec);
    if (!admitted.ok) return sendRefusal(reply, admitted.refusal);
    const framed = frameJson(admitted.body.toString('utf8'));
    if ('error' in framed) return sendRefusal(reply, framed.error);
    if (framed.records.length > opts.maxRecordsPerRequest) return sendRefusal(reply, tooMany());
    const now = Date.now();
    const result = runRecords(pipeline, framed.records, now);
    const published = await publishResult(opts, 'canonical', admitted.collector, now, result);
    if (!published.ok) return sendRefusal(reply, published.refusal);
    const status = published.accepted === 0 && published.rejected.length > 0 ? 400 : 200;
    return reply
      .code(status)
      .send({ accepted: published.accepted, rejected: published.rejected.map(rejectionSummary) });
  });

  app.post('/v1/dlq', async (req, reply) => {
    const admitted = await admit(opts, req, spec);
    if (!admitted.ok) return sendRefusal(reply, admitted.refusal);
    const framed = frameJson(admitted.body.toString('utf8'));
    if ('error' in framed) return sendRefusal(reply, framed.error);
    const { records } = framed;
    if (records.length > opts.maxRecordsPerRequest) return sendRefusal(reply, tooMany());
    // A flood of dead letters costs the bus what events do: the same per-collector limit.
    const wait = opts.rateLimiter?.take(admitted.collector, records.length) ?? 0;
    if (wait > 0) {
      if (opts.counters) opts.counters.throttled++;
      return sendRefusal(
        reply,
        refusal(
          429,
          'INGEST_BACKPRESSURE',
          `collector ${admitted.collector} is over ingest.rateLimit; retry after ${wait} s`,
          wait,
        ),
      );
    }
    const now = Date.now();
    const messages = records.map((rec) => {
      const r = (rec.json && typeof rec.json === 'object' ? rec.json : {}) as Partial<DlqRecord>;
      const [m] = deadLetters(typeof r.source === 'string' ? r.source : 'unknown', admitted.collector, now, [
        {
          code: (typeof r.code === 'string'
            ? r.code
            : 'INGEST_PARSE_UNRECOGNISED') as 'INGEST_PARSE_UNRECOGNISED',
          reason: typeof r.reason === 'string' ? r.reason : 'reported by the collector',
          raw: typeof r.raw === 'string' ? r.raw : rec.text,
        },
      ]);
      if (typeof r.ts === 'number' && Number.isFinite(r.ts)) m!.value.ts = r.ts;
      return m!;
    });
    await opts.bus.publish('dlq', messages);
    if (opts.counters) opts.counters.rejected += messages.length;
    return reply.code(200).send({ accepted: messages.length });
  });
}
