import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { Prng } from '../sim/prng.js';

export interface ProxyFaults {
  loss: number;
  duplicate: number;
  reorder: number;
  /** How long a reordered datagram is held back, at most. */
  reorderMs: number;
}

/**
 * A UDP proxy on loopback that loses, duplicates and reorders datagrams in both directions.
 * Each client gets its own upstream socket, so the server sees one address per client.
 */
export class LossyProxy {
  readonly stats = { forwarded: 0, dropped: 0, duplicated: 0, reordered: 0 };
  /** Every datagram a client sent towards the server, when recording. */
  readonly recorded: Buffer[] = [];
  record = false;
  private readonly front: Socket = createSocket('udp4');
  private readonly upstreams = new Map<string, Socket>();
  private readonly rng: Prng;
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  port = 0;

  constructor(
    private readonly serverPort: number,
    private readonly faults: ProxyFaults,
    seed = 1,
  ) {
    this.rng = new Prng(seed);
  }

  async start(): Promise<number> {
    await new Promise<void>((r) => this.front.bind(0, '127.0.0.1', r));
    this.port = this.front.address().port;
    this.front.on('message', (data, client) => {
      if (this.record) this.recorded.push(Buffer.from(data));
      void this.upstream(client).then((up) => this.pass(data, (d) => up.send(d, this.serverPort, '127.0.0.1')));
    });
    return this.port;
  }

  /** Sends datagrams on to the server as the last client seen would (from its upstream address), faults and all. */
  resend(datagrams: Buffer[]): void {
    const up = [...this.upstreams.values()].at(-1);
    if (!up) throw new Error('no client has sent anything through the proxy');
    for (const d of datagrams) this.pass(d, (b) => up.send(b, this.serverPort, '127.0.0.1'));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    await Promise.all([this.front, ...this.upstreams.values()].map((s) => new Promise<void>((r) => s.close(() => r()))));
  }

  private async upstream(client: RemoteInfo): Promise<Socket> {
    const key = `${client.address}:${client.port}`;
    let up = this.upstreams.get(key);
    if (up) return up;
    up = createSocket('udp4');
    this.upstreams.set(key, up);
    await new Promise<void>((r) => up!.bind(0, '127.0.0.1', r));
    up.on('message', (data) => this.pass(data, (d) => this.front.send(d, client.port, client.address)));
    return up;
  }

  private pass(data: Buffer, send: (d: Buffer) => void): void {
    if (this.stopped) return;
    const f = this.faults;
    if (this.rng.chance(f.loss)) {
      this.stats.dropped++;
      return;
    }
    const copies = this.rng.chance(f.duplicate) ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let i = 0; i < copies; i++) {
      if (this.rng.chance(f.reorder)) {
        this.stats.reordered++;
        const t = setTimeout(() => {
          this.timers.delete(t);
          if (!this.stopped) send(data);
        }, 1 + this.rng.next() * f.reorderMs);
        this.timers.add(t);
      } else {
        send(data);
      }
      this.stats.forwarded++;
    }
  }
}
