import { DETECTORS, describeDetectors } from '@apiwatch/detectors';
import type { Command } from '../command.ts';
import { loadCliConfig } from '../config.ts';

export const detectorsCommand: Command = {
  name: 'detectors',
  summary: 'List the detectors with their effective config (defaults, your values, overrides, suppressions).',
  usage: 'apiwatch detectors [--config <file>] [--json] [<id or pattern>]',
  allowPositionals: true,
  options: {
    config: {
      type: 'string',
      short: 'c',
      description: 'YAML config whose detect section to resolve.',
      valueName: 'file',
    },
    json: { type: 'boolean', description: 'One JSON object per detector on stdout.', default: false },
  },
  details: [
    "Defaults come from each detector's config schema; values you set are marked with *.",
    'Configure a detector under detect.detectors.<id> (enabled, its keys, overrides: [{route, method,',
    'tenant, entity, set: {…}}]) and silence known cases under detect.suppressions (reason and',
    'expiresAt required). An unknown id or key is an error naming it (exit 2).',
    '',
    "Example: apiwatch detectors --config apiwatch.yaml 'auth.*'",
  ].join('\n'),
  async run(values, positionals) {
    const config = loadCliConfig(values.config as string | undefined);
    const pattern = positionals[0];
    const re = pattern
      ? new RegExp(
          `^${pattern
            .split('*')
            .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
            .join('.*')}$`,
        )
      : null;
    const list = describeDetectors(config.detect, DETECTORS, Date.now()).filter((d) => !re || re.test(d.id));
    if (pattern && list.length === 0) {
      process.stderr.write(`apiwatch detectors: no detector matches ${pattern}\n`);
      return 2;
    }
    if (values.json) {
      for (const d of list) process.stdout.write(`${JSON.stringify(d)}\n`);
      return 0;
    }
    const lines: string[] = [];
    for (const d of list) {
      lines.push(
        `${d.id}  ${d.enabled ? 'enabled' : 'DISABLED'}  ${d.scope}  ${d.severity}  ${d.owasp}  nist:${d.nist}  — ${d.title}`,
      );
      const cfg = Object.entries(d.config)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}${d.changed.includes(k) ? '*' : ''}`)
        .join(' ');
      lines.push(`    config: ${cfg || '(none)'}`);
      lines.push(`    fingerprint: detector, tenant, method, ${d.fingerprint.join(', ')}`);
      for (const o of d.overrides)
        lines.push(
          `    override ${Object.entries(o.match)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')}: ${JSON.stringify(o.set)}`,
        );
      for (const s of d.suppressions)
        lines.push(
          `    suppression ${s.id}${s.expired ? ' (EXPIRED)' : ''} until ${s.expiresAt}: ${s.reason}`,
        );
    }
    process.stdout.write(`${lines.join('\n')}\n`);
    process.stderr.write(`${list.length} detectors (${list.filter((d) => d.enabled).length} enabled).\n`);
    return 0;
  },
};
