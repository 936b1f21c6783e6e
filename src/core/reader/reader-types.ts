import type { Address } from '../address.js';
import type { ClientEncryption } from '../client/client-cipher.js';
import { FromKind, type ReaderState, type RefuseCode } from '../../protocol/constants.js';
import type { PresenceEntry, TopicInfo } from '../../protocol/packets.js';
import type { MessageBudget } from './message-budget.js';

export interface ReaderConfig {
  name: string;
  /** The topic read; absent: the default topic. */
  topic?: string | undefined;
  /** Servers in order of preference: when one stops answering, the reader moves to the next. */
  servers: readonly Address[];
  nonce: number;
  fromKind: FromKind;
  fromId: number;
  /** 0: long poll, print as messages arrive. Otherwise poll on this period and print each poll as one package. */
  delayMs: number;
  /** How long the server may hold a long poll open. */
  holdMs: number;
  maxDatagrams: number;
  /** Stop after delivering this many messages (0: never), or once a budget shared with other sessions is spent. */
  count: number | MessageBudget;
  /** Take what is there now, then stop (no waiting for more). */
  once: boolean;
  lostAfterMs: number;
  heartbeatMs: number;
  /** Authenticated mode: the user's secret (it travels sealed in the handshake). */
  secret?: Buffer;
  /** Absent: plain text (`--insecure-plaintext`). */
  encryption?: ClientEncryption;
  /** A queue group to read as a member of. */
  group?: string;
  /** Left out of the registry: the server records nothing of this session's coming and going (the chat's direct-message reader). */
  unlisted?: boolean;
  /** List the server's topics (`run-reader --topics`), and read no messages. */
  listTopics?: boolean;
  /** With `listTopics`: list them again this long after each list, the session kept open (a pattern's reader). */
  watchTopicsMs?: number;
  /** 'who': print the registry and stop (reads no messages); 'watch': also report who comes and goes. */
  presence?: 'who' | 'watch';
  presencePollMs?: number;
  /**
   * Messages count as printed only when the caller says so (`printed`): a position is never confirmed to
   * the server before what comes before it has left the process (stdout may buffer). Otherwise, when emitted.
   */
  awaitPrinted?: boolean;
  /** Give up when the server has answered nothing for this long while something is owed (0: never). */
  timeoutMs?: number;
}

export const READER_DEFAULTS = {
  fromKind: FromKind.Latest,
  fromId: 0,
  delayMs: 0,
  holdMs: 1_500,
  maxDatagrams: 32,
  count: 0,
  once: false,
  lostAfterMs: 2_000,
  heartbeatMs: 5_000,
};

export interface Message {
  id: number;
  ts: number;
  from: string;
  to?: string;
  /** The file its line was read from (`run-writer --follow`). */
  file?: string;
  text: Buffer;
}

export type ReaderEvent =
  | { type: 'registered'; again: boolean; position: number; missed: number }
  | { type: 'refused'; code: RefuseCode; reason: string; byServer: boolean }
  | { type: 'messages'; messages: Message[]; /** The position after them: say `printed(upTo)` once they are out. */ upTo: number }
  | { type: 'missed'; count: number }
  /** Since registering, a reply reached the end of the log: what waited for this reader has come (once per registration). */
  | { type: 'caught-up' }
  | { type: 'server-lost' }
  | { type: 'server-back' }
  | { type: 'failover'; from: Address; to: Address }
  | { type: 'open-server' }
  | { type: 'taken-over' }
  | { type: 'rate-limited'; reason: string }
  | { type: 'registry'; entries: PresenceEntry[] }
  /** `listTopics`: the server's topics, all of them. */
  | { type: 'topics'; topics: TopicInfo[] }
  | { type: 'presence'; changes: PresenceEntry[] }
  /** Where a name's reader is, as the server knows it (see `track`). */
  | { type: 'tracked'; requestId: number; name: string; state: ReaderState; position: number; logNext: number }
  /** `unconfirmed`: no answer to BYE: the server may keep what this reader took until the session times out. */
  /**
   * unconfirmed: the BYE went unanswered. sessionLost: the server no longer knew the session (it restarted,
   * or the session expired), so the position this BYE carried may not be kept: a next start may print
   * some messages again.
   */
  | { type: 'closed'; unconfirmed?: boolean; sessionLost?: true }
  /** --timeout: the server answered nothing for that long. */
  | { type: 'failed'; registered: boolean };
