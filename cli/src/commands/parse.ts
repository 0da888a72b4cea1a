import type { ApiEvent } from '@apiwatch/core';
import { readRecords } from '@apiwatch/ingest';
import type { Command } from '../command.ts';
import { loadCliConfig } from '../config.ts';
import {
  eventReader,
  fmt,
  formatOption,
  openInput,
  requireParser,
  specOption,
  stdoutWriter,
} from '../input.ts';

export const parseCommand: Command = {
  name: 'parse',
  summary: 'Print the canonical events apiwatch reads from a log file: check your log format.',
  usage: 'apiwatch parse --format <format> [--spec <openapi>]... [--config <file>] <file | ->',
  allowPositionals: true,
  options: {
    format: formatOption,
    config: {
      type: 'string',
      short: 'c',
      description: 'YAML config (for dataDir and the fingerprint key).',
      valueName: 'file',
    },
    spec: specOption,
    pretty: { type: 'boolean', description: 'Indent each event (not NDJSON).', default: false },
    quiet: {
      type: 'boolean',
      short: 'q',
      description: 'No per-record errors on stderr, only the summary.',
      default: false,
    },
  },
  details: [
    'Input: NDJSON, one JSON object, a JSON array, or text lines (for text formats); .gz is read too.',
    'Output: one canonical event per line on stdout; records that could not be read are reported on',
    'stderr with their line number and reason, then a summary. Exit status 1 when nothing could be read.',
    '',
    'Example: apiwatch parse --format nginx /var/log/nginx/access.log | head -3',
  ].join('\n'),
  async run(values, positionals) {
    const parser = requireParser(values.format);
    const config = loadCliConfig(values.config as string | undefined);
    const read = eventReader(parser, config, { extraSpecs: (values.spec as string[] | undefined) ?? [] });
    const input = openInput(positionals[0]);
    const out = stdoutWriter();
    let records = 0;
    let events = 0;
    const errors = new Map<string, number>();
    for await (const record of readRecords(input, parser.framing)) {
      records++;
      const result = read(record);
      if (!result.ok) {
        errors.set(result.error.code, (errors.get(result.error.code) ?? 0) + 1);
        if (!values.quiet)
          process.stderr.write(`record ${records}: ${result.error.code}: ${result.error.message}\n`);
        continue;
      }
      for (const e of result.value as ApiEvent[]) {
        events++;
        const pending = out.write(`${values.pretty ? JSON.stringify(e, null, 2) : JSON.stringify(e)}\n`);
        if (pending) await pending;
      }
      if (out.closed()) break;
    }
    const rejected = [...errors.entries()].map(([code, n]) => `${fmt(n)} ${code}`).join(', ');
    process.stderr.write(
      `parse: ${fmt(records)} records → ${fmt(events)} events (${parser.id})${rejected ? `; rejected: ${rejected}` : ''}.\n`,
    );
    return records > 0 && events === 0 ? 1 : 0;
  },
};
