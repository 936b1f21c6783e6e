import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { addressKey, type Address, type Transmit } from '../core/address.js';
import type { PacketTransport } from '../core/sans-io.js';
import { encodeFrame, encodePreamble, FrameDecoder, LINK_ID_BYTES } from '../protocol/stream-framing.js';
import { now } from './clock.js';
import { readFrames, StreamWriter } from './stream-writer.js';

/** What may wait unsent to a server; past it, packets are dropped (the core sends them again). */
const PENDING_BYTES_MAX = 4 * 1024 * 1024;
/** After a connection fails, the next try waits this long, doubling to the most. */
const RECONNECT_MS_MIN = 50;
const RECONNECT_MS_MAX = 1000;

interface Connection {
  socket: Socket;
  out: StreamWriter;
  established: boolean;
  /** An answer came on it: the path worked, so its dropping is news (a path that never answers is left to timers). */
  answered: boolean;
}

/**
 * A client's TCP side: one connection per server, made when there is a packet to send, made again when it
 * drops. Every connection of one run names the same link id, so the server knows it as the same peer and
 * the session goes on. Packets lost with a connection are sent again by the core, as after UDP loss.
 */
export class TcpLinks implements PacketTransport {
  private readonly linkId = randomBytes(LINK_ID_BYTES);
  private readonly connections = new Map<string, Connection>();
  private readonly retry = new Map<string, { at: number; ms: number }>();
  private onPacket: (data: Buffer, from: Address) => void = () => {};
  private onPathReset: (peer: Address) => void = () => {};
  private closed = false;

  listen(onPacket: (data: Buffer, from: Address) => void, onPathReset?: (peer: Address) => void): void {
    this.onPacket = onPacket;
    if (onPathReset) this.onPathReset = onPathReset;
  }

  send(t: Transmit): void {
    const c = this.connections.get(addressKey(t.to)) ?? this.connect(t.to);
    c?.out.write(encodeFrame(t.data));
  }

  close(): Promise<void> {
    this.closed = true;
    const ends = [...this.connections.values()].map(
      ({ socket }) => new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.end(() => resolve()))),
    );
    // What was written goes out before the close (a last BYE); a server gone away does not hold the exit.
    return Promise.race([Promise.all(ends).then(() => {}), new Promise<void>((resolve) => setTimeout(resolve, 200).unref())]).then(() => {
      for (const { socket } of this.connections.values()) socket.destroy();
    });
  }

  private connect(server: Address): Connection | undefined {
    const key = addressKey(server);
    const wait = this.retry.get(key);
    if (this.closed || (wait && now() < wait.at)) return undefined;
    const socket = connect({ host: server.address, port: server.port, noDelay: true });
    const c: Connection = { socket, out: new StreamWriter(socket, PENDING_BYTES_MAX), established: false, answered: false };
    this.connections.set(key, c);
    // Written at once: the socket holds it (and the frames after it) until it is connected.
    socket.write(encodePreamble(this.linkId));
    const decoder = new FrameDecoder((packet) => {
      c.answered = true;
      this.onPacket(packet, server);
    });
    socket.on('connect', () => {
      c.established = true;
      this.retry.delete(key);
    });
    readFrames(socket, decoder);
    socket.on('error', () => {}); // 'close' follows; the core finds out from silence, as over UDP
    socket.on('close', () => {
      if (this.connections.get(key) === c) this.connections.delete(key);
      if (c.answered && !this.closed) this.onPathReset(server);
      if (!c.established) {
        const ms = Math.min(RECONNECT_MS_MAX, (wait?.ms ?? RECONNECT_MS_MIN / 2) * 2);
        this.retry.set(key, { at: now() + ms, ms });
      }
    });
    return c;
  }
}
