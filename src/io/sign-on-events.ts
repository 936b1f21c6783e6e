import type { Logger } from 'pino';
import { formatAddress, type Address } from '../core/address.js';

export type SignOnEvent = { type: 'open-server' } | { type: 'rate-limited'; reason: string };

/** What both clients tell the user about registering: the same words from the writer and the reader. */
export function logSignOn(logger: Logger, server: string, e: SignOnEvent): void {
  if (e.type === 'open-server') logger.warn({ server }, `server ${server} is in open mode: the secret was not used`);
  else logger.warn({ server }, `${e.reason}; trying again`);
}

/** A client moved to its next server: said the same way by the writer and the reader. Returns the new server's name. */
export function logFailover(logger: Logger, e: { from: Address; to: Address }): string {
  const from = formatAddress(e.from);
  const to = formatAddress(e.to);
  logger.warn({ from, to }, `server ${from} is not responding; trying ${to}`);
  return to;
}

export const takenOverReason = (name: string): string => `a newer login of ${name} took over this session`;
