import type { ObservableCallback, ObservableCounter, ObservableGauge } from '@opentelemetry/api';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';

/**
 * The pipeline's own metrics, through the OpenTelemetry metrics SDK and its Prometheus exporter
 * (docs/telemetry.md). Each stage registers read-outs of the counters it already keeps: a
 * `counter` becomes an OTel ObservableCounter, a `gauge` an ObservableGauge, and the read-out is
 * their callback, so nothing runs per event and the values are read at scrape time only. Labels
 * are bounded (stage, component, reason), never a user, IP or path. Names follow
 * apiwatch_<stage>_<noun>_<unit>.
 *
 * The exporter runs without its own HTTP server (`preventServerStart`): `/metrics` is served by
 * the listeners apiwatch already has (ingest, the management API, `telemetry.metrics.port`),
 * which call render(). Scope labels and `target_info` are off so the exposition keeps exactly the
 * names, types, labels and HELP texts the hand-rolled registry served before (dashboards and
 * alert rules key on them).
 */
export type MetricType = 'counter' | 'gauge';

type Read = () => Array<{ labels?: Record<string, string>; value: number }>;

interface Series {
  help: string;
  type: MetricType;
  instrument: ObservableCounter | ObservableGauge;
  callback: ObservableCallback;
}

export class MetricsRegistry {
  private readonly series = new Map<string, Series>();
  private readonly exporter = new PrometheusExporter({
    preventServerStart: true,
    withoutScopeInfo: true,
    withoutTargetInfo: true,
  });
  private readonly serializer = new PrometheusSerializer(undefined, false, undefined, true, true);
  private readonly provider = new MeterProvider({ readers: [this.exporter] });
  /** For instruments recorded on a path (histograms): same provider, same `/metrics`. */
  readonly meter = this.provider.getMeter('apiwatch');

  /**
   * Registers a metric read at scrape time; registering a name twice replaces its read-out (a
   * role started again in the same process). The same name with another type or help is a
   * programmer error: one name has one meaning.
   */
  register(name: string, help: string, type: MetricType, read: Read): void {
    if (!/^apiwatch_[a-z]+_[a-z_]+$/.test(name))
      throw new Error(`metric name ${name} is not apiwatch_<stage>_<noun>_<unit>`);
    if (type === 'counter' && !name.endsWith('_total'))
      throw new Error(`counter ${name} must end in _total (the Prometheus exporter would add it)`);
    const callback: ObservableCallback = (result) => {
      for (const { labels, value } of read())
        result.observe(Number.isFinite(value) ? value : 0, labels ?? {});
    };
    const old = this.series.get(name);
    if (old) {
      if (old.type !== type || old.help !== help)
        throw new Error(`metric ${name} is already registered as a ${old.type} with another help text`);
      old.instrument.removeCallback(old.callback);
      old.instrument.addCallback(callback);
      old.callback = callback;
      return;
    }
    const instrument =
      type === 'counter'
        ? this.meter.createObservableCounter(name, { description: help })
        : this.meter.createObservableGauge(name, { description: help });
    instrument.addCallback(callback);
    this.series.set(name, { help, type, instrument, callback });
  }

  /** Registered names with their type and help (a metric with no sample yet is not rendered). */
  registered(): Array<{ name: string; type: MetricType; help: string }> {
    return [...this.series].map(([name, s]) => ({ name, type: s.type, help: s.help }));
  }

  /** The Prometheus text exposition (format 0.0.4) of every metric, read now. */
  async render(): Promise<string> {
    const { resourceMetrics, errors } = await this.exporter.collect();
    if (errors.length > 0) throw new AggregateError(errors, 'metrics collection failed');
    const text = this.serializer.serialize(resourceMetrics);
    return text.endsWith('\n') ? text : `${text}\n`;
  }
}

/** One registry per process: every role in it reports here, `/metrics` renders it. */
export const metrics = new MetricsRegistry();
