import * as grpc from '@grpc/grpc-js';
import type { FastifyInstance } from 'fastify';
import { envoyAlsParser } from '../parsers/envoy-als.ts';
import { isStackOverflow, jsonTooDeep, tooDeepError } from '../parsers/json.ts';
import type { ParseErrorCode } from '../parsers/types.ts';
import type { PipelineResult } from '../pipeline.ts';
import { toProtoJson } from '../proto/json.ts';
import { envoyProtos } from '../proto/load.ts';
import { authenticateCollector } from '../server/auth.ts';
import { type PushSourceOptions, publishResult, sourcePipeline } from './push.ts';

/**
 * Envoy's gRPC Access Log Service (docs/formats/envoy-als.md): a real gRPC server implementing
 * `envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs`, so Envoy and Istio need only an
 * `envoy.access_loggers.http_grpc` logger pointing here. The collector token travels as gRPC
 * metadata (`authorization: Bearer …`, set with the logger's `grpc_service.initial_metadata`).
 * Backpressure is HTTP/2 flow control: while the bus is full the stream is paused, not refused,
 * because Envoy does not resend access logs it could not deliver.
 */
const SERVICE_PATH = '/envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs';

export interface EnvoyAlsServer {
  port: number;
  close(): Promise<void>;
  /** Streams seen, messages read, and streams refused for authentication. */
  stats: { streams: number; messages: number; unauthenticated: number; undecodable: number };
}

export async function startEnvoyAlsServer(
  opts: PushSourceOptions & { host: string; port: number },
): Promise<EnvoyAlsServer> {
  const root = envoyProtos();
  const messageType = root.lookupType('envoy.service.accesslog.v3.StreamAccessLogsMessage');
  const responseType = root.lookupType('envoy.service.accesslog.v3.StreamAccessLogsResponse');
  const pipeline = sourcePipeline(opts, envoyAlsParser);

  const decodeMessage = (
    bytes: Buffer,
  ): { ok: true; value: Record<string, unknown> } | { ok: false; code: ParseErrorCode; reason: string } => {
    let value: Record<string, unknown>;
    try {
      value = toProtoJson(messageType, messageType.decode(bytes) as unknown as Record<string, unknown>);
    } catch (e) {
      return isStackOverflow(e)
        ? { ok: false, code: 'INGEST_PARSE_TOO_DEEP', reason: tooDeepError('the message').message }
        : {
            ok: false,
            code: 'INGEST_PARSE_UNRECOGNISED',
            reason: ((e as Error).message ?? '').slice(0, 200),
          };
    }
    if (jsonTooDeep(value))
      return { ok: false, code: 'INGEST_PARSE_TOO_DEEP', reason: tooDeepError('the message').message };
    return { ok: true, value };
  };
  const stats = { streams: 0, messages: 0, unauthenticated: 0, undecodable: 0 };

  const definition: grpc.ServiceDefinition = {
    StreamAccessLogs: {
      path: SERVICE_PATH,
      requestStream: true,
      responseStream: false,
      // Decoding happens per message in the handler so one bad message is dead-lettered, not fatal.
      requestSerialize: (value: Buffer) => value,
      requestDeserialize: (bytes: Buffer) => bytes,
      responseSerialize: () => Buffer.from(responseType.encode(responseType.create({})).finish()),
      responseDeserialize: (bytes: Buffer) => bytes,
      originalName: 'streamAccessLogs',
    },
  };

  const server = new grpc.Server({
    'grpc.max_receive_message_length': opts.maxBodyBytes,
    'grpc.keepalive_permit_without_calls': 1,
  });

  const handler: grpc.handleClientStreamingCall<Buffer, Record<string, never>> = (call, callback) => {
    const auth = call.metadata.get('authorization')[0];
    const collector = authenticateCollector(typeof auth === 'string' ? auth : undefined, opts.collectors);
    if (!collector) {
      stats.unauthenticated++;
      if (opts.counters) opts.counters.unauthenticated++;
      callback({
        code: grpc.status.UNAUTHENTICATED,
        details: 'send metadata authorization: Bearer <collector token>',
      });
      return;
    }
    stats.streams++;
    // Per-stream parser state: only the first message of a stream names the proxy.
    const stream: Record<string, unknown> = {};
    let chain = Promise.resolve();
    let failed = false;

    call.on('data', (bytes: Buffer) => {
      stats.messages++;
      call.pause();
      chain = chain
        .then(async () => {
          const now = Date.now();
          const message = decodeMessage(bytes);
          const result: PipelineResult = message.ok
            ? pipeline.run({ text: '', json: message.value }, { now, stream })
            : {
                events: [],
                rejected: [
                  {
                    index: 0,
                    code: message.code,
                    reason: `not a StreamAccessLogsMessage: ${message.reason}`,
                    raw: bytes.subarray(0, 4096).toString('base64'),
                  },
                ],
                skipped: 0,
              };
          if (!message.ok) stats.undecodable++;
          // ALS has no way to say "slow down" but flow control: a rate-limited message is still published.
          const published = await publishResult(
            { ...opts, rateLimiter: undefined },
            'envoy-als',
            collector,
            now,
            result,
          );
          if (!published.ok) throw new Error(published.refusal.message);
        })
        .catch((e: unknown) => {
          failed = true;
          opts.log.error({ err: e }, 'Envoy ALS message could not be published.');
        })
        .finally(() => call.resume());
    });
    call.on('end', () => {
      void chain.then(() => {
        if (failed)
          callback({ code: grpc.status.UNAVAILABLE, details: 'apiwatch could not publish some access logs' });
        else callback(null, {});
      });
    });
    call.on('error', () => {
      // The proxy went away; what was read is already published.
    });
  };

  server.addService(definition, { StreamAccessLogs: handler as grpc.UntypedHandleCall });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${opts.host}:${opts.port}`, grpc.ServerCredentials.createInsecure(), (e, bound) =>
      e ? reject(e) : resolve(bound),
    );
  });
  return {
    port,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        // Streams Envoy keeps open forever would hold shutdown: force after a grace period.
        setTimeout(() => server.forceShutdown(), 2000).unref();
      }),
  };
}

/** Starts the ALS gRPC listener with the ingest server when `ingest.envoyAls.enabled`. */
export async function envoyAlsGrpcSource(app: FastifyInstance, opts: PushSourceOptions): Promise<void> {
  const cfg = opts.envoyAls;
  if (!cfg?.enabled) return;
  const server = await startEnvoyAlsServer({ ...opts, host: cfg.host, port: cfg.port });
  if (opts.listeners) opts.listeners.envoyAls = server.port;
  opts.log.info(
    { address: `${cfg.host}:${server.port}`, service: SERVICE_PATH },
    'Envoy ALS gRPC listening.',
  );
  app.addHook('onClose', async () => {
    await server.close();
  });
}
