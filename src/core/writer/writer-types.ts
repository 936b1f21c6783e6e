import type { Address } from '../address.js';
import type { ClientEncryption } from '../client/client-cipher.js';
import type { RefuseCode } from '../../protocol/constants.js';
import type { WriterMark } from '../../protocol/packets.js';

export interface WriterConfig {
  name: string;
  /** The topic written to; absent: the default topic. */
  topic?: string | undefined;
  /** Servers in order of preference: when one stops answering, the writer moves to the next. */
  servers: readonly Address[];
  producerId: bigint;
  nonce: number;
  /** Left out of the registry: the server records nothing of this session's coming and going (the chat's direct-message writer). */
  unlisted?: boolean;
  /** Give up when the server has confirmed nothing for this long while lines wait. */
  timeoutMs: number;
  datagramBytes: number;
  windowInitial: number;
  windowMax: number;
  /** Datagrams kept for confirmation at most (the window bounds those in flight). */
  unconfirmedMax: number;
  /** Input is refused (the caller pauses its source) past this many queued bytes. */
  queueBytesHigh: number;
  lostAfterMs: number;
  /**
   * A writer that resumes where its name left off (`--follow`): once registered the first time it asks for
   * its marks (event 'recalled') and sends nothing before. Its producerId is its name's (followProducerId).
   */
  recall?: boolean;
  /** Authenticated mode: the user's secret (it travels sealed in the handshake). */
  secret?: Buffer;
  /** Absent: plain text (`--insecure-plaintext`). */
  encryption?: ClientEncryption;
}

export const WRITER_DEFAULTS = {
  timeoutMs: 30_000,
  /** The server says how large its datagrams may be (larger on loopback): this only caps it. */
  datagramBytes: 65_507,
  windowInitial: 32,
  windowMax: 512,
  unconfirmedMax: 2048,
  queueBytesHigh: 256 * 1024,
  lostAfterMs: 2_000,
};

export type WriterEvent =
  | { type: 'registered'; again: boolean }
  /** The marks the store holds for this writer; `known`: the store knew the writer (it has sent before). */
  | { type: 'recalled'; marks: WriterMark[]; known: boolean }
  | { type: 'refused'; code: RefuseCode; reason: string; byServer: boolean }
  | { type: 'oversize'; line: number; bytes: number; limit: number }
  | { type: 'server-lost' }
  | { type: 'server-back' }
  | { type: 'failover'; from: Address; to: Address }
  | { type: 'open-server' }
  | { type: 'throttled'; limit: number }
  | { type: 'taken-over' }
  | { type: 'rate-limited'; reason: string }
  | { type: 'stalled'; reason: string }
  | { type: 'stall-over' }
  | { type: 'done' }
  | { type: 'failed'; unconfirmed: number; /** Why the server could not store them, when it said. */ reason?: string };
