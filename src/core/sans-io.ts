import type { Address, Transmit } from './address.js';

/**
 * What every core offers the edge that drives it: inputs (a datagram, a timeout, each with the time), and
 * outputs polled after each input (datagrams to send, when to be woken next). Cores never touch sockets,
 * clocks or timers: the io side does, through this.
 */
export interface SansIoCore {
  handleDatagram(data: Buffer, from: Address, now: number): void;
  handleTimeout(now: number): void;
  pollTransmit(): Transmit | undefined;
  nextDeadline(): number | undefined;
}
