import type { Socket } from 'node:dgram';
import type { Address, Transmit } from '../core/address.js';
import type { PacketTransport } from '../core/sans-io.js';

/** Packets as UDP datagrams, on one socket. */
export class UdpTransport implements PacketTransport {
  constructor(
    readonly socket: Socket,
    /** A send can fail (no route, buffer full): UDP may lose datagrams anyway, and the cores retransmit. */
    private readonly onSendError: (err: Error) => void = () => {},
  ) {}

  get address(): Address {
    const a = this.socket.address();
    return { address: a.address, port: a.port };
  }

  send(t: Transmit): void {
    this.socket.send(t.data, t.to.port, t.to.address, (err) => {
      if (err) this.onSendError(err);
    });
  }

  listen(onPacket: (data: Buffer, from: Address) => void): void {
    this.socket.on('message', (data, rinfo) => onPacket(data, { address: rinfo.address, port: rinfo.port }));
  }

  close(): Promise<void> {
    return new Promise<void>((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve(); // closed already
      }
    });
  }
}
