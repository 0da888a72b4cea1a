// One regex per line kind, tested in an else-if chain: assignment inside the condition keeps
// each match next to its branch (biome.json turns noAssignInExpressions off for this file).
/**
 * The OpenTelemetry Collector `debug` exporter's detailed text (what `kubectl logs otel-collector`
 * shows) → OTLP/JSON requests, so a dump pasted from a collector can be checked with
 * `apiwatch parse --format otlp`. The text is for humans and lossy: ints and doubles keep their
 * type name, arrays and maps print as text, and the resource header line may be cut off. It is not
 * a transport: point the collector's `otlphttp` exporter at apiwatch instead (docs/formats/otlp.md).
 */

type KeyValue = { key: string; value: Record<string, unknown> };

interface DebugResource {
  attributes: KeyValue[];
  scopes: Array<{ scope: { name?: string; version?: string }; items: Record<string, unknown>[] }>;
  signal: 'traces' | 'logs' | null;
}

export interface CollectorDebugRequests {
  traces: { resourceSpans: unknown[] } | null;
  logs: { resourceLogs: unknown[] } | null;
}

/** True when the text looks like debug-exporter output (so the parser can route it here). */
export function isCollectorDebugText(text: string): boolean {
  return /^(?:.*\t)?(?:ResourceSpans #\d|ResourceLog #\d|Resource attributes:|ScopeSpans #\d|ScopeLogs #\d)/m.test(
    text,
  );
}

const KINDS: Record<string, number> = {
  Unspecified: 0,
  Internal: 1,
  Server: 2,
  Client: 3,
  Producer: 4,
  Consumer: 5,
};

export function collectorDebugToOtlp(text: string): CollectorDebugRequests {
  const resources: DebugResource[] = [];
  let resource: DebugResource | null = null;
  let item: Record<string, unknown> | null = null;
  let target: KeyValue[] | null = null;

  const newResource = (signal: DebugResource['signal']): DebugResource => {
    const r: DebugResource = { attributes: [], scopes: [], signal };
    resources.push(r);
    item = null;
    return r;
  };
  const currentScope = () => {
    resource ??= newResource(null);
    if (resource.scopes.length === 0) resource.scopes.push({ scope: {}, items: [] });
    return resource.scopes[resource.scopes.length - 1]!;
  };

  for (const rawLine of text.split(/\r?\n/)) {
    // Collector log lines prefix the first line of a block with `<time>\t<level>\t`.
    const line = rawLine.replace(/^\S+\t(?:info|debug|warn|error)\t/, '');
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('{')) continue;
    let m: RegExpExecArray | null;
    if (/^ResourceSpans #\d+/.test(trimmed)) {
      resource = newResource('traces');
      target = null;
    } else if (/^ResourceLog #\d+/.test(trimmed)) {
      resource = newResource('logs');
      target = null;
    } else if (trimmed === 'Resource attributes:') {
      // A second "Resource attributes" block with no header line starts a new resource.
      if (!resource || resource.scopes.length > 0) resource = newResource(null);
      target = resource.attributes;
    } else if ((m = /^Scope(Spans|Logs) #\d+/.exec(trimmed))) {
      resource ??= newResource(null);
      resource.signal ??= m[1] === 'Spans' ? 'traces' : 'logs';
      resource.scopes.push({ scope: {}, items: [] });
      item = null;
      target = null;
    } else if ((m = /^InstrumentationScope (\S+)(?: (\S+))?$/.exec(trimmed))) {
      const s = currentScope();
      s.scope = { name: m[1]!, ...(m[2] ? { version: m[2] } : {}) };
    } else if (/^(?:Span|LogRecord) #\d+/.test(trimmed)) {
      item = { attributes: [] };
      currentScope().items.push(item);
      target = null;
    } else if (trimmed === 'Attributes:') {
      target = item ? (item.attributes as KeyValue[]) : null;
    } else if ((m = /^-> ([^:]+): (\w+)\((.*)\)$/.exec(trimmed))) {
      target?.push({ key: m[1]!, value: anyValue(m[2]!, m[3]!) });
    } else if (item && (m = /^([A-Za-z ]+?)\s*:\s?(.*)$/.exec(trimmed))) {
      spanOrLogField(item, m[1]!.trim(), m[2]!.trim());
    }
  }

  const traces = resources.filter((r) => r.signal === 'traces');
  const logs = resources.filter((r) => r.signal === 'logs');
  return {
    traces:
      traces.length > 0
        ? {
            resourceSpans: traces.map((r) => ({
              resource: { attributes: r.attributes },
              scopeSpans: r.scopes.map((s) => ({ scope: s.scope, spans: s.items })),
            })),
          }
        : null,
    logs:
      logs.length > 0
        ? {
            resourceLogs: logs.map((r) => ({
              resource: { attributes: r.attributes },
              scopeLogs: r.scopes.map((s) => ({ scope: s.scope, logRecords: s.items })),
            })),
          }
        : null,
  };
}

function spanOrLogField(item: Record<string, unknown>, name: string, value: string): void {
  switch (name) {
    case 'Trace ID':
      if (value) item.traceId = value;
      break;
    case 'Parent ID':
      if (value) item.parentSpanId = value;
      break;
    case 'ID':
    case 'Span ID':
      if (value) item.spanId = value;
      break;
    case 'Name':
      item.name = value;
      break;
    case 'Kind':
      item.kind = KINDS[value] ?? 0;
      break;
    case 'Start time':
      item.startTimeUnixNano = debugTimeToNanos(value);
      break;
    case 'End time':
      item.endTimeUnixNano = debugTimeToNanos(value);
      break;
    case 'Timestamp':
      item.timeUnixNano = debugTimeToNanos(value);
      break;
    case 'ObservedTimestamp':
      item.observedTimeUnixNano = debugTimeToNanos(value);
      break;
    case 'SeverityText':
      if (value) item.severityText = value;
      break;
    case 'SeverityNumber':
      item.severityNumber = Number(/\((\d+)\)/.exec(value)?.[1] ?? 0);
      break;
    case 'Body': {
      const m = /^(\w+)\((.*)\)$/.exec(value);
      if (m) item.body = anyValue(m[1]!, m[2]!);
      break;
    }
    default:
      break;
  }
}

function anyValue(type: string, text: string): Record<string, unknown> {
  switch (type) {
    case 'Int':
      return { intValue: text };
    case 'Double':
      return { doubleValue: Number(text) };
    case 'Bool':
      return { boolValue: text === 'true' };
    case 'Bytes':
      return { bytesValue: text };
    default:
      // Str, and Slice/Map/Empty printed as text.
      return { stringValue: text };
  }
}

/** `2025-12-12 10:47:13.299000064 +0000 UTC` → `"1765536433299000064"`; "" when unreadable. */
export function debugTimeToNanos(value: string): string {
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))? ([+-]\d{2})(\d{2})/.exec(value);
  if (!m) return '';
  const seconds = Date.parse(`${m[1]}T${m[2]}${m[4]}:${m[5]}`);
  if (!Number.isFinite(seconds)) return '';
  return (BigInt(seconds) * 1_000_000n + BigInt((m[3] ?? '').padEnd(9, '0'))).toString();
}
