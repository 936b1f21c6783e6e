import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Diagnostics go to stderr: pretty on a terminal, JSON lines otherwise. */
export function createLogger(name: string, level: LogLevel): Logger {
  if (process.stderr.isTTY) {
    return pino(
      { name, level },
      pretty({ destination: 2, sync: true, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l', hideObject: true }),
    );
  }
  return pino({ name, level, base: { name } }, pino.destination({ dest: 2, sync: true }));
}
