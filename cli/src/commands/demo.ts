import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Finding, findingValidator, StartupError } from '@apiwatch/core';
import { createIngestClient, Shipper } from '@apiwatch/ingest';
import type { Command } from '../command.ts';
import { loadCliConfig } from '../config.ts';
import { demoTraffic } from '../demo/traffic.ts';
import { eventReader, requireParser } from '../input.ts';
import { openStoreReader } from '../store-reader.ts';

/**
 * `apiwatch demo`: the first thing to run after `npm start`. It sends a few minutes of ordinary
 * shop-API traffic with four attacks woven in (password guessing, credential stuffing, order-id
 * enumeration, a scanner) to the running ingest, as NGINX JSON access-log lines through the same
 * parser and identity stages a gateway's log goes through, then shows the findings as the
 * pipeline raises them and says which planted attack each one caught.
 */
export const demoCommand: Command = {
  name: 'demo',
  summary:
    'Send realistic API traffic with a few attacks to a running apiwatch (npm start) and show the findings as they arrive.',
  usage:
    'apiwatch demo [--url <ingest url>] [--token-file <file>] [--minutes <n>] [--wait <seconds>] [--config <file>]',
  options: {
    config: {
      type: 'string',
      short: 'c',
      description: 'The config the server runs with.',
      valueName: 'file',
    },
    url: {
      type: 'string',
      description: 'Ingest URL; default from the config (http://127.0.0.1:8080).',
      valueName: 'url',
    },
    'token-file': {
      type: 'string',
      description: 'Collector token file; default <dataDir>/collector-token (written by apiwatch start).',
      valueName: 'file',
    },
    minutes: {
      type: 'string',
      default: '5',
      description: 'Minutes of traffic, ending now (event time).',
      valueName: 'n',
    },
    wait: {
      type: 'string',
      default: '60',
      description: 'Longest to wait for findings, seconds.',
      valueName: 'seconds',
    },
  },
  details:
    'Findings are read from the running server (store.localReader); `apiwatch findings` lists them again later.',
  async run(values) {
    const config = loadCliConfig(values.config as string | undefined);
    const minutes = Number(values.minutes);
    const waitS = Number(values.wait);
    if (!(minutes >= 1 && minutes <= 60))
      throw new StartupError('CONFIG_INVALID', `--minutes must be 1 to 60, got ${String(values.minutes)}`);
    if (!(waitS >= 1)) throw new StartupError('CONFIG_INVALID', `--wait must be at least 1 second`);
    const host = config.ingest.listen.host === '0.0.0.0' ? '127.0.0.1' : config.ingest.listen.host;
    const base = (
      (values.url as string | undefined) ?? `http://${host}:${config.ingest.listen.port}`
    ).replace(/\/+$/, '');
    try {
      await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(3000) });
    } catch {
      throw new StartupError(
        'COLLECT_INGEST_UNREACHABLE',
        `no apiwatch ingest answers at ${base}: start it first (npm start), or pass --url`,
      );
    }
    const tokenPath = (values['token-file'] as string | undefined) ?? join(config.dataDir, 'collector-token');
    if (!existsSync(tokenPath))
      throw new StartupError(
        'INGEST_UNAUTHENTICATED',
        `no collector token at ${tokenPath}: run the demo from the folder you ran npm start in, or pass --token-file`,
      );

    const traffic = demoTraffic(Date.now(), minutes);
    const read = eventReader(requireParser('nginx'), config, { gateway: 'demo-nginx' });
    const shipper = new Shipper({
      client: createIngestClient({ baseUrl: base, token: readFileSync(tokenPath, 'utf8').trim() }),
      batchSize: 500,
      flushMs: 1000,
      retry: { attempts: 5, initialBackoffMs: 250, maxBackoffMs: 4000 },
    });
    let unread = 0;
    for (const text of traffic.lines) {
      const events = read({ text });
      if (events.ok) shipper.add(events.value);
      else unread++;
      if (shipper.due()) {
        const sent = await shipper.flush();
        if (!sent.ok)
          throw new StartupError(
            'COLLECT_INGEST_UNREACHABLE',
            `ingest refused the demo traffic: ${sent.error.detail}`,
          );
      }
    }
    const sent = await shipper.flush();
    if (!sent.ok)
      throw new StartupError(
        'COLLECT_INGEST_UNREACHABLE',
        `ingest refused the demo traffic: ${sent.error.detail}`,
      );
    process.stderr.write(
      `demo: sent ${shipper.stats.shipped} events (${minutes} min of a shop API, ${traffic.attacks.length} attacks woven in) to ${base}${unread ? `; ${unread} lines unreadable` : ''}.\n` +
        `demo: planted ${traffic.attacks.map((a) => `${a.what} by ${a.attacker}`).join('; ')}.\n` +
        `demo: waiting up to ${waitS} s for findings ...\n`,
    );

    const reader = await openStoreReader(config, 'demo');
    const shown = new Set<string>();
    const caught = new Map<string, Finding>();
    const deadline = Date.now() + waitS * 1000;
    let allCaughtAt: number | null = null;
    try {
      while (Date.now() < deadline) {
        const rows = await reader.db.query<{ body: string }>(
          `SELECT body FROM findings FINAL WHERE last_seen >= fromUnixTimestamp64Milli({from:Int64})
           ORDER BY detected_at, id LIMIT 1000`,
          { from: traffic.fromMs },
        );
        for (const r of rows) {
          const f = JSON.parse(r.body) as unknown;
          if (!findingValidator.check(f) || shown.has(`${f.id}|${f.status}`)) continue;
          shown.add(`${f.id}|${f.status}`);
          process.stdout.write(
            `${f.status === 'resolved' ? 'resolved' : 'FINDING '} ${f.severity.padEnd(8)} ${f.detector.padEnd(28)} ${f.summary}\n`,
          );
          for (const a of traffic.attacks) {
            if (!caught.has(a.attacker) && f.family === a.family && names(f, a.attacker))
              caught.set(a.attacker, f);
          }
        }
        if (caught.size === traffic.attacks.length) {
          allCaughtAt ??= Date.now();
          if (Date.now() - allCaughtAt > 3000) break; // a moment more for the findings that follow
        }
        await new Promise((r) => setTimeout(r, 1000));
      }
    } finally {
      await reader.close();
    }
    process.stderr.write('\ndemo: planted attack → finding\n');
    for (const a of traffic.attacks) {
      const f = caught.get(a.attacker);
      process.stderr.write(
        `  ${f ? 'caught ' : 'MISSED '} ${a.what} by ${a.attacker}${f ? ` → ${f.detector}` : ''}\n`,
      );
    }
    process.stderr.write(
      `demo: ${shown.size} finding update(s). List them again with: npm run -s apiwatch -- findings --since ${minutes + 5}m\n`,
    );
    return caught.size === traffic.attacks.length ? 0 : 1;
  },
};

/** Whether the finding names the attacker: as its entity, or (stage-2 findings) in its evidence. */
function names(f: Finding, attacker: string): boolean {
  if (f.entity.id === attacker || f.entity.name === attacker) return true;
  return JSON.stringify(f.evidence.details).includes(`"${attacker}"`);
}
