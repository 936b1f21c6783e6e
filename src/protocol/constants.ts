/** Wire constants shared by every party. See docs/PROTOCOL.md. */

export const MAGIC_0 = 0x55; // 'U'
export const MAGIC_1 = 0x52; // 'R'
/** 2: every session encrypted (Noise NK, sealed records); 1 had none. */
export const PROTOCOL_VERSION = 4;
export const HEADER_BYTES = 4;

export const PacketKind = {
  Hello: 0x01,
  Welcome: 0x02,
  Refuse: 0x03,
  Retry: 0x04,
  /** WELCOME inside the handshake's second message (an encrypted session's). */
  SealedWelcome: 0x05,
  Data: 0x10,
  Ack: 0x11,
  Throttle: 0x12,
  Stalled: 0x13,
  Recall: 0x14,
  Marks: 0x15,
  Fetch: 0x20,
  Batch: 0x21,
  Who: 0x22,
  Presence: 0x23,
  Track: 0x24,
  Tracked: 0x25,
  /** Asks which topics the server has; TOPIC_LIST answers a page of them. */
  Topics: 0x26,
  TopicList: 0x27,
  Ping: 0x30,
  Pong: 0x31,
  Bye: 0x32,
  Goodbye: 0x33,
  UnknownSession: 0x3f,
} as const;
export type PacketKind = (typeof PacketKind)[keyof typeof PacketKind];

/** An observer reads the registry (WHO) and nothing else: it holds no name and is not in the registry. */
export const Role = { Writer: 1, Reader: 2, Observer: 3 } as const;
export type Role = (typeof Role)[keyof typeof Role];

export const roleName = (role: Role): 'writer' | 'reader' | 'observer' =>
  role === Role.Writer ? 'writer' : role === Role.Reader ? 'reader' : 'observer';

/** Where a reader starts when the server holds no position for its name (kind 0, 1), or always (kind 2). */
export const FromKind = { Latest: 0, Earliest: 1, Id: 2 } as const;
export type FromKind = (typeof FromKind)[keyof typeof FromKind];

/** What a server knows of a name's reader, in TRACKED. */
export const ReaderState = { Unknown: 0, Offline: 1, Online: 2 } as const;
export type ReaderState = (typeof ReaderState)[keyof typeof ReaderState];

export const RefuseCode = {
  BadName: 1,
  NameTaken: 2,
  BadVersion: 3,
  TooManySessions: 4,
  Unauthorized: 5,
  ServerError: 6,
  /** Too many handshakes from this address: the client may try again later. */
  RateLimited: 7,
} as const;
export type RefuseCode = (typeof RefuseCode)[keyof typeof RefuseCode];

/** DATA entry flags. */
/** Mark: not a line but a writer's place in its input, stored with the lines before it (docs/PROTOCOL.md, DATA). */
export const EntryFlag = { More: 0x01, Continued: 0x02, To: 0x04, Mark: 0x08, File: 0x10 } as const;
/** BATCH message flags. */
export const MessageFlag = { To: 0x01, Fragment: 0x02, File: 0x04 } as const;
/** BATCH part flags. */
/** Seek: this reply starts elsewhere than the reader's position (a queue group's lease): go there. */
export const BatchFlag = { LastPart: 0x01, CaughtUp: 0x02, Seek: 0x04 } as const;
/** PRESENCE flags. */
export const PresenceFlag = { Full: 0x01, More: 0x02 } as const;
/** HELLO flags of a reader. Unlisted: the session changes nothing in the registry (the chat's direct-message reader). */
export const HelloFlag = { Unlisted: 0x01 } as const;

/** Default datagram size: small enough to cross a typical path (MTU 1280 for IPv6) unfragmented. */
export const DATAGRAM_BYTES_DEFAULT = 1200;
export const DATAGRAM_BYTES_MIN = 512;
export const DATAGRAM_BYTES_MAX = 65507;
export const MESSAGE_BYTES_DEFAULT = 1024 * 1024;
/** No server accepts longer messages (`--max-message-bytes` is capped here), so no reader reassembles more. */
export const MESSAGE_BYTES_MAX = 64 * 1024 * 1024;
export const NAME_BYTES_MAX = 32;
export const REASON_BYTES_MAX = 200;
export const ENTRIES_PER_PACKET_MAX = 4096;
export const SACK_RANGES_MAX = 16;
/** A mark's key and value (DATA). */
export const MARK_KEY_BYTES_MAX = 32;
/** The file a line was read from (`run-writer --follow`), as a DATA entry and a BATCH message name it. */
export const FILE_BYTES_MAX = 255;
export const MARK_VALUE_BYTES_MAX = 64;
export const FETCH_DATAGRAMS_MAX = 64;
/** A HELLO is padded to at least this size, so that the server's RETRY is never larger than what it answers. */
export const HELLO_BYTES_MIN = 64;
export const COOKIE_BYTES = 16;
/** The server's static public key (X25519), in RETRY. */
export const SERVER_KEY_BYTES = 32;
/** A user's secret, carried sealed in the handshake (docs/PROTOCOL.md, HELLO). */
export const SECRET_BYTES_MAX = 255;
/** The handshake's first payload (the secret's length, the secret) is padded to this, so its size tells nothing. */
export const HANDSHAKE_PAYLOAD_BYTES_MIN = 64;
/** The first handshake message: an ephemeral key (32), the sealed payload and its tag (16). */
export const HANDSHAKE_BYTES_MIN = 32 + HANDSHAKE_PAYLOAD_BYTES_MIN + 16;
export const HANDSHAKE_BYTES_MAX = 32 + 1 + SECRET_BYTES_MAX + 16;
export const WAIT_MS_MAX = 60_000;
