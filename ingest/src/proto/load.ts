import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

/**
 * Loads the vendored .proto files (ingest/vendor/proto/README.md says where each tree comes
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
    const vendored = join(here, '..', '..', 'vendor', 'proto', tree, target);
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
  if (otlpRoot) return otlpRoot;
  const root = loadRoot('otlp', [
    'opentelemetry/proto/collector/trace/v1/trace_service.proto',
    'opentelemetry/proto/collector/logs/v1/logs_service.proto',
  ]);
  // The vendored v0.19 files predate `partial_success` (OTLP 1.0, field 1 of each response);
  // add it as the current spec defines it rather than edit the vendored files.
  addPartialSuccess(
    root,
    'opentelemetry.proto.collector.trace.v1',
    'ExportTraceServiceResponse',
    'ExportTracePartialSuccess',
    'rejectedSpans',
  );
  addPartialSuccess(
    root,
    'opentelemetry.proto.collector.logs.v1',
    'ExportLogsServiceResponse',
    'ExportLogsPartialSuccess',
    'rejectedLogRecords',
  );
  // google.rpc.Status, the OTLP/HTTP error body (details are not sent).
  const rpc = root.define('google.rpc');
  if (!rpc.get('Status')) {
    rpc.add(
      new protobuf.Type('Status')
        .add(new protobuf.Field('code', 1, 'int32'))
        .add(new protobuf.Field('message', 2, 'string')),
    );
  }
  root.resolveAll();
  otlpRoot = root;
  return root;
}

function addPartialSuccess(
  root: protobuf.Root,
  pkg: string,
  response: string,
  type: string,
  countField: string,
): void {
  const ns = root.lookup(pkg) as protobuf.Namespace;
  const res = root.lookupType(`${pkg}.${response}`);
  if (res.fields.partialSuccess) return;
  if (!ns.get(type)) {
    ns.add(
      new protobuf.Type(type)
        .add(new protobuf.Field(countField, 1, 'int64'))
        .add(new protobuf.Field('errorMessage', 2, 'string')),
    );
  }
  res.add(new protobuf.Field('partialSuccess', 1, type));
}
