import type { DlqRecord } from '@apiwatch/core';
import type { FastifyInstance } from 'fastify';
import { canonicalParser } from '../parsers/canonical.ts';
import * as push from './push.ts';

/**
 * apiwatch's own push endpoints (docs/ingest.md):
 * - `POST /v1/events`: canonical events (`apiwatch collect`, or any sender) as NDJSON, a JSON
 *   array or one object, gzip/deflate/zstd or not. Valid records are published and invalid ones
 *   reported one by one (and dead-lettered, redacted) in the same response.
 * - `POST /v1/dlq`: records a collector could not read, with its reason, kept redacted.
 */
export async function eventsHttpSource(app: FastifyInstance, opts: push.PushSourceOptions): Promise<void> {
  push.pushPlugin(app, opts, 'ingest request', (reply, _req, r) => push.sendRefusal(reply, r));
  const pipeline = push.sourcePipeline(opts, canonicalParser);
  const spec = {
    authHint: 'send Authorization: Bearer <collector token>',
    mediaTypes: push.JSON_MEDIA_TYPES,
    batchHint: 'send smaller batches',
  };

  app.post('/v1/events', async (req, reply) => {
    const admitted = await push.admitJsonRecords(opts, req, spec);
    if (!admitted.ok) return push.sendRefusal(reply, admitted.refusal);
    const now = Date.now();
    const result = push.runRecords(pipeline, admitted.records, now);
    const published = await push.publishResult(opts, 'canonical', admitted.collector, now, result);
    if (!published.ok) return push.sendRefusal(reply, published.refusal);
    const status = published.accepted === 0 && published.rejected.length > 0 ? 400 : 200;
    return reply
      .code(status)
      .send({ accepted: published.accepted, rejected: published.rejected.map(push.rejectionSummary) });
  });

  app.post('/v1/dlq', async (req, reply) => {
    const admitted = await push.admitJsonRecords(opts, req, spec);
    if (!admitted.ok) return push.sendRefusal(reply, admitted.refusal);
    const { records } = admitted;
    // A flood of dead letters costs the bus what events do: the same per-collector limit.
    const limited = push.rateLimit(opts, admitted.collector, records.length);
    if (limited) return push.sendRefusal(reply, limited);
    const now = Date.now();
    const messages = records.map((rec) => {
      const r = (rec.json && typeof rec.json === 'object' ? rec.json : {}) as Partial<DlqRecord>;
      const [m] = push.deadLetters(
        typeof r.source === 'string' ? r.source : 'unknown',
        admitted.collector,
        now,
        [
          {
            code: (typeof r.code === 'string'
              ? r.code
              : 'INGEST_PARSE_UNRECOGNISED') as 'INGEST_PARSE_UNRECOGNISED',
            reason: typeof r.reason === 'string' ? r.reason : 'reported by the collector',
            raw: typeof r.raw === 'string' ? r.raw : rec.text,
          },
        ],
      );
      if (typeof r.ts === 'number' && Number.isFinite(r.ts)) m!.value.ts = r.ts;
      return m!;
    });
    await opts.bus.publish('dlq', messages);
    if (opts.counters) opts.counters.rejected += messages.length;
    return reply.code(200).send({ accepted: messages.length });
  });
}
