import { pino, type Logger } from 'pino';

export type { Logger };

/** Structured logs on stderr (stdout belongs to command output such as findings NDJSON). */
export function createLogger(level: string, name = 'apiwatch'): Logger {
  return pino({ name, level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: false }));
}
