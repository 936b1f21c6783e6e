import type { Address } from '../core/address.js';
import type { PacketTransport } from '../core/sans-io.js';
import { TcpListener, type TcpLimits } from './tcp-listener.js';
import { TransportMux } from './transport-mux.js';
import { bindSocket } from './udp-socket.js';
import { UdpTransport } from './udp-transport.js';

export interface ServerTransportOptions {
  host: string;
  port: number;
  udp: boolean;
  /** TCP on the same port number, within these limits; undefined: UDP only. */
  tcp: TcpLimits | undefined;
  onSendError: (err: Error) => void;
  onTcpRefused: (host: string, why: string) => void;
}

export interface ServerTransport {
  transport: PacketTransport;
  /** Where clients reach it (the UDP address when it serves both). */
  address: Address;
  tcp: TcpListener | undefined;
}

/** Tries, when any free port will do, before saying that no port was free for both transports. */
const FREE_PORT_TRIES = 8;

/**
 * The server's transports on one port number: UDP, TCP, or both. With port 0 the UDP socket takes a free
 * port and TCP takes the same number; if that number is taken for TCP, both try another.
 */
export async function openServerTransport(opts: ServerTransportOptions): Promise<ServerTransport> {
  for (let tries = 1; ; tries++) {
    const udp = opts.udp ? new UdpTransport(await bindSocket(opts.host, opts.port), opts.onSendError) : undefined;
    if (!opts.tcp) return { transport: udp!, address: udp!.address, tcp: undefined };
    const port = udp?.address.port ?? opts.port;
    try {
      const tcp = await TcpListener.listen(opts.host, port, opts.tcp, opts.onTcpRefused);
      return { transport: udp ? new TransportMux(udp, tcp) : tcp, address: udp?.address ?? tcp.address, tcp };
    } catch (err) {
      await udp?.close();
      const anyPort = opts.port === 0 && udp;
      if (!anyPort || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || tries >= FREE_PORT_TRIES) throw err;
    }
  }
}
