import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isStackOverflow, jsonTooDeep, parseJson, tooDeepError } from '../parsers/json.ts';
import { otlpParser } from '../parsers/otlp.ts';
import { toProtoJson } from '../proto/json.ts';
import { otlpProtos } from '../proto/load.ts';
import * as push from './push.ts';

/**
 * OTLP/HTTP receiver (docs/formats/otlp.md): `POST /v1/traces` and `POST /v1/logs` in JSON
 * (`application/json`) or binary protobuf (`application/x-protobuf`), gzip or not — what an
 * OpenTelemetry Collector `otlphttp` exporter or an SDK sends. Answers follow the OTLP/HTTP spec:
 * 200 with `partialSuccess` (rejected count and message) in the request's encoding, 400 with a
 * google.rpc.Status for an unreadable body, 429/503 with Retry-After under backpressure.
 */
const HEX_ID_FIELDS = new Set(['traceId', 'spanId', 'parentSpanId']);

type Signal = 'traces' | 'logs';

const SIGNALS = {
  traces: {
    request: 'opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest',
    response: 'opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse',
    countField: 'rejectedSpans',
    field: 'resourceSpans',
  },
  logs: {
    request: 'opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest',
    response: 'opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse',
    countField: 'rejectedLogRecords',
    field: 'resourceLogs',
  },
} as const;

export async function otlpHttpSource(app: FastifyInstance, opts: push.PushSourceOptions): Promise<void> {
  const pipeline = push.sourcePipeline(opts, otlpParser);
  const root = otlpProtos();
  const status = root.lookupType('google.rpc.Status');
  const isProtobuf = (req: FastifyRequest) =>
    push.mediaType(req.headers['content-type']) === 'application/x-protobuf';

  const fail = (
    reply: FastifyReply,
    protobuf: boolean,
    r: { status: number; message: string; retryAfterSeconds?: number },
  ) => {
    // google.rpc.Code: 3 INVALID_ARGUMENT, 8 RESOURCE_EXHAUSTED, 16 UNAUTHENTICATED, 13 INTERNAL.
    const code = r.status === 401 ? 16 : r.status === 429 ? 8 : r.status >= 500 ? 13 : 3;
    if (r.retryAfterSeconds) reply.header('retry-after', String(r.retryAfterSeconds));
    if (r.status === 401) reply.header('www-authenticate', 'Bearer realm="apiwatch-ingest"');
    const message = r.message;
    if (protobuf) {
      return reply
        .code(r.status)
        .type('application/x-protobuf')
        .send(Buffer.from(status.encode(status.create({ code, message })).finish()));
    }
    return reply.code(r.status).type('application/json').send({ code, message });
  };
  push.pushPlugin(
    app,
    opts,
    'OTLP export',
    (reply, req, r) => fail(reply, isProtobuf(req), r),
    (reply, req) =>
      fail(reply, isProtobuf(req), { status: 500, message: 'internal error; see apiwatch logs' }),
  );

  const handle = (signal: Signal) => async (req: FastifyRequest, reply: FastifyReply) => {
    const spec = SIGNALS[signal];
    const protobuf = isProtobuf(req);
    const admitted = await push.admit(opts, req, {
      authHint: 'set the exporter header Authorization: Bearer <collector token>',
      mediaTypes: ['application/x-protobuf', 'application/json'],
    });
    if (!admitted.ok) return fail(reply, protobuf, admitted.refusal);
    const request = decodeRequest(admitted.body, protobuf, spec.request);
    if (!request.ok)
      return fail(reply, protobuf, {
        status: 400,
        message: `the body is not an OTLP ${signal} export request: ${request.reason}`,
      });
    // Only this signal's part of the request: a logs export posted to /v1/traces carries no spans.
    const now = Date.now();
    const result = pipeline.run(
      { text: '', json: { [spec.field]: request.value[spec.field] ?? [] } },
      { now },
    );
    const published = await push.publishResult(opts, 'otlp', admitted.collector, now, result);
    if (!published.ok) return fail(reply, protobuf, published.refusal);
    const { rejected } = published;
    const messages: string[] = [];
    if (rejected.length > 0) {
      messages.push(
        `${rejected.length} rejected: ${rejected
          .slice(0, 3)
          .map((r) => `${r.where ? `${r.where}: ` : ''}${r.reason}`)
          .join('; ')}${rejected.length > 3 ? '; …' : ''}`,
      );
    }
    if (signal === 'logs' && result.skipped > 0) {
      messages.push(`${result.skipped} log records are not HTTP access logs and carry no API call`);
    }
    const partialSuccess =
      messages.length > 0 ? { [spec.countField]: rejected.length, errorMessage: messages.join('. ') } : null;
    if (protobuf) {
      const t = root.lookupType(spec.response);
      const body = t.encode(t.create(partialSuccess ? { partialSuccess } : {})).finish();
      return reply.code(200).type('application/x-protobuf').send(Buffer.from(body));
    }
    return reply
      .code(200)
      .type('application/json')
      .send(
        partialSuccess
          ? { partialSuccess: { ...partialSuccess, [spec.countField]: String(rejected.length) } }
          : {},
      );
  };

  /** The export request as OTLP/JSON, depth-bounded whichever encoding it came in. */
  function decodeRequest(
    bytes: Buffer,
    protobuf: boolean,
    typeName: string,
  ): { ok: true; value: Record<string, unknown> } | { ok: false; reason: string } {
    let value: unknown;
    if (protobuf) {
      try {
        const t = root.lookupType(typeName);
        value = toProtoJson(t, t.decode(bytes) as unknown as Record<string, unknown>, {
          hexBytesFields: HEX_ID_FIELDS,
          enumsAsNumbers: true,
        });
      } catch (e) {
        // protobufjs errors name wire positions and types, never field contents.
        const message = (e as Error).message ?? '';
        return {
          ok: false,
          reason: isStackOverflow(e) ? tooDeepError('the message').message : message.slice(0, 200),
        };
      }
      if (jsonTooDeep(value)) return { ok: false, reason: tooDeepError('the message').message };
    } else {
      const parsed = parseJson(bytes.toString('utf8'), 'body');
      if (!parsed.ok) return { ok: false, reason: parsed.error.message };
      value = parsed.value;
    }
    if (!value || typeof value !== 'object' || Array.isArray(value))
      return { ok: false, reason: 'not a JSON object' };
    return { ok: true, value: value as Record<string, unknown> };
  }

  app.post('/v1/traces', handle('traces'));
  app.post('/v1/logs', handle('logs'));
}
