import pino, { type Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Diagnostics go to stderr: pretty on a terminal, JSON lines otherwise. `beforeLine` clears the terminal line first (a progress line). */
export async function createLogger(name: string, level: LogLevel, beforeLine?: () => void): Promise<Logger> {
  if (process.stderr.isTTY) {
    // Loaded only for a terminal: a command in a pipeline starts that much sooner.
    const { default: pretty } = await import('pino-pretty');
    const hooks = beforeLine && {
      logMethod(this: Logger, args: Parameters<Logger['info']>, method: Logger['info']) {
        beforeLine();
        method.apply(this, args);
      },
    };
    return pino(
      { name, level, ...(hooks && { hooks }) },
      pretty({ destination: 2, sync: true, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l', hideObject: true }),
    );
  }
  return pino({ name, level, base: { name } }, pino.destination({ dest: 2, sync: true }));
}
