import type { Address, Transmit } from './address.js';

/**
 * What every core offers the edge that drives it: inputs (a datagram, a timeout, each with the time), and
 * outputs polled after each input (datagrams to send, when to be woken next). Cores never touch sockets,
 * clocks or timers: the io side does, through this.
 */
export interface SansIoCore {
  handleDatagram(data: Buffer, from: Address, now: number): void;
  handleTimeout(now: number): void;
  /**
   * The path to the server dropped what was in flight on it (a TCP connection that worked was reset): what
   * waits for an answer goes again now, rather than when its timer runs out. Clients only.
   */
  handlePathReset?(now: number): void;
  pollTransmit(): Transmit | undefined;
  nextDeadline(): number | undefined;
}

/**
 * Where a driver sends what a core emits and hears what arrives: UDP datagrams, frames on TCP streams,
 * or both. The cores see only packets and addresses; implementations live on the io side. Like a
 * datagram, a packet sent may be lost (a full buffer, a dropped connection): the cores retransmit.
 */
export interface PacketTransport {
  send(t: Transmit): void;
  /**
   * Every packet that arrives from now on, with who sent it; and, on a stream transport, each time a
   * connection that had carried answers from `peer` dropped.
   */
  listen(onPacket: (data: Buffer, from: Address) => void, onPathReset?: (peer: Address) => void): void;
  close(): Promise<void>;
}
