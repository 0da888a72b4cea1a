import { createHash, randomBytes } from 'node:crypto';
import type { Command } from '../command.ts';

const ROLES = ['viewer', 'analyst', 'admin'];

/**
 * API tokens for the management and alert API: `create` makes a random token, prints it once
 * and the `alert.api.tokens` entry that keeps only its SHA-256; `hash` hashes a token read from
 * stdin (for a token you made elsewhere). Revoke by deleting the entry and restarting.
 */
export const tokensCommand: Command = {
  name: 'tokens',
  summary:
    'API tokens (roles viewer, analyst, admin): create one, or hash one; the config keeps only the SHA-256.',
  usage: 'apiwatch tokens create --name <name> --role viewer|analyst|admin [--json] | hash < token',
  allowPositionals: true,
  options: {
    name: { type: 'string', description: 'Who the token is (the audit author).', valueName: 'name' },
    role: { type: 'string', description: 'viewer, analyst or admin.', valueName: 'role' },
    json: { type: 'boolean', description: 'One JSON object: {token, entry}.', default: false },
  },
  details: [
    'create prints the token on stdout (shown once: keep it in your secret store) and, on stderr, the',
    'entry to add under alert.api.tokens. Revoke a token: delete its entry and restart. docs/api.md.',
  ].join('\n'),
  async run(values, positionals) {
    const [sub] = positionals;
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
      process.stderr.write(`tokens: unknown subcommand ${sub ?? '(none)'}; use create or hash\n`);
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
      process.stdout.write(`${JSON.stringify({ token, entry })}\n`);
      return 0;
    }
    process.stdout.write(`${token}\n`);
    process.stderr.write(
      `add under alert.api.tokens:\n  - { name: ${name}, role: ${role}, tokenSha256: ${entry.tokenSha256} }\n`,
    );
    return 0;
  },
};
