import type { Address } from '../address.js';
import type { KeyPair, NoiseCrypto } from '../../protocol/noise.js';
import type { Users } from './authenticator.js';

export interface ServerConfig {
  maxMessageBytes: number;
  datagramBytes: number;
  /** Datagram size for clients on this host (loopback has no path MTU to fit). */
  loopbackDatagramBytes: number;
  heartbeatMs: number;
  sessionTimeoutMs: number;
  /** Datagrams a writer may have beyond the next expected one. */
  windowMax: number;
  sessionsMax: number;
  /** Topics this server serves at most (each is a log with its store and caches); a HELLO naming one more is refused. */
  topicsMax: number;
  cursorFlushMs: number;
  /** Unguessable session ids: crypto in production, a seeded generator in simulation. */
  randomId: () => bigint;
  /** A fresh secret key for address cookies. */
  randomKey: () => Buffer;
  /** A keyed MAC (HMAC-SHA256 in production), for address cookies. */
  mac: (key: Buffer, data: Buffer) => Buffer;
  /** Authenticated mode: the users and their verifiers. Absent: open mode. */
  users?: Users;
  /** Every session encrypted (the default): the handshake's primitives and the server's static key. Absent: plain text. */
  encryption?: { crypto: NoiseCrypto; staticKey: KeyPair };
  /** Handshakes (HELLOs with a valid cookie) one host may make per second; 0: no limit. */
  handshakesPerSecond: number;
  /** Messages one writer session may send per second; 0: no limit. */
  messagesPerSecond: number;
  /** Monitoring: told what each fetch reply carries. */
  observe?: { fetchReply(messages: number): void };
}

export const SERVER_DEFAULTS: Omit<ServerConfig, 'randomId' | 'randomKey' | 'mac'> = {
  maxMessageBytes: 1024 * 1024,
  datagramBytes: 1200,
  loopbackDatagramBytes: 16 * 1024,
  heartbeatMs: 5_000,
  sessionTimeoutMs: 30_000,
  windowMax: 1024,
  sessionsMax: 100_000,
  topicsMax: 1_000,
  cursorFlushMs: 50,
  handshakesPerSecond: 20,
  messagesPerSecond: 500_000,
};

export interface ServerStats {
  datagramsIn: number;
  datagramsOut: number;
  malformed: number;
  messagesStored: number;
  /** Store transactions that appended (group commits). */
  appends: number;
  sessionsOpened: number;
  sessionsExpired: number;
  /** Names given to a newcomer from the holder's host because the holder did not answer (see NameProbes). */
  namesReclaimed: number;
  refused: number;
  /** HELLOs answered with a cookie rather than a session. */
  retries: number;
  /** Datagrams of a session that were not genuine: a record that does not open, or a handshake not sealed to our key. */
  forged: number;
  /** Public-key operations (X25519) spent on handshakes. */
  publicKeyOps: number;
  /** DATA dropped because its writer was over its message rate. */
  throttled: number;
  /** DATA the server had already (held or stored): a writer sent it again. */
  retransmissions: number;
}

export const newServerStats = (): ServerStats => ({
  datagramsIn: 0,
  datagramsOut: 0,
  malformed: 0,
  messagesStored: 0,
  appends: 0,
  sessionsOpened: 0,
  sessionsExpired: 0,
  namesReclaimed: 0,
  refused: 0,
  retries: 0,
  forged: 0,
  publicKeyOps: 0,
  throttled: 0,
  retransmissions: 0,
});

export type CloseReason = 'bye' | 'expired' | 'replaced' | 'taken-over' | 'superseded';

export type ServerEvent =
  | { type: 'session-opened'; role: 'writer' | 'reader'; name: string; addr: Address }
  | { type: 'session-closed'; role: 'writer' | 'reader'; name: string; reason: CloseReason }
  | { type: 'refused'; name: string; addr: Address; reason: string }
  | { type: 'store-error'; op: string; error: unknown };
