import * as grpc from '@grpc/grpc-js';
import type { FastifyInstance } from 'fastify';
import { type AlsIdentifier, alsIdentifier, alsMessageEvents } from '../parsers/envoy-als.ts';
import { toProtoJson } from '../proto/json.ts';
import { envoyProtos } from '../proto/load.ts';
import { authenticateCollector } from '../server/auth.ts';
import { type PushSourceOptions, publishParsed, sourceIdentity } from './push.ts';

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
  const identity = sourceIdentity(opts, 'envoy-als');
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
    let streamIdentifier: AlsIdentifier | null = null;
    let chain = Promise.resolve();
    let failed = false;

    call.on('data', (bytes: Buffer) => {
      stats.messages++;
      call.pause();
      chain = chain
        .then(async () => {
          const now = Date.now();
          let message: Record<string, unknown>;
          try {
            message = toProtoJson(
              messageType,
              messageType.decode(bytes) as unknown as Record<string, unknown>,
            );
          } catch (e) {
            stats.undecodable++;
            await publishParsed(
              opts,
              'envoy-als',
              collector,
              now,
              [],
              [
                {
                  index: 0,
                  code: 'INGEST_PARSE_UNRECOGNISED',
                  reason: `not a StreamAccessLogsMessage: ${(e as Error).message}`,
                  raw: bytes.subarray(0, 4096).toString('base64'),
                },
              ],
            );
            return;
          }
          // Only the first message of a stream is guaranteed to carry the identifier.
          streamIdentifier = alsIdentifier(message) ?? streamIdentifier;
          const { events, rejected } = alsMessageEvents(message, streamIdentifier, {
            identity,
            gateway: null,
            now,
          });
          await publishParsed(
            opts,
            'envoy-als',
            collector,
            now,
            events,
            rejected.map((r) => ({
              index: r.index,
              code: r.code,
              reason: `logEntry[${r.index}]: ${r.reason}`,
              raw: r.raw,
            })),
          );
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
  opts.log.info(
    { address: `${cfg.host}:${server.port}`, service: SERVICE_PATH },
    'Envoy ALS gRPC listening.',
  );
  app.addHook('onClose', async () => {
    await server.close();
  });
}
