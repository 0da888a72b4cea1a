import {
  type Attributes,
  type Context,
  DiagLogLevel,
  defaultTextMapGetter,
  defaultTextMapSetter,
  diag,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import type { BusMessage } from '../bus/types.ts';
import type { TelemetryTracesConfigValue } from '../config/schema.ts';
import type { Logger } from '../log.ts';

/**
 * The pipeline's own traces (docs/telemetry.md, docs/decisions/0025-pipeline-tracing.md).
 *
 * One trace follows one ingest batch (a push request: every event it published) through the bus
 * to detect and to the notifications its findings caused:
 *
 *   ingest <source>   (producer)  one span per published batch; the sampling decision is made here
 *   detect <topic>    (consumer)  per consumer batch, one span per sampled trace in it
 *   alert findings    (consumer)  per consumer batch, one span per sampled trace in it
 *   notify <receiver> (client)    per send attempt, one span per sampled trace among its findings
 *
 * The trace context travels as W3C `traceparent` / `tracestate` message headers, on Kafka as
 * record headers and on the embedded bus (and its journal) in the message's `headers`. Only a
 * sampled batch carries them: every message of one batch shares one headers object, so the Kafka
 * bus still chunks a batch's messages of one key into one record. No span is started per event
 * and nothing is looked up per event when no message of a consumer batch carries a context.
 *
 * Without a span exporter (no `telemetry.traces.otlp.endpoint`, no test exporter) there is no
 * tracer provider at all: every call here is a cheap no-op and nothing goes over the network.
 */

/** The W3C headers this bus carries. */
export const TRACEPARENT_HEADER = 'traceparent';
export const TRACESTATE_HEADER = 'tracestate';

export type TraceHeaders = Record<string, string>;
/** A span's identity (trace id, span id, flags), as carried by the W3C headers. */
export type TraceContext = SpanContext;

export interface TracingSetup {
  config: TelemetryTracesConfigValue;
  /** `service.name` of the resource (default `apiwatch`). */
  serviceName?: string;
  /** Exporters that get every ended span at once (tests: an InMemorySpanExporter). */
  exporters?: SpanExporter[];
  /** Where the SDK's own warnings go (a failed OTLP export, a full span queue). */
  log?: Logger;
}

/** Most spans one consumer batch (or one notification) starts, one per sampled trace in it. */
const MAX_SPANS_PER_BATCH = 64;

const propagator = new W3CTraceContextPropagator();
const noopTracer = trace.getTracer('apiwatch-noop');

class Tracing {
  private provider: TracerProvider | null = null;
  private tracer: Tracer = noopTracer;

  /** True when spans are recorded and exported somewhere. */
  get enabled(): boolean {
    return this.provider !== null;
  }

  /**
   * Sets up the tracer provider from `telemetry.traces` (replacing an earlier one): sampler
   * ParentBased(TraceIdRatio(sampleRatio)), an OTLP/HTTP exporter only when an endpoint is
   * configured, plus the given exporters. With neither, nothing changes (tracing stays as it
   * is: off in `apiwatch start`). Returns what stops this provider (and only this one: a later
   * configure in the same process is not stopped by an earlier caller).
   */
  async configure(setup: TracingSetup): Promise<() => Promise<void>> {
    const { config } = setup;
    const processors: SpanProcessor[] = (setup.exporters ?? []).map(
      (exporter) => new SimpleSpanProcessor({ exporter }),
    );
    if (config.otlp.endpoint) {
      processors.push(
        new BatchSpanProcessor({
          exporter: new OTLPTraceExporter({
            url: config.otlp.endpoint,
            timeoutMillis: config.otlp.timeoutMs,
          }),
          maxQueueSize: config.maxQueuedSpans,
          maxExportBatchSize: Math.min(512, config.maxQueuedSpans),
        }),
      );
    }
    if (processors.length === 0) return async () => {};
    await this.shutdown();
    const log = setup.log;
    if (log) {
      // The SDK reports export failures through its diag logger; without one they are silent.
      diag.setLogger(
        {
          error: (m: string, ...a: unknown[]) => log.error({ otel: a }, `opentelemetry: ${m}.`),
          warn: (m: string, ...a: unknown[]) => log.warn({ otel: a }, `opentelemetry: ${m}.`),
          info: () => {},
          debug: () => {},
          verbose: () => {},
        },
        { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
      );
    }
    const provider = new TracerProvider({
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.sampleRatio) }),
      resource: resourceFromAttributes({ 'service.name': setup.serviceName ?? 'apiwatch' }),
      spanProcessors: processors,
    });
    this.provider = provider;
    this.tracer = provider.getTracer('apiwatch');
    return async () => {
      if (this.provider === provider) await this.shutdown();
    };
  }

  /** Exports what is pending and stops (process shutdown, tests). */
  async shutdown(): Promise<void> {
    const p = this.provider;
    this.provider = null;
    this.tracer = noopTracer;
    await p?.shutdown();
  }

  async flush(): Promise<void> {
    await this.provider?.forceFlush();
  }

  /**
   * Starts the producer span of one batch about to be published (a root: sampled at
   * `sampleRatio`, or a child of `parent` when the batch arrived with a context). `headers` is
   * what every message of the batch carries: null when the batch is not sampled.
   */
  startBatch(
    name: string,
    attributes: Attributes,
    options: { startTime?: number; parent?: TraceHeaders | null } = {},
  ): { span: Span | null; headers: TraceHeaders | null } {
    if (!this.provider) return { span: null, headers: null };
    const parent = options.parent ? extract(options.parent) : ROOT_CONTEXT;
    const span = this.tracer.startSpan(
      name,
      { kind: SpanKind.PRODUCER, attributes, ...(options.startTime ? { startTime: options.startTime } : {}) },
      parent,
    );
    return { span, headers: headersOf(span.spanContext()) };
  }

  /**
   * The consumer spans of one delivered batch: one child span per distinct sampled trace
   * context among the messages' headers (at most MAX_SPANS_PER_BATCH; further traces are only
   * counted). `contextOf(m)` gives the span context of the span for m's trace, for whatever m
   * causes downstream (findings, notifications).
   */
  consume<T>(name: string, messages: readonly BusMessage<T>[], attributes: Attributes): ConsumerSpans {
    if (!this.provider) return NO_SPANS;
    let byParent: Map<string, { headers: TraceHeaders; count: number }> | null = null;
    for (const m of messages) {
      const tp = m.headers?.[TRACEPARENT_HEADER];
      if (tp === undefined) continue;
      byParent ??= new Map();
      const seen = byParent.get(tp);
      if (seen) seen.count++;
      else byParent.set(tp, { headers: m.headers!, count: 1 });
    }
    if (!byParent) return NO_SPANS;
    return new BatchSpans(this.tracer, SpanKind.CONSUMER, name, attributes, [...byParent.values()]);
  }

  /**
   * Spans for work done on behalf of several traced items (a notification of many findings):
   * one child span per distinct sampled context.
   */
  startFor(name: string, parents: readonly SpanContext[], attributes: Attributes): ConsumerSpans {
    if (!this.provider || parents.length === 0) return NO_SPANS;
    const byId = new Map<string, { headers: TraceHeaders; count: number }>();
    for (const p of parents) {
      const h = headersOf(p);
      if (!h) continue;
      const k = h[TRACEPARENT_HEADER]!;
      const seen = byId.get(k);
      if (seen) seen.count++;
      else byId.set(k, { headers: h, count: 1 });
    }
    if (byId.size === 0) return NO_SPANS;
    return new BatchSpans(this.tracer, SpanKind.CLIENT, name, attributes, [...byId.values()]);
  }
}

/** The spans of one batch; a no-op when tracing is off or nothing in the batch is traced. */
export interface ConsumerSpans {
  /** Whether any span was started (callers skip their per-message work when not). */
  readonly active: boolean;
  /** The span context of the span for this message's trace, if it has one. */
  contextOf(message: Pick<BusMessage<unknown>, 'headers'>): SpanContext | undefined;
  /** Sets an attribute on every span. */
  set(key: string, value: string | number | boolean): void;
  /** Ends every span; an error marks them failed. */
  end(error?: unknown): void;
}

const NO_SPANS: ConsumerSpans = {
  active: false,
  contextOf: () => undefined,
  set: () => {},
  end: () => {},
};

class BatchSpans implements ConsumerSpans {
  readonly active = true;
  private readonly spans = new Map<string, Span>();

  constructor(
    tracer: Tracer,
    kind: SpanKind,
    name: string,
    attributes: Attributes,
    parents: Array<{ headers: TraceHeaders; count: number }>,
  ) {
    const untraced = Math.max(0, parents.length - MAX_SPANS_PER_BATCH);
    for (const p of parents.slice(0, MAX_SPANS_PER_BATCH)) {
      const parent = extract(p.headers);
      // A malformed or unsampled context starts nothing (the ParentBased sampler would drop it).
      const sc = trace.getSpanContext(parent);
      if (!sc || !(sc.traceFlags & TraceFlags.SAMPLED)) continue;
      const span = tracer.startSpan(
        name,
        {
          kind,
          attributes: {
            ...attributes,
            'messaging.batch.message_count': p.count,
            ...(untraced > 0 ? { 'apiwatch.traces_not_spanned': untraced } : {}),
          },
        },
        parent,
      );
      this.spans.set(p.headers[TRACEPARENT_HEADER]!, span);
    }
  }

  contextOf(message: Pick<BusMessage<unknown>, 'headers'>): SpanContext | undefined {
    const tp = message.headers?.[TRACEPARENT_HEADER];
    return tp === undefined ? undefined : this.spans.get(tp)?.spanContext();
  }

  set(key: string, value: string | number | boolean): void {
    for (const s of this.spans.values()) s.setAttribute(key, value);
  }

  end(error?: unknown): void {
    for (const s of this.spans.values()) {
      if (error !== undefined) {
        s.recordException(error instanceof Error ? error : String(error));
        s.setStatus({ code: SpanStatusCode.ERROR, message: String((error as Error)?.message ?? error) });
      }
      s.end();
    }
  }
}

/** Ends a producer span (startBatch), marking it failed when `error` is given. */
export function endSpan(span: Span | null, error?: unknown, attributes?: Attributes): void {
  if (!span) return;
  if (attributes) span.setAttributes(attributes);
  if (error !== undefined) {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({ code: SpanStatusCode.ERROR, message: String((error as Error)?.message ?? error) });
  }
  span.end();
}

/** Headers by span context object (a span returns the same one each time): one object per span. */
const headersCache = new WeakMap<SpanContext, TraceHeaders>();

/**
 * The W3C headers of a span context: null unless it is valid and sampled. The same object for
 * the same span, so every message it marks shares it (and the Kafka bus chunks them together).
 */
export function headersOf(sc: SpanContext | undefined): TraceHeaders | null {
  if (!sc || !(sc.traceFlags & TraceFlags.SAMPLED) || !trace.isSpanContextValid(sc)) return null;
  const cached = headersCache.get(sc);
  if (cached) return cached;
  const carrier: TraceHeaders = {};
  propagator.inject(trace.setSpanContext(ROOT_CONTEXT, sc), carrier, defaultTextMapSetter);
  // Shared by every message of a batch: frozen, so no consumer can change another's headers.
  Object.freeze(carrier);
  headersCache.set(sc, carrier);
  return carrier;
}

/** The remote context in W3C headers (malformed ones give the root context). */
function extract(headers: TraceHeaders): Context {
  return propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
}

/**
 * Trace contexts of findings, by finding id, for the notifications that carry them later (the
 * router groups findings and sends after group_wait, so the bus message is long gone). Bounded:
 * the oldest entries go first; a finding whose context has gone is sent untraced.
 */
export class FindingTraces {
  private readonly byId = new Map<string, SpanContext>();
  private readonly capacity: number;

  constructor(capacity = 10_000) {
    this.capacity = capacity;
  }

  remember(findingId: string, sc: SpanContext): void {
    this.byId.delete(findingId);
    this.byId.set(findingId, sc);
    if (this.byId.size > this.capacity) this.byId.delete(this.byId.keys().next().value!);
  }

  get(findingId: string): SpanContext | undefined {
    return this.byId.get(findingId);
  }
}

/** One per process: every role in it traces here. */
export const tracing = new Tracing();
/** The findings' contexts, shared by the alert role (writes) and delivery (reads). */
export const findingTraces = new FindingTraces();
