import type { FastifyInstance, FastifyReply } from 'fastify';
import { type OtlpResult, otlpLogEvents, otlpTraceEvents } from '../parsers/otlp.ts';
import { toProtoJson } from '../proto/json.ts';
import { otlpProtos } from '../proto/load.ts';
import { authenticateCollector } from '../server/auth.ts';
import { CollectorRateLimitedError } from '../server/rate-limit.ts';
import {
  decodeBody,
  mediaType,
  type PushSourceOptions,
  publishParsed,
  rawBodies,
  sourceIdentity,
} from './push.ts';

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
    extract: otlpTraceEvents,
  },
  logs: {
    request: 'opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest',
    response: 'opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse',
    countField: 'rejectedLogRecords',
    extract: otlpLogEvents,
  },
} as const;

export async function otlpHttpSource(app: FastifyInstance, opts: PushSourceOptions): Promise<void> {
  rawBodies(app, opts.maxBodyBytes);
  const identity = sourceIdentity(opts, 'otlp');
  const root = otlpProtos();
  const status = root.lookupType('google.rpc.Status');

  const fail = (reply: FastifyReply, protobuf: boolean, httpStatus: number, message: string) => {
    // google.rpc.Code: 3 INVALID_ARGUMENT, 8 RESOURCE_EXHAUSTED, 16 UNAUTHENTICATED, 13 INTERNAL.
    const code = httpStatus === 401 ? 16 : httpStatus === 429 ? 8 : httpStatus >= 500 ? 13 : 3;
    if (protobuf) {
      return reply
        .code(httpStatus)
        .type('application/x-protobuf')
        .send(Buffer.from(status.encode(status.create({ code, message })).finish()));
    }
    return reply.code(httpStatus).type('application/json').send({ code, message });
  };

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, req, reply) => {
    const protobuf = mediaType(req.headers['content-type']) === 'application/x-protobuf';
    if (error.statusCode === 413 || error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return fail(
        reply,
        protobuf,
        413,
        `body larger than ${opts.maxBodyBytes} bytes; lower the exporter's batch size`,
      );
    }
    if (error instanceof CollectorRateLimitedError)
      reply.header('retry-after', String(error.retryAfterSeconds));
    if (error.statusCode && error.statusCode < 500)
      return fail(reply, protobuf, error.statusCode, error.message);
    opts.log.error({ err: error }, 'OTLP export failed inside apiwatch.');
    return fail(reply, protobuf, 500, 'internal error; see apiwatch logs');
  });

  const handle = (signal: Signal) => async (req: import('fastify').FastifyRequest, reply: FastifyReply) => {
    const spec = SIGNALS[signal];
    const type = mediaType(req.headers['content-type']);
    const protobuf = type === 'application/x-protobuf';
    if (!protobuf && type !== 'application/json') {
      return fail(reply, false, 415, 'send application/x-protobuf or application/json');
    }
    const collector = authenticateCollector(req.headers.authorization, opts.collectors);
    if (!collector) {
      if (opts.counters) opts.counters.unauthenticated++;
      reply.header('www-authenticate', 'Bearer realm="apiwatch-ingest"');
      return fail(reply, protobuf, 401, 'set the exporter header Authorization: Bearer <collector token>');
    }
    if (opts.bus.saturated()) {
      if (opts.counters) opts.counters.throttled++;
      reply.header('retry-after', '1');
      return fail(reply, protobuf, 429, 'the pipeline is saturated; retry after 1 s');
    }
    const decoded = decodeBody(
      req.body,
      req.headers['content-encoding'] as string | undefined,
      opts.maxBodyBytes,
    );
    if (!decoded.ok) return fail(reply, protobuf, decoded.status, decoded.message);
    let request: Record<string, unknown>;
    try {
      if (protobuf) {
        const t = root.lookupType(spec.request);
        request = toProtoJson(t, t.decode(decoded.bytes) as unknown as Record<string, unknown>, {
          hexBytesFields: HEX_ID_FIELDS,
          enumsAsNumbers: true,
        });
      } else {
        const parsed: unknown = JSON.parse(decoded.bytes.toString('utf8'));
        if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
          throw new Error('not a JSON object');
        request = parsed as Record<string, unknown>;
      }
    } catch (e) {
      return fail(
        reply,
        protobuf,
        400,
        `the body is not an OTLP ${signal} export request: ${(e as Error).message}`,
      );
    }
    const now = Date.now();
    const result: OtlpResult = spec.extract(request, { identity, gateway: null, now });
    const rejections = result.rejected.map((r, index) => ({
      index,
      code: 'INGEST_PARSE_UNRECOGNISED',
      reason: `${r.where}: ${r.reason}`,
      raw: JSON.stringify(pointer(request, r.where) ?? null),
    }));
    const { rejected } = await publishParsed(opts, 'otlp', collector, now, result.events, rejections);
    const messages: string[] = [];
    if (rejected.length > 0) {
      messages.push(
        `${rejected.length} rejected: ${rejected
          .slice(0, 3)
          .map((r) => r.reason)
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

  app.post('/v1/traces', handle('traces'));
  app.post('/v1/logs', handle('logs'));
}

/** `resourceSpans[0].scopeSpans[1].spans[2]` → that element, so the DLQ keeps the one bad item. */
function pointer(root: unknown, where: string): unknown {
  let cur: unknown = root;
  for (const m of where.matchAll(/(\w+)\[(\d+)\]/g)) {
    const key = m[1]!;
    const container =
      cur && typeof cur === 'object'
        ? ((cur as Record<string, unknown>)[key] ??
          (key === 'scopeSpans' ? (cur as Record<string, unknown>).instrumentationLibrarySpans : undefined))
        : undefined;
    cur = Array.isArray(container) ? container[Number(m[2])] : undefined;
  }
  return cur;
}
