import { createLogger, createStoreFromConfig, StartupError } from '@apiwatch/core';
import { backtest } from '@apiwatch/detectors';
import type { Command } from '../command.ts';
import { loadCliConfig } from '../config.ts';
import { fmt } from '../input.ts';

function parseTime(name: string, value: unknown): number {
  if (typeof value !== 'string' || value === '')
    throw new StartupError('CONFIG_INVALID', `--${name} is required (ISO 8601, e.g. 2026-03-01T00:00:00Z)`);
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms))
    throw new StartupError('CONFIG_INVALID', `--${name} ${value}: not an ISO 8601 time or epoch ms`);
  return ms;
}

export const backtestCommand: Command = {
  name: 'backtest',
  summary:
    'Run stored history through a candidate detect config; report what it would raise vs what was raised.',
  usage: 'apiwatch backtest --from <time> --to <time> [--config <file>] [--candidate <file>] [--json]',
  options: {
    from: {
      type: 'string',
      description: 'Start of the history (event time, ISO 8601 or epoch ms).',
      valueName: 'time',
    },
    to: { type: 'string', description: 'End of the history, exclusive.', valueName: 'time' },
    config: {
      type: 'string',
      short: 'c',
      description: 'YAML config: the store to read and, without --candidate, the detect section to try.',
      valueName: 'file',
    },
    candidate: {
      type: 'string',
      description: 'YAML whose detect section is the candidate (default: the one in --config).',
      valueName: 'file',
    },
    json: { type: 'boolean', description: 'The report as one JSON object on stdout.', default: false },
  },
  details: [
    'Events are read back from api_events on event time and judged like a replay, with baselines',
    'refreshed from the same store at detect.baselines.refreshMinutes boundaries (only history',
    'before each boundary). "raised" counts the stored findings whose episode starts in the range.',
    'Stored events keep no spec annotation: spec.* detectors cannot be backtested.',
    '',
    'Example: apiwatch backtest --config apiwatch.yaml --candidate tuned.yaml --from 2026-03-01T00:00:00Z --to 2026-03-08T00:00:00Z',
  ].join('\n'),
  async run(values) {
    const fromMs = parseTime('from', values.from);
    const toMs = parseTime('to', values.to);
    if (!(toMs > fromMs)) throw new StartupError('CONFIG_INVALID', '--to must be after --from');
    const config = loadCliConfig(values.config as string | undefined);
    const candidate = values.candidate ? loadCliConfig(values.candidate as string) : config;
    const log = createLogger(config.logLevel, 'apiwatch', config.logFormat);
    const store = createStoreFromConfig(config);
    if (!store)
      throw new StartupError('CONFIG_INVALID', 'store.kind is none: there is no stored history to backtest');
    try {
      await store.start();
      const started = performance.now();
      const r = await backtest({ store, detect: candidate.detect, fromMs, toMs });
      const seconds = (performance.now() - started) / 1000;
      if (values.json) {
        process.stdout.write(
          `${JSON.stringify({ fromMs, toMs, events: r.events, detectors: r.rows, added: r.addedFingerprints, removed: r.removedFingerprints })}\n`,
        );
      } else {
        const lines = ['detector                          candidate  raised  both  added  removed'];
        for (const row of r.rows)
          lines.push(
            `${row.detector.padEnd(32)}  ${String(row.candidate).padStart(9)}  ${String(row.raised).padStart(6)}  ${String(row.both).padStart(4)}  ${String(row.added).padStart(5)}  ${String(row.removed).padStart(7)}`,
          );
        if (r.rows.length === 0) lines.push('(no findings either way)');
        process.stdout.write(`${lines.join('\n')}\n`);
      }
      process.stderr.write(
        `backtest: ${fmt(r.events)} stored events ${new Date(fromMs).toISOString()} … ${new Date(toMs).toISOString()} in ${seconds.toFixed(1)} s; candidate raises ${fmt(r.findings.length)} episodes (${fmt(r.addedFingerprints.length)} new, ${fmt(r.removedFingerprints.length)} no longer raised).\n`,
      );
      return 0;
    } finally {
      await store.close();
      log.flush();
    }
  },
};
