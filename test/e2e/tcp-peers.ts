import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { decode, encode } from '../../src/protocol/codec.js';
import type { Address } from '../../src/core/address.js';
import { ClientCipher } from '../../src/core/client/client-cipher.js';
import { noiseCrypto } from '../../src/io/noise-crypto.js';
import type { Packet } from '../../src/protocol/packets.js';
import { recordHead } from '../../src/protocol/records.js';
import { encodeFrame, encodePreamble, FrameDecoder, LINK_ID_BYTES } from '../../src/protocol/stream-framing.js';

/**
 * A TCP proxy in front of a server that resets both sides of every connection once `resetEvery` bytes have
 * gone from client to server on it, as a flaky network path or a load balancer that drops connections
 * does. The client connects again (through the proxy) and goes on.
 */
export class ResettingProxy {
  resets = 0;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  private constructor(server: Server) {
    this.server = server;
  }

  static async start(target: () => number, resetEvery: number): Promise<ResettingProxy> {
    const server = createServer();
    const proxy = new ResettingProxy(server);
    server.on('connection', (client) => proxy.relay(client, target(), resetEvery));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return proxy;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  private relay(client: Socket, port: number, resetEvery: number): void {
    const upstream = connect({ host: '127.0.0.1', port });
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        this.sockets.delete(s);
        // One side gone: the other goes too, at once.
        for (const other of [client, upstream]) if (!other.destroyed) other.resetAndDestroy();
      });
    }
    let sent = 0;
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      sent += chunk.length;
      if (sent >= resetEvery) {
        this.resets++;
        client.resetAndDestroy();
        upstream.resetAndDestroy();
      }
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/**
 * A hand-driven TCP peer of the relay: sends packets, and collects what comes back while it reads. It
 * encrypts as a client does (trusting whatever key the server shows): HELLO carries the handshake once a
 * RETRY gave the key and a cookie, the WELCOME is opened, every later packet sealed and opened.
 */
export class RawPeer {
  readonly received: Packet[] = [];
  readonly socket: Socket;
  private waiters: (() => void)[] = [];
  private readonly cipher = new ClientCipher({ crypto: noiseCrypto, serverKeys: { check: () => undefined, remember: () => undefined } }, undefined);
  private readonly server: Address;

  constructor(port: number, preamble = encodePreamble(randomBytes(LINK_ID_BYTES))) {
    this.server = { address: '127.0.0.1', port };
    this.socket = connect({ host: '127.0.0.1', port });
    this.socket.on('error', () => {});
    const decoder = new FrameDecoder((frame) => {
      const data = Buffer.from(frame);
      const bytes = recordHead(data) ? this.cipher.open(data) : data;
      if (!bytes) return;
      let p = decode(bytes);
      if (p.kind === 'retry') this.cipher.retried(this.server, p.serverKey);
      if (p.kind === 'sealed-welcome') {
        const w = this.cipher.welcome(p, this.server, Date.now());
        if (w === 'forged') return;
        p = w.welcome;
      }
      this.received.push(p);
      for (const w of this.waiters.splice(0)) w();
    });
    this.socket.on('data', (chunk: Buffer) => decoder.push(chunk));
    this.socket.write(preamble);
  }

  send(p: Packet): boolean {
    if (p.kind !== 'hello') return this.socket.write(encodeFrame(this.cipher.seal(encode(p), Date.now())));
    const handshake = this.cipher.handshake(p);
    return this.socket.write(encodeFrame(encode(handshake ? { ...p, handshake } : p)));
  }

  /** The first packet received of `kind` (waiting for it, up to 5 s). */
  async next<K extends Packet['kind']>(kind: K): Promise<Extract<Packet, { kind: K }>> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const i = this.received.findIndex((p) => p.kind === kind);
      if (i >= 0) return this.received.splice(i, 1)[0] as Extract<Packet, { kind: K }>;
      if (Date.now() > deadline) throw new Error(`no ${kind} within 5 s; got ${this.received.map((p) => p.kind).join(', ')}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }

  /** Resolves when the server has closed the connection. */
  closed(): Promise<void> {
    return new Promise<void>((resolve) => (this.socket.closed ? resolve() : this.socket.once('close', () => resolve())));
  }
}
