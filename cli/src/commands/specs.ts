import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { SpecListing } from '@apiwatch/alerting';
import type { Command } from '../command.ts';
import { alertApiOptions, apiClient, printResult } from './actions.ts';

const line = (s: SpecListing) =>
  `${s.name}  ${s.title}@${s.version}  openapi ${s.openapi}  ${s.operations} operations  by ${s.uploadedBy} ${new Date(s.uploadedAt).toISOString()}  sha256 ${s.sha256.slice(0, 12)}`;

export const specsCommand: Command = {
  name: 'specs',
  summary:
    'OpenAPI specs uploaded to the running pipeline (route templates, spec conformance): list, upload — through the management API.',
  usage:
    'apiwatch specs list | upload <file.json|yaml> [--name <name>]  [--url <alert api>] [--token-file <f>] [--json]',
  allowPositionals: true,
  options: {
    ...alertApiOptions,
    name: {
      type: 'string',
      description: "The spec's name (re-uploading a name replaces it); default: info.title.",
      valueName: 'name',
    },
  },
  details: [
    'upload needs an admin token and an OpenAPI 3.0 or 3.1 document; it is validated against the',
    'official schema, stored, and used by ingest at once (here) or within ingest.specsReloadSeconds',
    '(other processes). Exit 2 on usage errors, 1 when the API refuses (with its code). docs/api.md.',
  ].join('\n'),
  async run(values, positionals) {
    const [sub, file] = positionals;
    const client = apiClient(values);
    if (!client) return 2;
    if (sub === 'list') {
      const r = await client.call<SpecListing[]>('GET', '/api/v1/specs');
      return printResult(r, values, (l) => l.map(line).join('\n') || '(no uploaded specs)');
    }
    if (sub === 'upload' && file) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        process.stderr.write(`specs upload: cannot read ${file}: ${(e as Error).message}\n`);
        return 2;
      }
      const json = /\.json$/i.test(basename(file)) || text.trimStart().startsWith('{');
      const query = values.name ? `?name=${encodeURIComponent(values.name as string)}` : '';
      const r = await client.call<{ spec: SpecListing; replaced: boolean; unchanged: boolean }>(
        'POST',
        `/api/v1/specs${query}`,
        undefined,
        { text, contentType: json ? 'application/json' : 'application/yaml' },
      );
      return printResult(
        r,
        values,
        (u) => `${u.unchanged ? 'unchanged' : u.replaced ? 'replaced' : 'uploaded'} ${line(u.spec)}`,
      );
    }
    process.stderr.write('apiwatch specs: use list or upload <file> (see --help)\n');
    return 2;
  },
};
