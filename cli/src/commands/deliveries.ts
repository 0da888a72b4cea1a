import type { DeadLetter } from '@apiwatch/alerting';
import type { Command } from '../command.ts';
import { alertApiOptions, apiClient, printResult } from './actions.ts';

export const deliveriesCommand: Command = {
  name: 'deliveries',
  summary: 'Notifications that could not be delivered (the dead-letter queue): list them, replay one.',
  usage:
    'apiwatch deliveries dead | replay <notification id>  [--url <alert api>] [--token-file <f>] [--json]',
  allowPositionals: true,
  options: alertApiOptions,
  details:
    'A replayed notification gets fresh attempts on its receiver queue and keeps its id (receivers de-duplicate on it).',
  async run(values, positionals) {
    const [sub, id] = positionals;
    const client = apiClient(values);
    if (!client) return 2;
    if (sub === 'dead') {
      const r = await client.call<DeadLetter[]>('GET', '/api/v1/deliveries/dead');
      return printResult(
        r,
        values,
        (l) =>
          l
            .map(
              (d) =>
                `${d.id}  ${d.receiver}  ${new Date(d.failedAt).toISOString()}  ${d.code}  after ${d.attempts} attempts  ${d.error}`,
            )
            .join('\n') || '(no dead letters)',
      );
    }
    if (sub === 'replay' && id) {
      const r = await client.call<unknown>(
        'POST',
        `/api/v1/deliveries/dead/${encodeURIComponent(id)}/replay`,
      );
      return printResult(r, values, () => `notification ${id} queued again`);
    }
    process.stderr.write('apiwatch deliveries: use dead or replay <id> (see --help)\n');
    return 2;
  },
};
