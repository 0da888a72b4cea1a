/**
 * The pipeline's own metrics in the Prometheus text format. Each stage registers read-outs of
 * the counters it already keeps (no per-event work here); labels are bounded (stage, component,
 * reason), never a user, IP or path. Names follow apiwatch_<stage>_<noun>_<unit>.
 */
export type MetricType = 'counter' | 'gauge';

interface Series {
  name: string;
  help: string;
  type: MetricType;
  read: () => Array<{ labels?: Record<string, string>; value: number }>;
}

export class MetricsRegistry {
  private readonly series = new Map<string, Series>();

  /** Registers a metric read at scrape time; registering a name twice replaces it. */
  register(name: string, help: string, type: MetricType, read: Series['read']): void {
    if (!/^apiwatch_[a-z]+_[a-z_]+$/.test(name))
      throw new Error(`metric name ${name} is not apiwatch_<stage>_<noun>_<unit>`);
    this.series.set(name, { name, help, type, read });
  }

  render(): string {
    const out: string[] = [];
    for (const s of [...this.series.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      out.push(`# HELP ${s.name} ${s.help}`, `# TYPE ${s.name} ${s.type}`);
      for (const { labels, value } of s.read()) {
        const l =
          labels && Object.keys(labels).length > 0
            ? `{${Object.entries(labels)
                .map(([k, v]) => `${k}="${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`)
                .join(',')}}`
            : '';
        out.push(`${s.name}${l} ${Number.isFinite(value) ? value : 0}`);
      }
    }
    return `${out.join('\n')}\n`;
  }
}

/** One registry per process: every role in it reports here, `/metrics` renders it. */
export const metrics = new MetricsRegistry();
