import { createSocket, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Address } from '../core/address.js';

/** The most a socket buffer may be here; more is refused or silently capped by the kernel. */
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

export async function resolveAddress(host: string, port: number): Promise<Address> {
  if (isIP(host)) return { address: host, port };
  const { address } = await lookup(host);
  return { address, port };
}

/** A socket bound to `host:port` (port 0: any free port), with buffers sized for bursts. */
export function bindSocket(host: string, port: number): Promise<Socket> {
  const socket = createSocket({ type: isIP(host) === 6 ? 'udp6' : 'udp4', reuseAddr: false });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      for (const set of [socket.setRecvBufferSize, socket.setSendBufferSize]) {
        try {
          set.call(socket, SOCKET_BUFFER_BYTES);
        } catch {
          // Capped by the system: the default buffers still work, only bursts lose more.
        }
      }
      resolve(socket);
    });
  });
}

/** A client socket on an ephemeral port of the right family for `server`. */
export const clientSocket = (server: Address): Promise<Socket> =>
  bindSocket(isIP(server.address) === 6 ? '::' : '0.0.0.0', 0);
