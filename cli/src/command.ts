import type { ParseArgsConfig } from 'node:util';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>[string] & {
  description: string;
  valueName?: string;
};

/** One `apiwatch <name>` subcommand: its flags are its documentation (`--help`). */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: Record<string, OptionSpec>;
  /** Extra lines for --help: examples, what goes to stdout vs stderr. */
  details?: string;
  allowPositionals?: boolean;
  run(values: Record<string, unknown>, positionals: string[]): Promise<number>;
}

export function helpText(cmd: Command): string {
  const lines = [`Usage: ${cmd.usage}`, '', cmd.summary, '', 'Options:'];
  const entries = Object.entries(cmd.options);
  const left = entries.map(
    ([name, o]) =>
      `  ${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` <${o.valueName ?? 'value'}>` : ''}`,
  );
  const width = Math.max(...left.map((l) => l.length), 20) + 2;
  entries.forEach(([, o], i) => {
    const def = o.default !== undefined && o.default !== false ? ` (default: ${String(o.default)})` : '';
    lines.push(`${left[i]!.padEnd(width)}${o.description}${def}`);
  });
  lines.push(`${'  -h, --help'.padEnd(width)}Show this help.`);
  if (cmd.details) lines.push('', cmd.details);
  return `${lines.join('\n')}\n`;
}
