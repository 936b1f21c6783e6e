import { createClient, RESP_TYPES } from '@redis/client';
import { LinkStatus, CONNECT_TIMEOUT_MS, type RedisArg, type RedisLink } from './redis-link.js';

type Client = ReturnType<typeof createClient>;
const BINARY = { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } };
const NODE = 'redis';

/** One Redis: a connection for commands, and one more for subscriptions once a store watches. */
class ClientLink implements RedisLink {
  readonly publish = 'PUBLISH';
  private subscriber: Client | undefined;
  private readonly resyncs = new Map<string, () => void>();

  constructor(private readonly client: Client) {}

  send(_key: string, args: RedisArg[], binary = false): Promise<unknown> {
    return this.client.sendCommand(args, binary ? BINARY : undefined);
  }

  async loadScript(source: string): Promise<void> {
    await this.client.sendCommand(['SCRIPT', 'LOAD', source]);
  }

  async *scan(match: string): AsyncIterable<string> {
    for await (const keys of this.client.scanIterator({ MATCH: match, COUNT: 1000 })) yield* keys;
  }

  async subscribe(channel: string, listener: (message: string) => void, resync: () => void): Promise<void> {
    if (!this.subscriber) {
      const sub = this.client.duplicate();
      sub.on('error', () => undefined); // the command connection reports outages
      sub.on('ready', () => {
        if (this.subscriber) for (const r of this.resyncs.values()) r();
      });
      await sub.connect();
      this.subscriber = sub;
    }
    this.resyncs.set(channel, resync);
    await this.subscriber.subscribe(channel, listener);
  }

  async unsubscribe(channel: string): Promise<void> {
    this.resyncs.delete(channel);
    await this.subscriber?.unsubscribe(channel);
  }

  async subscribers(channel: string): Promise<number> {
    const reply = (await this.client.sendCommand(['PUBSUB', 'NUMSUB', channel])) as [unknown, number];
    return Number(reply[1]);
  }

  async close(): Promise<void> {
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    await subscriber?.close().catch(() => subscriber.destroy());
    await this.client.close().catch(() => this.client.destroy());
  }
}

export async function connectClient(url: string, status: LinkStatus): Promise<RedisLink> {
  const client: Client = createClient({
    url,
    // At start a refusal is final (one line, and the server does not start); once running, keep trying.
    socket: { connectTimeout: CONNECT_TIMEOUT_MS, reconnectStrategy: (retries: number, cause: Error) => status.retryDelay(retries, cause) },
  });
  client.on('error', (e: Error) => status.lost(NODE, e));
  client.on('ready', () => status.back(NODE));
  try {
    await status.within(client.connect());
  } catch (e) {
    client.destroy();
    throw status.firstError ?? e;
  }
  return new ClientLink(client);
}
