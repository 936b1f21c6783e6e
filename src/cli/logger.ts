import pino, { type Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Diagnostics go to stderr: pretty on a terminal, JSON lines otherwise. */
export async function createLogger(name: string, level: LogLevel): Promise<Logger> {
  if (process.stderr.isTTY) {
    // Loaded only for a terminal: a command in a pipeline starts that much sooner.
    const { default: pretty } = await import('pino-pretty');
    return pino(
      { name, level },
      pretty({ destination: 2, sync: true, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l', hideObject: true }),
    );
  }
  return pino({ name, level, base: { name } }, pino.destination({ dest: 2, sync: true }));
}
