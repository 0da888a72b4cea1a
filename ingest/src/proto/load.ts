import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

/**
 * Loads the vendored .proto files (see README.md beside this file for where each tree comes
 * from). `google/protobuf/*` comes from protobufjs itself: its bundled well-known types, and
 * descriptor.proto from its package folder.
 */
const here = dirname(fileURLToPath(import.meta.url));
const protobufDir = dirname(createRequire(import.meta.url).resolve('protobufjs/package.json'));

function loadRoot(tree: string, entry: string[]): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin: string, target: string): string | null => {
    // protobufjs answers the well-known types (any, duration, struct, timestamp, wrappers…) itself.
    if (target in protobuf.common) return target;
    if (target.startsWith('google/protobuf/')) {
      const bundled = join(protobufDir, target);
      if (existsSync(bundled)) return bundled;
    }
    const vendored = join(here, tree, target);
    return existsSync(vendored) ? vendored : target;
  };
  root.loadSync(entry, { keepCase: false });
  root.resolveAll();
  return root;
}

let envoyRoot: protobuf.Root | null = null;
let otlpRoot: protobuf.Root | null = null;

/** envoy.service.accesslog.v3 (AccessLogService) and the types it uses. */
export function envoyProtos(): protobuf.Root {
  envoyRoot ??= loadRoot('envoy', ['envoy/service/accesslog/v3/als.proto']);
  return envoyRoot;
}

/** opentelemetry.proto.collector.{trace,logs}.v1 requests and responses. */
export function otlpProtos(): protobuf.Root {
  otlpRoot ??= loadRoot('otlp', [
    'opentelemetry/proto/collector/trace/v1/trace_service.proto',
    'opentelemetry/proto/collector/logs/v1/logs_service.proto',
  ]);
  return otlpRoot;
}
