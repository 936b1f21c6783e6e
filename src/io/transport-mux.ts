import type { Address, Transmit } from '../core/address.js';
import type { PacketTransport } from '../core/sans-io.js';

/** UDP and TCP as one transport: each packet goes the way its address is reached. */
export class TransportMux implements PacketTransport {
  constructor(
    private readonly udp: PacketTransport | undefined,
    private readonly tcp: PacketTransport | undefined,
  ) {
    if (!udp && !tcp) throw new Error('a transport needs UDP, TCP or both');
  }

  send(t: Transmit): void {
    const via = t.to.transport === 'tcp' ? this.tcp : this.udp;
    // Addresses come from what the transports heard, or from the client's own list: never a missing one.
    if (!via) throw new Error(`no ${t.to.transport ?? 'udp'} transport for a packet`);
    via.send(t);
  }

  listen(onPacket: (data: Buffer, from: Address) => void, onPathReset?: (peer: Address) => void): void {
    this.udp?.listen(onPacket);
    this.tcp?.listen(onPacket, onPathReset);
  }

  async close(): Promise<void> {
    await Promise.all([this.udp?.close(), this.tcp?.close()]);
  }
}
