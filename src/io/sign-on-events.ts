import type { Logger } from 'pino';

export type SignOnEvent = { type: 'open-server' } | { type: 'rate-limited'; reason: string };

/** What both clients tell the user about registering: the same words from the writer and the reader. */
export function logSignOn(logger: Logger, server: string, e: SignOnEvent): void {
  if (e.type === 'open-server') logger.warn({ server }, `server ${server} is in open mode: the secret was not used`);
  else logger.warn({ server }, `${e.reason}; trying again`);
}

export const takenOverReason = (name: string): string => `a newer login of ${name} took over this session`;
