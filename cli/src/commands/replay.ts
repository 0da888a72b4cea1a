import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChdbStore, countPastRetention, type Finding } from '@apiwatch/core';
import { ReplayRunner } from '@apiwatch/detectors';
import { readRecords } from '@apiwatch/ingest';
import type { Command } from '../command.ts';
import { loadCliConfig } from '../config.ts';
import {
  eventReader,
  fmt,
  formatOption,
  openInput,
  progressReporter,
  requireParser,
  specOption,
  stdoutWriter,
} from '../input.ts';

export const replayCommand: Command = {
  name: 'replay',
  summary: 'Run a log file through the parsers and detectors on event time; findings as NDJSON.',
  usage: 'apiwatch replay --format <format> [--spec <openapi>]... [--config <file>] <file | ->',
  allowPositionals: true,
  options: {
    format: formatOption,
    config: {
      type: 'string',
      short: 'c',
      description: 'YAML config: detector settings under detect.',
      valueName: 'file',
    },
    progress: {
      type: 'boolean',
      description: 'Progress lines on stderr even when it is not a terminal.',
      default: false,
    },
    spec: specOption,
    quiet: { type: 'boolean', short: 'q', description: 'Only the summary on stderr.', default: false },
    'no-baselines': {
      type: 'boolean',
      description: 'Judge against the static fallbacks only (skip learning from the replayed history).',
      default: false,
    },
  },
  details: [
    'Findings go to stdout, one JSON object per line; progress and a summary go to stderr.',
    "Detectors run on the events' own timestamps, so a day of logs gives the findings that day",
    'would have given live. Baselines are learned from the replayed history itself (an embedded',
    'store under a temporary directory, refreshed every detect.baselines.refreshMinutes of event',
    'time), so an attack on the last day is judged against the weeks before it.',
    '',
    "Example: apiwatch replay --format nginx access.log | jq -c '{detector, entity, summary}'",
  ].join('\n'),
  async run(values, positionals) {
    const parser = requireParser(values.format);
    const config = loadCliConfig(values.config as string | undefined);
    const read = eventReader(parser, config, { extraSpecs: (values.spec as string[] | undefined) ?? [] });
    const learn = config.detect.baselines.enabled && !values['no-baselines'];
    const tempDir = learn ? mkdtempSync(join(tmpdir(), 'apiwatch-replay-')) : null;
    const store = tempDir ? new ChdbStore(join(tempDir, 'chdb')) : null;
    if (store) await store.start();
    const runner = new ReplayRunner({ detect: config.detect, baselineStore: store, sink: store });
    const engine = runner.engine;
    try {
      const input = openInput(positionals[0]);
      const out = stdoutWriter();
      const progress = progressReporter(
        !values.quiet && (Boolean(values.progress) || process.stderr.isTTY === true),
      );
      const started = performance.now();
      let records = 0;
      let events = 0;
      let minTs = Number.POSITIVE_INFINITY;
      let maxTs = Number.NEGATIVE_INFINITY;
      let pastRetention = 0;
      const eventsDays = config.store.retention.eventsDays;
      const now = Date.now();
      const rejected = new Map<string, number>();
      let rejectedTotal = 0;
      const byDetector = new Map<string, number>();
      const emit = async (findings: Finding[]) => {
        for (const f of findings) {
          byDetector.set(f.detector, (byDetector.get(f.detector) ?? 0) + 1);
          const pending = out.write(`${JSON.stringify(f)}\n`);
          if (pending) await pending;
        }
      };
      const rate = () => events / Math.max(0.001, (performance.now() - started) / 1000);
      for await (const record of readRecords(input, parser.framing)) {
        records++;
        const result = read(record);
        if (!result.ok) {
          rejected.set(result.error.code, (rejected.get(result.error.code) ?? 0) + 1);
          // The first 50 reasons are enough to fix a log format; the summary counts the rest.
          if (!values.quiet && ++rejectedTotal <= 50) {
            process.stderr.write(`record ${records}: ${result.error.code}: ${result.error.message}\n`);
          }
          continue;
        }
        for (const event of result.value) {
          events++;
          if (event.ts < minTs) minTs = event.ts;
          if (event.ts > maxTs) maxTs = event.ts;
          pastRetention += countPastRetention([event], eventsDays, now);
          const findings = await runner.push(event);
          if (findings.length > 0) await emit(findings);
        }
        progress.tick(
          () =>
            `replay: ${fmt(records)} records, ${fmt(events)} events, ${fmt(engine.counters.findings)} findings, ${fmt(rate())} events/s`,
        );
      }
      await emit(await runner.finish());
      progress.done();
      const seconds = (performance.now() - started) / 1000;
      const lines = [
        `replay: ${fmt(records)} records → ${fmt(events)} events (${parser.id}) in ${seconds.toFixed(2)} s, ${fmt(rate())} events/s.`,
      ];
      if (events > 0)
        lines.push(`  event time: ${new Date(minTs).toISOString()} … ${new Date(maxTs).toISOString()}`);
      if (pastRetention > 0) {
        lines.push(
          `  older than store.retention.eventsDays (${eventsDays} days): ${fmt(pastRetention)} events; a store drops them at insert (apiwatch collect / start), so findings here may cite events it will not keep; see docs/store.md#retention.`,
        );
      }
      if (rejected.size > 0) {
        lines.push(
          `  rejected records: ${[...rejected.entries()].map(([c, n]) => `${fmt(n)} ${c}`).join(', ')}`,
        );
      }
      const found = [...byDetector.entries()].map(([d, n]) => `${fmt(n)} ${d}`).join(', ');
      lines.push(`  findings: ${found || 'none'} (detectors: ${engine.detectorIds.join(', ')})`);
      if (engine.counters.late > 0)
        lines.push(`  late events (behind the watermark): ${fmt(engine.counters.late)}`);
      if (engine.counters.evicted > 0)
        lines.push(`  detector states evicted (maxActors): ${fmt(engine.counters.evicted)}`);
      if (engine.counters.suppressed > 0)
        lines.push(`  suppressed findings (detect.suppressions): ${fmt(engine.counters.suppressed)}`);
      if (runner.baselines) {
        const st = runner.baselines.stats();
        lines.push(
          `  baselines: ${fmt(runner.refreshCount)} event-time refreshes, last history to ${st.historyEndMs > 0 ? new Date(st.historyEndMs).toISOString() : 'none'} (${st.keys.routes} routes)${st.failures > 0 ? `, ${st.failures} failed` : ''}`,
        );
      } else lines.push('  baselines: static fallbacks');
      process.stderr.write(`${lines.join('\n')}\n`);
      return records > 0 && events === 0 ? 1 : 0;
    } finally {
      await store?.close();
      if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    }
  },
};
