import { createHash, randomBytes } from 'node:crypto';
import { type TokenView, tokenId } from '@apiwatch/alerting';
import type { Command } from '../command.ts';
import { alertApiOptions, apiClient, printResult } from './actions.ts';

const ROLES = ['viewer', 'analyst', 'admin'];

/**
 * API tokens for the management and alert API: `create` makes a random token, prints it once
 * and the `alert.api.tokens` entry that keeps only its SHA-256; `hash` hashes a token read from
 * stdin (for a token you made elsewhere). `list` and `revoke` go through the running API with an
 * admin token: a revocation is kept in the store (api_token_revocations, the hash only), audited,
 * and refused (401) at once by the process that served it and within seconds by the others.
 */
export const tokensCommand: Command = {
  name: 'tokens',
  summary:
    'API tokens (roles viewer, analyst, admin): create one, or hash one; the config keeps only the SHA-256.',
  usage:
    'apiwatch tokens create --name <name> --role viewer|analyst|admin [--json] | hash < token | list | revoke <id|name> [--reason <text>]  [--url <alert api>] [--token-file <admin token>]',
  allowPositionals: true,
  options: {
    ...alertApiOptions,
    reason: { type: 'string', description: 'Why the token is revoked (audited).', valueName: 'text' },
    name: { type: 'string', description: 'Who the token is (the audit author).', valueName: 'name' },
    role: { type: 'string', description: 'viewer, analyst or admin.', valueName: 'role' },
    json: {
      type: 'boolean',
      description: 'JSON output (create: {token, id, entry}; list, revoke: the API answer).',
      default: false,
    },
  },
  details: [
    'create prints the token on stdout (shown once: keep it in your secret store) and, on stderr, the',
    'entry to add under alert.api.tokens, with its id (tok_ + 12 hex digits of the SHA-256).',
    'list and revoke talk to the running alert API with an admin token (APIWATCH_API_TOKEN or',
    '--token-file); a revoked token is refused with 401 ALERT_API_TOKEN_REVOKED. docs/api.md.',
  ].join('\n'),
  async run(values, positionals) {
    const [sub, target] = positionals;
    if (sub === 'list' || sub === 'revoke') {
      const client = apiClient(values);
      if (!client) return 2;
      const line = (t: TokenView) =>
        `${t.id}  ${t.name}  ${t.role}${t.revoked ? `  revoked ${new Date(t.revokedAt!).toISOString()} by ${t.revokedBy}${t.reason ? ` — ${t.reason}` : ''}` : ''}`;
      if (sub === 'list') {
        const r = await client.call<TokenView[]>('GET', '/api/v1/tokens');
        return printResult(r, values, (l) => l.map(line).join('\n') || '(no tokens configured)');
      }
      if (!target) {
        process.stderr.write('tokens revoke: name the token: revoke <id|name> (see tokens list)\n');
        return 2;
      }
      const r = await client.call<TokenView>(
        'POST',
        `/api/v1/tokens/${encodeURIComponent(target)}/revoke`,
        values.reason ? { reason: values.reason } : {},
      );
      return printResult(r, values, (t) => `revoked ${line(t)}`);
    }
    if (sub === 'hash') {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      const token = Buffer.concat(chunks).toString('utf8').trim();
      if (!token) {
        process.stderr.write('tokens hash: no token on stdin\n');
        return 2;
      }
      process.stdout.write(`${createHash('sha256').update(token).digest('hex')}\n`);
      return 0;
    }
    if (sub !== 'create') {
      process.stderr.write(
        `tokens: unknown subcommand ${sub ?? '(none)'}; use create, hash, list or revoke\n`,
      );
      return 2;
    }
    const name = values.name as string | undefined;
    const role = values.role as string | undefined;
    if (!name || !/^[A-Za-z0-9._@-]{1,64}$/.test(name)) {
      process.stderr.write('tokens create: --name <name> (letters, digits, . _ @ -) is required\n');
      return 2;
    }
    if (!role || !ROLES.includes(role)) {
      process.stderr.write('tokens create: --role must be viewer, analyst or admin\n');
      return 2;
    }
    const token = `aw_${randomBytes(24).toString('base64url')}`;
    const entry = { name, role, tokenSha256: createHash('sha256').update(token).digest('hex') };
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ token, id: tokenId(entry.tokenSha256), entry })}\n`);
      return 0;
    }
    process.stdout.write(`${token}\n`);
    process.stderr.write(
      `add under alert.api.tokens (id ${tokenId(entry.tokenSha256)}):\n  - { name: ${name}, role: ${role}, tokenSha256: ${entry.tokenSha256} }\n`,
    );
    return 0;
  },
};
