import type { Address } from '../core/address.js';
import type { PacketTransport } from '../core/sans-io.js';
import { TcpLinks } from './tcp-links.js';
import { TransportMux } from './transport-mux.js';
import { clientSocket } from './udp-socket.js';
import { UdpTransport } from './udp-transport.js';

/** What a client talks to its servers over: a UDP socket, TCP connections, or both when the list mixes them. */
export async function openClientTransport(servers: readonly Address[]): Promise<PacketTransport> {
  const firstUdp = servers.find((s) => s.transport !== 'tcp');
  const udp = firstUdp && new UdpTransport(await clientSocket(firstUdp));
  const tcp = servers.some((s) => s.transport === 'tcp') ? new TcpLinks() : undefined;
  if (udp && tcp) return new TransportMux(udp, tcp);
  return (udp ?? tcp)!;
}
