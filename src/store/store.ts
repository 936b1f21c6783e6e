/**
 * The store contract. Every implementation passes test/store/contract.ts.
 * All methods are asynchronous so that a networked store fits the same shape.
 * Calls are applied in the order they are made.
 */

export interface NewMessage {
  ts: number;
  from: string;
  to?: string;
  /** The file its line was read from (`run-writer --follow`). */
  file?: string;
  text: Buffer;
}

export interface StoredMessage extends NewMessage {
  id: number;
}

/** The messages completed by one writer's datagrams, and the last sequence number they cover. */
export interface ProducerBatch {
  producerId: bigint;
  /**
   * The sequence number the batch continues from: the last one its server knew to be committed. If the
   * store holds a later one, another server has appended for this writer since (servers sharing a store),
   * and the batch is refused rather than stored twice. Left out: no such check.
   */
  afterSeq?: number;
  lastSeq: number;
  messages: NewMessage[];
  /**
   * The writer's marks (its place in its input) as of lastSeq, stored with it: a key's value replaces the
   * stored one, an empty value removes it. A new key past MARKS_PER_WRITER_MAX stored is not kept.
   */
  marks?: readonly ProducerMark[];
}

/** An opaque key and value a writer keeps in the store with its sequence number (docs/PROTOCOL.md, DATA). */
export interface ProducerMark {
  key: Buffer;
  value: Buffer;
}

/** Marks one writer keeps at most, and their sizes (as the protocol bounds them). */
export const MARKS_PER_WRITER_MAX = 256;

export interface ReadLimits {
  maxMessages: number;
  /** Bytes of text, plus, with `framingBytes`, each message's framing: what one reply can carry. */
  maxBytes: number;
  /** Counted per message on top of its text and the names of its sender and recipient. */
  framingBytes?: number;
  /** The reading user: messages addressed to someone else are skipped. */
  user: string;
}

/** What a message counts against `maxBytes`. */
export const readCost = (m: { text: Buffer; from: string; to?: string; file?: string }, limits: ReadLimits): number =>
  limits.framingBytes === undefined
    ? m.text.length
    : m.text.length + limits.framingBytes + m.from.length + (m.to?.length ?? 0) + (m.file === undefined ? 0 : 1 + m.file.length);

export interface ReadResult {
  messages: StoredMessage[];
  /** Where the next read continues: after the last message returned, or the end of the log scanned. */
  next: number;
  /** The oldest id still kept: a read from below it started here instead. */
  first: number;
  /** The read reached the end of the log (it did not stop at a limit). */
  atEnd: boolean;
}

export interface LogBounds {
  /** Oldest id kept (equals `next` when the log is empty). */
  first: number;
  /** Id the next message will get. */
  next: number;
}

/** The log's extent: its bounds and the bytes of text it keeps. */
export interface LogSize extends LogBounds {
  bytes: number;
}

export interface ClientRecord {
  name: string;
  role: 'writer' | 'reader';
  online: boolean;
  lastSeen: number;
  /** The topic of the session that registered (online), or of its last one to end (offline). */
  topic: string;
}

/** A store's answer to a name claim: taken, or held by another client for this long yet. */
export type ClaimResult = { ok: true } | { ok: false; heldForMs: number };

export interface Store {
  readonly kind: string;
  /** Last sequence number committed for a writer, if the store has seen it. */
  producerSeq(producerId: bigint): Promise<number | undefined>;
  /** A writer's marks, by key (bytewise ascending). */
  producerMarks(producerId: bigint): Promise<ProducerMark[]>;
  /**
   * Appends each batch's messages and records its producer's lastSeq, all at once (one transaction).
   * Returns the id of the first message of each batch (the next id when a batch is empty), or null for
   * a batch refused by its afterSeq (nothing of it is stored).
   */
  append(batches: ProducerBatch[]): Promise<(number | null)[]>;
  read(from: number, limits: ReadLimits): Promise<ReadResult>;
  bounds(): Promise<LogBounds>;
  size(): Promise<LogSize>;
  cursor(name: string): Promise<number | undefined>;
  saveCursors(cursors: ReadonlyMap<string, number>): Promise<void>;
  saveClient(client: ClientRecord): Promise<void>;
  clients(): Promise<ClientRecord[]>;
  /**
   * Forgets the clients offline since before `seenBefore` (ms): their records and, for readers, their
   * positions. Returns how many records went.
   */
  forgetClients(seenBefore: number): Promise<number>;
  /**
   * A store shared by several servers tells each when another appends: `listener` gets the log's new end.
   * Stores only one server uses have nothing to tell, and leave it out.
   */
  watch?(listener: (next: number) => void): Promise<void>;
  /**
   * Names held across servers (see core/server/name-claims.ts), in stores several servers share. A claim
   * `key` goes to `holder` for ttlMs unless another client holds it (same client: the part of the holder
   * before its last '|'); `force` takes it anyway (a proven login). Stores one server uses leave these out.
   */
  claimName?(key: string, holder: string, ttlMs: number, force: boolean): Promise<ClaimResult>;
  /** Renews claims still held by their holders; returns the keys that are not (lost). */
  renewNames?(claims: readonly { key: string; holder: string }[], ttlMs: number): Promise<string[]>;
  /** Gives a claim back, if `holder` still has it. */
  releaseName?(key: string, holder: string): Promise<void>;
  close(): Promise<void>;
}

export interface RetentionLimits {
  /** Keep at most this many messages (0: no limit). */
  messages: number;
  /** Keep at most this many bytes of text (0: no limit). */
  bytes: number;
  /** Keep messages at most this old, in milliseconds (0: no limit). */
  ageMs: number;
}

export const NO_RETENTION: RetentionLimits = { messages: 0, bytes: 0, ageMs: 0 };

/** Writer sequence numbers older than this are forgotten: such a writer is long gone. */
export const PRODUCER_TTL_MS = 7 * 24 * 3600 * 1000;

/** A server's topics: served since it started (counted against --max-topics), and whose logs are open now. */
export interface TopicCounts {
  served: number;
  open: number;
}
