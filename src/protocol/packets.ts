import type { FromKind, ReaderState, RefuseCode, Role } from './constants.js';

/** Typed packets: the codec turns bytes into these and back. Field meanings: docs/PROTOCOL.md. */

export interface HelloWriter {
  kind: 'hello';
  /** The topic the session writes to or reads (protocol/topics.ts); absent: the default topic. */
  topic?: string;
  role: typeof Role.Writer;
  nonce: number;
  name: string;
  /** Empty, or the cookie of the server's RETRY: proof that we receive at our address. */
  cookie: Buffer;
  /** An encrypted session's first handshake message (Noise NK, sealed to the server's key), with the cookie. */
  handshake?: Buffer;
  producerId: bigint;
  /** First sequence number the writer has not had confirmed. */
  nextSeq: number;
  /** Not in the registry: its opening and end change nothing there, and nobody is told of them. */
  unlisted?: boolean;
}

export interface HelloReader {
  kind: 'hello';
  /** The topic the session writes to or reads (protocol/topics.ts); absent: the default topic. */
  topic?: string;
  role: typeof Role.Reader | typeof Role.Observer;
  nonce: number;
  name: string;
  cookie: Buffer;
  handshake?: Buffer;
  fromKind: FromKind;
  fromId: number;
  /** A queue group: the reader shares the group's position with its other members. */
  group?: string;
  /** Not in the registry: its opening and end change nothing there, and nobody is told of them. */
  unlisted?: boolean;
}

export type Hello = HelloWriter | HelloReader;

export interface Welcome {
  kind: 'welcome';
  nonce: number;
  sessionId: bigint;
  maxMessageBytes: number;
  maxDatagramBytes: number;
  heartbeatMs: number;
  /** Writer: next sequence number the server expects. Reader: its position (next log id). */
  resume: number;
  /** Reader: messages that fell out of retention between its stored position and the oldest kept. */
  missed: number;
}

/** The server's answer to a HELLO from an address it has not seen receive: say HELLO again with this. */
export interface Retry {
  kind: 'retry';
  nonce: number;
  cookie: Buffer;
  /** The server's static public key: absent from a server that does not encrypt. */
  serverKey?: Buffer;
}

/** An encrypted session's WELCOME: the handshake's answer, whose sealed payload holds the WELCOME. */
export interface SealedWelcome {
  kind: 'sealed-welcome';
  nonce: number;
  sessionId: bigint;
  message: Buffer;
}

export interface Refuse {
  kind: 'refuse';
  nonce: number;
  code: RefuseCode;
  reason: string;
}

/** One line, or one fragment of a line, inside a DATA packet. */
export interface DataEntry {
  /** More fragments of this line follow in later entries. */
  more: boolean;
  /** This entry continues the line begun in an earlier entry. */
  continued: boolean;
  to?: string;
  /** The file the line was read from (a line's first entry only). */
  file?: string;
  /** Set on a mark entry (not a line): the mark's key; `text` is its value. */
  mark?: Buffer;
  text: Buffer;
}

export interface Data {
  kind: 'data';
  sessionId: bigint;
  seq: number;
  entries: DataEntry[];
}

export interface SackRange {
  first: number;
  last: number;
}

export interface Ack {
  kind: 'ack';
  sessionId: bigint;
  /** Every sequence number up to this one has arrived. */
  received: number;
  /** Every sequence number up to this one is in the log. */
  committed: number;
  /** Sequence ranges above `received` that have arrived too. */
  sacks: SackRange[];
}

/** The server drops a writer's DATA over its message rate: it says so, and when to go on. */
export interface Throttle {
  kind: 'throttle';
  sessionId: bigint;
  /** Messages per second this session may send. */
  limit: number;
  retryAfterMs: number;
}

/**
 * The server received a writer's lines but cannot store them now (disk full, store unreachable): it keeps
 * them and tries again after `retryAfterMs`. Nothing is lost; the writer keeps its lines and waits.
 */
export interface Stalled {
  kind: 'stalled';
  sessionId: bigint;
  retryAfterMs: number;
  /** Why, for the user: "disk full". */
  reason: string;
}

export interface Fetch {
  kind: 'fetch';
  sessionId: bigint;
  fetchId: number;
  position: number;
  offset: number;
  waitMs: number;
  maxDatagrams: number;
}

export interface WireMessage {
  id: number;
  ts: number;
  from: string;
  to?: string;
  /** The file its line was read from (`run-writer --follow`). */
  file?: string;
  /** Set when the message is larger than one part: total size and where this chunk starts. */
  fragment?: { total: number; offset: number };
  text: Buffer;
}

export interface Batch {
  kind: 'batch';
  sessionId: bigint;
  fetchId: number;
  part: number;
  lastPart: boolean;
  caughtUp: boolean;
  /** The reply starts at `position` although the reader asked from elsewhere (a queue group's lease). */
  seek?: boolean;
  /** Where this part starts: parts can be put in order whichever fetch they answered. */
  position: number;
  offset: number;
  /** Where the next fetch starts after this part. */
  nextPosition: number;
  nextOffset: number;
  missed: number;
  messages: WireMessage[];
}

/** Asks for the registry: changes since `since` (a version from an earlier PRESENCE), or all of it. */
export interface Who {
  kind: 'who';
  sessionId: bigint;
  requestId: number;
  /** 0: the whole registry. */
  since: number;
  /** Of a whole registry: the entry to start at (from the previous part's nextOffset). */
  offset: number;
}

export interface PresenceEntry {
  name: string;
  role: 'writer' | 'reader';
  online: boolean;
  lastSeen: number;
  /** Where the change happened: the topic of the session that registered (online), or of its last one to end (offline). */
  topic: string;
}

export interface Presence {
  kind: 'presence';
  sessionId: bigint;
  requestId: number;
  /** The registry's version these entries bring the asker up to. */
  version: number;
  /** The whole registry (from `offset`), not changes. */
  full: boolean;
  /** More entries follow: ask again with `nextOffset` (full) or `since: version` (changes). */
  more: boolean;
  nextOffset: number;
  entries: PresenceEntry[];
}

/** Asks for the topics the server has, by name from after `after` ('' : from the first). */
export interface Topics {
  kind: 'topics';
  sessionId: bigint;
  requestId: number;
  after: string;
}

/** One topic's log as the server has it. */
export interface TopicInfo {
  topic: string;
  messages: number;
  /** Bytes of text kept. */
  bytes: number;
  /** The oldest id kept (equals `next` when none is). */
  first: number;
  next: number;
  /** When its last message was written (ms since the epoch); 0: none kept. */
  lastWrite: number;
}

/** A page of topics, by name; `more`: ask again after the last. */
export interface TopicList {
  kind: 'topic-list';
  sessionId: bigint;
  requestId: number;
  more: boolean;
  topics: TopicInfo[];
}

/** Asks what the server knows of a name's reader: whether it is online, and how far it has read. */
export interface Track {
  kind: 'track';
  sessionId: bigint;
  requestId: number;
  name: string;
}

export interface Tracked {
  kind: 'tracked';
  sessionId: bigint;
  requestId: number;
  name: string;
  /** Unknown: no reader of that name has registered (or it was forgotten). */
  state: ReaderState;
  /** The reader's position: every message before this id has reached it (0 when unknown). */
  position: number;
  /** The log's next id as the server answers: every message it had stored by then is below it. */
  logNext: number;
}

export interface Ping {
  kind: 'ping';
  sessionId: bigint;
  /**
   * A reader's position, sent while a long reply is being printed: everything before it is printed, and
   * the server keeps it as it keeps a FETCH's (absent: a plain heartbeat, 12 bytes).
   */
  position?: number;
}

export interface Pong {
  kind: 'pong';
  sessionId: bigint;
}

export interface Bye {
  kind: 'bye';
  sessionId: bigint;
  /** Reader: its final position (0 for writers). */
  position: number;
  /**
   * A queue group member: the fetch whose reply its position was reached in (0: none). A position equal
   * to where it stood before a lease is then unambiguous: the lease taken whole, or not seen at all.
   * Absent in a BYE of 20 bytes (an older client).
   */
  fetchId?: number;
}

export interface Goodbye {
  kind: 'goodbye';
  sessionId: bigint;
}

/** A writer's place in its input (a file and how far it was read), stored with the lines before it. */
export interface WriterMark {
  key: Buffer;
  value: Buffer;
}

/** A writer asks for the marks its name has in the store, from the `from`-th on. */
export interface Recall {
  kind: 'recall';
  sessionId: bigint;
  requestId: number;
  from: number;
}

/** The server's answer: marks `from` to `from + marks.length - 1` of `total`. */
export interface Marks {
  kind: 'marks';
  sessionId: bigint;
  requestId: number;
  total: number;
  from: number;
  marks: WriterMark[];
}

export interface UnknownSession {
  kind: 'unknown-session';
  sessionId: bigint;
}

export type Packet =
  | Topics
  | TopicList
  | Hello
  | Welcome
  | SealedWelcome
  | Retry
  | Refuse
  | Data
  | Ack
  | Throttle
  | Stalled
  | Recall
  | Marks
  | Fetch
  | Batch
  | Who
  | Presence
  | Track
  | Tracked
  | Ping
  | Pong
  | Bye
  | Goodbye
  | UnknownSession;
