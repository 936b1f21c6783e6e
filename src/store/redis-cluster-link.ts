import { createCluster, RESP_TYPES, SimpleError } from '@redis/client';
import { LinkStatus, CONNECT_TIMEOUT_MS, type RedisArg, type RedisLink } from './redis-link.js';

type Cluster = ReturnType<typeof createCluster>;
const BINARY = { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } };
const TRANSIENT = /^(CLUSTERDOWN|TRYAGAIN|MASTERDOWN)/;
/** About 30 s of tries: longer than a failover takes with Redis's default node timeout (15 s). */
const RETRIES = 70;

/**
 * A Redis Cluster: commands go to the master of their key's slot (the client follows the cluster's
 * redirections and finds the new master after a failover); a log's new end goes by sharded pub/sub, so
 * that each shard carries only its own topics' notifications.
 */
class ClusterLink implements RedisLink {
  readonly publish = 'SPUBLISH';
  private readonly resyncs = new Map<string, () => void>();

  constructor(private readonly cluster: Cluster) {}

  /**
   * A shard that is rejoining, or whose slots are moving, refuses a command before running it
   * (CLUSTERDOWN, TRYAGAIN): it is sent again for a while, as a client waits for a Redis that is away.
   */
  async send(key: string, args: RedisArg[], binary = false): Promise<unknown> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.cluster.sendCommand(key, false, args, binary ? BINARY : undefined);
      } catch (e) {
        if (!(e instanceof SimpleError) || !TRANSIENT.test(e.message) || attempt >= RETRIES) throw e;
        await new Promise((r) => setTimeout(r, Math.min(50 * attempt, 500)));
      }
    }
  }

  async loadScript(source: string): Promise<void> {
    await Promise.all(this.cluster.masters.map(async (m) => (await this.cluster.nodeClient(m)).sendCommand(['SCRIPT', 'LOAD', source])));
  }

  async *scan(match: string): AsyncIterable<string> {
    for (const master of this.cluster.masters) {
      const node = await this.cluster.nodeClient(master);
      for await (const keys of node.scanIterator({ MATCH: match, COUNT: 1000 })) yield* keys;
    }
  }

  async subscribe(channel: string, listener: (message: string) => void, resync: () => void): Promise<void> {
    this.resyncs.set(channel, resync);
    await this.cluster.sSubscribe(channel, listener);
  }

  async unsubscribe(channel: string): Promise<void> {
    this.resyncs.delete(channel);
    await this.cluster.sUnsubscribe(channel);
  }

  async subscribers(channel: string): Promise<number> {
    const node = await this.cluster.getNodeClientForKey(channel);
    const reply = (await node.sendCommand(['PUBSUB', 'SHARDNUMSUB', channel])) as [unknown, number];
    return Number(reply[1]);
  }

  /** A node is back: notifications sent while it was away are lost, so every log's end is read again. */
  nodeBack(): void {
    for (const r of this.resyncs.values()) r();
  }

  async close(): Promise<void> {
    await this.cluster.close().catch(() => this.cluster.destroy());
  }
}

export async function connectCluster(urls: string[], status: LinkStatus): Promise<RedisLink> {
  const cluster: Cluster = createCluster({
    rootNodes: urls.map((url) => ({ url })),
    defaults: {
      socket: { connectTimeout: CONNECT_TIMEOUT_MS, reconnectStrategy: (retries: number, cause: Error) => status.retryDelay(retries, cause) },
    },
  });
  const link = new ClusterLink(cluster);
  const nodeOf = (n: { host?: string; port?: number } | undefined): string => `${n?.host ?? '?'}:${n?.port ?? '?'}`;
  // The cluster's own errors (a failed topology refresh) come with a node's: only those are reported.
  cluster.on('error', (e: Error) => status.early(e));
  cluster.on('node-error', (e: Error, node?: { host?: string; port?: number }) => status.lost(nodeOf(node), e));
  cluster.on('node-ready', (node?: { host?: string; port?: number }) => {
    status.back(nodeOf(node));
    if (status.opened) link.nodeBack();
  });
  try {
    await status.within(cluster.connect());
  } catch (e) {
    cluster.destroy();
    throw status.firstError ?? e;
  }
  return link;
}
