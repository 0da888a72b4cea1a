import { Writable } from 'node:stream';
import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger };

const LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};
const HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg']);

/** The `logFormat` config key (env APIWATCH_LOG_FORMAT). */
export type LogFormat = 'auto' | 'json' | 'text';

/**
 * Logs go to stderr (stdout belongs to command output such as findings NDJSON). JSON lines for
 * machines; one readable line per entry with `text`, or with `auto` on a terminal.
 */
export function createLogger(level: string, name = 'apiwatch', format: LogFormat = 'auto'): Logger {
  const human = format === 'text' || (format === 'auto' && process.stderr.isTTY === true);
  const destination: DestinationStream = human ? humanStream() : pino.destination({ fd: 2, sync: false });
  return pino({ name, level, base: { pid: process.pid } }, destination);
}

function humanStream(): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          const time = new Date(Number(entry.time)).toISOString().slice(11, 19);
          const extra = Object.entries(entry)
            .filter(([k]) => !HIDDEN.has(k))
            .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
            .join(' ');
          process.stderr.write(
            `${time} ${(LEVELS[Number(entry.level)] ?? 'LOG').padEnd(5)} ${String(entry.msg ?? '')}${extra ? `  ${extra}` : ''}\n`,
          );
        } catch {
          process.stderr.write(`${line}\n`);
        }
      }
      done();
    },
  });
}
