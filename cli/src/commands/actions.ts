import { type ActionRecord, AlertApiClient, type ApiResult } from '@apiwatch/alerting';
import { processSecrets } from '@apiwatch/core';
import type { Command, OptionSpec } from '../command.ts';
import { loadCliConfig } from '../config.ts';

/** Flags every alert-API command shares. */
export const alertApiOptions: Record<string, OptionSpec> = {
  url: {
    type: 'string',
    description: 'Alert API base URL (alert.api host and port).',
    valueName: 'url',
    default: 'http://127.0.0.1:8090',
  },
  'token-file': {
    type: 'string',
    description: 'File with the API bearer token (or set alert.api.clientToken, env APIWATCH_API_TOKEN).',
    valueName: 'file',
  },
  json: { type: 'boolean', description: 'Print the API answer as JSON.' },
};

export function apiClient(values: Record<string, unknown>): AlertApiClient | null {
  const file = values['token-file'] as string | undefined;
  // No --config here: the environment alone (APIWATCH_API_TOKEN, APIWATCH__* overrides) sets the key.
  const ref = file ? null : loadCliConfig().alert.api.clientToken;
  let token: string | null = null;
  try {
    if (file) token = processSecrets('--token-file', { file }, true);
    else if (ref) token = processSecrets('alert.api.clientToken', { ref }, true);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return null;
  }
  return new AlertApiClient(values.url as string, token);
}

export function printResult<T>(
  r: ApiResult<T>,
  values: Record<string, unknown>,
  human: (v: T) => string,
): number {
  if (!r.ok) {
    process.stderr.write(`${r.code}: ${r.message}\n`);
    return 1;
  }
  process.stdout.write(`${values.json ? JSON.stringify(r.value) : human(r.value)}\n`);
  return 0;
}

const line = (a: ActionRecord) =>
  `${a.id}  ${a.status.padEnd(9)}  ${a.revoker}  ref ${a.target.ref || '-'}  ${a.detector}  by ${a.decidedBy}  — ${a.reason}`;

export const actionsCommand: Command = {
  name: 'actions',
  summary:
    'Automated response actions (key revocations): list, approve a pending one, undo one, reset the budget breaker.',
  usage:
    'apiwatch actions list | approve <id> | undo <id> | reset-breaker  [--url <alert api>] [--token-file <f>] [--json]',
  allowPositionals: true,
  options: alertApiOptions,
  details:
    'approve and undo need an analyst token, reset-breaker an admin token; the token name is recorded as who did it (audit table).',
  async run(values, positionals) {
    const [sub, id] = positionals;
    const client = apiClient(values);
    if (!client) return 2;
    if (sub === 'list') {
      const r = await client.call<ActionRecord[]>('GET', '/api/v1/actions');
      return printResult(r, values, (l) => l.map(line).join('\n') || '(no actions)');
    }
    if ((sub === 'approve' || sub === 'undo') && id) {
      const r = await client.call<ActionRecord>('POST', `/api/v1/actions/${encodeURIComponent(id)}/${sub}`);
      return printResult(r, values, line);
    }
    if (sub === 'reset-breaker') {
      const r = await client.call<unknown>('POST', '/api/v1/actions/breaker/reset');
      return printResult(r, values, () => 'circuit breaker reset; automatic actions resume');
    }
    process.stderr.write(
      'apiwatch actions: use list, approve <id>, undo <id> or reset-breaker (see --help)\n',
    );
    return 2;
  },
};
