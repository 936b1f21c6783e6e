import { createServer, type Server, type Socket } from 'node:net';
import { addressKey, type Address, type Transmit } from '../core/address.js';
import type { PacketTransport } from '../core/sans-io.js';
import { encodeFrame, FrameDecoder } from '../protocol/stream-framing.js';
import { readFrames, StreamWriter } from './stream-writer.js';

export interface TcpLimits {
  connectionsMax: number;
  connectionsPerHostMax: number;
  /** A connection that sends nothing this long is closed (its client connects again when it speaks). */
  idleMs: number;
  frameBytesMax: number;
  /** What may wait unsent to one peer; past it, packets to that peer are dropped as a lossy path drops them. */
  pendingBytesMax: number;
}

export const TCP_DEFAULTS: TcpLimits = {
  connectionsMax: 10_000,
  connectionsPerHostMax: 1_000,
  idleMs: 60_000,
  frameBytesMax: 65_535,
  pendingBytesMax: 1024 * 1024,
};

export interface TcpCounts {
  connections: number;
  refused: number;
  /** Packets not sent: to a peer whose connection is gone, or that does not read. */
  dropped: number;
}

/** A peer's connection, found by the key of the address the core knows it by. */
interface Link {
  socket: Socket;
  out: StreamWriter;
}

/**
 * The server's TCP side: accepts connections (within limits), cuts each stream into packets and hands
 * them on as if from the peer's link, and sends packets back on the peer's latest connection. A peer that
 * does not read gets its packets dropped once `pendingBytesMax` waits, and is not read from until what
 * waits has gone, so it holds up nobody else and costs bounded memory and no work.
 */
export class TcpListener implements PacketTransport {
  readonly counts: TcpCounts = { connections: 0, refused: 0, dropped: 0 };
  private readonly links = new Map<string, Link>();
  private readonly perHost = new Map<string, number>();
  private readonly sockets = new Set<Socket>();
  private onPacket: (data: Buffer, from: Address) => void = () => {};

  private constructor(
    private readonly server: Server,
    private readonly limits: TcpLimits,
    private readonly onRefused: (host: string, why: string) => void,
  ) {
    server.on('connection', (socket) => this.accept(socket));
  }

  /** Listens on `host:port`; rejects with the listen error (EADDRINUSE, EACCES). */
  static listen(host: string, port: number, limits: TcpLimits, onRefused: (host: string, why: string) => void): Promise<TcpListener> {
    const server = createServer({ noDelay: true });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, ipv6Only: false }, () => {
        server.off('error', reject);
        resolve(new TcpListener(server, limits, onRefused));
      });
    });
  }

  get address(): Address {
    const a = this.server.address();
    if (a === null || typeof a === 'string') throw new Error('a TCP listener has an address once listening');
    return { address: a.address, port: a.port, transport: 'tcp' };
  }

  listen(onPacket: (data: Buffer, from: Address) => void): void {
    this.onPacket = onPacket;
  }

  send(t: Transmit): void {
    const link = this.links.get(addressKey(t.to));
    if (!link || !link.out.write(encodeFrame(t.data))) this.counts.dropped++;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
    });
  }

  private accept(socket: Socket): void {
    const host = socket.remoteAddress;
    if (host === undefined) return void socket.destroy(); // gone already
    const onHost = this.perHost.get(host) ?? 0;
    if (this.sockets.size >= this.limits.connectionsMax || onHost >= this.limits.connectionsPerHostMax) {
      this.counts.refused++;
      const why = this.sockets.size >= this.limits.connectionsMax ? `${this.limits.connectionsMax} connections in all` : `${this.limits.connectionsPerHostMax} connections from one host`;
      this.onRefused(host, why);
      return void socket.destroy();
    }
    this.sockets.add(socket);
    this.perHost.set(host, onHost + 1);
    this.counts.connections = this.sockets.size;
    socket.setTimeout(this.limits.idleMs, () => socket.destroy());
    let peer: Address | undefined;
    const decoder = new FrameDecoder((packet) => this.onPacket(packet, peer!), {
      frameBytesMax: this.limits.frameBytesMax,
      preamble: (linkId) => {
        peer = { address: host, port: socket.remotePort ?? 0, transport: 'tcp', link: linkId.toString('hex') };
        const key = addressKey(peer);
        // The same client connected again (its last connection dropped, or is about to): this one is it now.
        this.links.get(key)?.socket.destroy();
        this.links.set(key, { socket, out: new StreamWriter(socket, this.limits.pendingBytesMax, true) });
      },
    });
    readFrames(socket, decoder);
    socket.on('error', () => {}); // 'close' follows, and a peer's reset is nothing to report
    socket.on('close', () => {
      this.sockets.delete(socket);
      this.counts.connections = this.sockets.size;
      const left = (this.perHost.get(host) ?? 1) - 1;
      if (left > 0) this.perHost.set(host, left);
      else this.perHost.delete(host);
      if (peer && this.links.get(addressKey(peer))?.socket === socket) this.links.delete(addressKey(peer));
    });
  }
}
