import { type ApiEvent, apiwatchError } from '@apiwatch/core';
import type { FastifyInstance } from 'fastify';
import { kongParser, redactKongRecord } from '../parsers/kong.ts';
import { authenticateCollector } from '../server/auth.ts';
import {
  decodeBody,
  mediaType,
  type PushRejection,
  type PushSourceOptions,
  publishParsed,
  rawBodies,
  sourceIdentity,
} from './push.ts';

/**
 * `POST /v1/kong/http-log`: the Kong http-log plugin's `http_endpoint` (docs/formats/kong.md).
 * The body is a JSON array (queue batches) or one object; NDJSON is read too. Unreadable entries
 * are answered one by one and dead-lettered; they are not retried (a retry cannot fix them), so
 * the answer is 200 unless the body itself is not JSON.
 */
export async function kongHttpLogSource(app: FastifyInstance, opts: PushSourceOptions): Promise<void> {
  rawBodies(app, opts.maxBodyBytes);
  const identity = sourceIdentity(opts, 'kong');

  app.post('/v1/kong/http-log', async (req, reply) => {
    const collector = authenticateCollector(req.headers.authorization, opts.collectors);
    if (!collector) {
      if (opts.counters) opts.counters.unauthenticated++;
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="apiwatch-ingest"')
        .send({
          error: apiwatchError(
            'INGEST_UNAUTHENTICATED',
            'set the http-log plugin header Authorization: Bearer <collector token>',
          ),
        });
    }
    if (opts.bus.saturated()) {
      if (opts.counters) opts.counters.throttled++;
      return reply
        .code(429)
        .header('retry-after', '1')
        .send({ error: apiwatchError('INGEST_BACKPRESSURE', 'the pipeline is saturated; retry after 1 s') });
    }
    const type = mediaType(req.headers['content-type']);
    if (type && type !== 'application/json' && !type.endsWith('ndjson') && type !== 'application/jsonl') {
      return reply
        .code(415)
        .send({ error: apiwatchError('INGEST_UNSUPPORTED_MEDIA_TYPE', 'send application/json') });
    }
    const decoded = decodeBody(
      req.body,
      req.headers['content-encoding'] as string | undefined,
      opts.maxBodyBytes,
    );
    if (!decoded.ok) {
      const code =
        decoded.status === 413
          ? 'INGEST_BODY_TOO_LARGE'
          : decoded.status === 415
            ? 'INGEST_UNSUPPORTED_MEDIA_TYPE'
            : 'INGEST_PARSE_INVALID_JSON';
      return reply.code(decoded.status).send({ error: apiwatchError(code, decoded.message) });
    }
    const records = frameKong(decoded.bytes.toString('utf8'));
    if ('error' in records)
      return reply.code(400).send({ error: apiwatchError('INGEST_PARSE_INVALID_JSON', records.error) });
    if (records.items.length > opts.maxRecordsPerRequest) {
      return reply.code(413).send({
        error: apiwatchError(
          'INGEST_BODY_TOO_LARGE',
          `more than ${opts.maxRecordsPerRequest} records; lower the plugin's queue.max_batch_size`,
        ),
      });
    }
    const now = Date.now();
    const ctx = { identity, gateway: null, now };
    const events: ApiEvent[] = [];
    const rejections: PushRejection[] = [];
    records.items.forEach((item, index) => {
      const redactedRaw = () => ('value' in item ? JSON.stringify(redactKongRecord(item.value)) : item.text);
      if (!('value' in item)) {
        rejections.push({ index, code: 'INGEST_PARSE_INVALID_JSON', reason: item.error, raw: redactedRaw() });
        return;
      }
      const result = kongParser.parse({ text: item.text, json: item.value }, ctx);
      if (result.ok) events.push(...result.value);
      else
        rejections.push({ index, code: result.error.code, reason: result.error.message, raw: redactedRaw() });
    });
    const { accepted, rejected } = await publishParsed(opts, 'kong', collector, now, events, rejections);
    return reply
      .code(200)
      .send({ accepted, rejected: rejected.map(({ index, code, reason }) => ({ index, code, reason })) });
  });
}

type FramedItem = { text: string; value: unknown } | { text: string; error: string };

/** A JSON array (batch), one object, or NDJSON (a bad line spoils only itself). */
function frameKong(body: string): { items: FramedItem[] } | { error: string } {
  const trimmed = body.trim();
  if (!trimmed) return { items: [] };
  try {
    const whole: unknown = JSON.parse(trimmed);
    if (Array.isArray(whole))
      return { items: whole.map((value) => ({ text: JSON.stringify(value), value })) };
    return { items: [{ text: trimmed, value: whole }] };
  } catch (e) {
    if (!trimmed.startsWith('{') || !trimmed.includes('\n'))
      return { error: `the body is not JSON: ${(e as Error).message}` };
  }
  const items: FramedItem[] = [];
  for (const line of trimmed.split('\n')) {
    if (!line.trim()) continue;
    try {
      items.push({ text: line, value: JSON.parse(line) });
    } catch (e) {
      items.push({ text: line, error: (e as Error).message });
    }
  }
  return { items };
}
