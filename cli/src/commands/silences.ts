import type { AlertApiClient, Silence } from '@apiwatch/alerting';
import type { Command } from '../command.ts';
import { alertApiOptions, apiClient, printResult } from './actions.ts';

export const silencesCommand: Command = {
  name: 'silences',
  summary:
    'Mute findings for a while (Alertmanager-style silences): list, create, expire — through the alert API.',
  usage:
    'apiwatch silences list | create --matcher <m> [--matcher <m>]... --reason <text> --duration <minutes> | expire <id>  [--url <alert api>] [--token-file <f>] [--json]',
  allowPositionals: true,
  options: {
    ...alertApiOptions,
    matcher: {
      type: 'string',
      multiple: true,
      description:
        'A matcher such as detector=auth.brute_force, tenant=~"acme|beta" (repeatable; all must hold).',
      valueName: 'm',
    },
    reason: { type: 'string', description: 'Why (kept with the silence).', valueName: 'text' },
    duration: { type: 'string', description: 'How long, minutes.', valueName: 'minutes' },
  },
  details:
    'The author of a silence is the name of the API token used. Exit 2 on usage errors, 1 when the API refuses.',
  async run(values, positionals) {
    const [sub, id] = positionals;
    const client: AlertApiClient | null = apiClient(values);
    if (!client) return 2;
    if (sub === 'list') {
      const r = await client.call<Silence[]>('GET', '/api/v1/silences');
      return printResult(
        r,
        values,
        (list) =>
          list
            .map(
              (s) =>
                `${s.id}  ${new Date(s.endsAt).toISOString()}  by ${s.author}${s.expiredBy ? ` (expired by ${s.expiredBy})` : ''}  ${s.matchers.join(', ')}  — ${s.reason}`,
            )
            .join('\n') || '(no silences)',
      );
    }
    if (sub === 'create') {
      const matchers = (values.matcher as string[] | undefined) ?? [];
      const minutes = Number(values.duration);
      if (matchers.length === 0 || !values.reason || !(minutes > 0)) {
        process.stderr.write(
          'apiwatch silences create: needs --matcher, --reason and --duration <minutes>\n',
        );
        return 2;
      }
      const r = await client.call<Silence>('POST', '/api/v1/silences', {
        matchers,
        reason: values.reason,
        durationSeconds: minutes * 60,
      });
      return printResult(r, values, (s) => `silence ${s.id} until ${new Date(s.endsAt).toISOString()}`);
    }
    if (sub === 'expire' && id) {
      const r = await client.call<Silence>('DELETE', `/api/v1/silences/${encodeURIComponent(id)}`);
      return printResult(r, values, (s) => `silence ${s.id} expired`);
    }
    process.stderr.write('apiwatch silences: use list, create or expire <id> (see --help)\n');
    return 2;
  },
};
