import type { RedisTarget } from './redis-url.js';

/** What the redis store says about its connection: lost (with why), and back. */
export type RedisStatus = { state: 'down'; reason: string } | { state: 'up' };

export type RedisArg = string | Buffer;

/**
 * The connection(s) a server's redis stores share: one Redis, or every master of a Redis Cluster. All the
 * topics' stores of a server go through one link, so that a server holds a fixed number of connections
 * however many topics it serves.
 */
export interface RedisLink {
  /** The command scripts publish a log's new end with: sharded pub/sub on a cluster (only the topic's shard carries it). */
  readonly publish: 'PUBLISH' | 'SPUBLISH';
  /** Runs a command on the node holding `key`; `binary`: bulk strings come back as Buffers. */
  send(key: string, args: RedisArg[], binary?: boolean): Promise<unknown>;
  /** Puts a script in the cache of every node that holds keys. */
  loadScript(source: string): Promise<void>;
  /** The keys matching `match`, on every node. */
  scan(match: string): AsyncIterable<string>;
  /** `listener` hears every message on `channel`; `resync` is called when the subscription is back after an outage. */
  subscribe(channel: string, listener: (message: string) => void, resync: () => void): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  /** How many connections (of any server) listen on `channel`. */
  subscribers(channel: string): Promise<number>;
  close(): Promise<void>;
}

export const CONNECT_TIMEOUT_MS = 5_000;

/**
 * Until the store is open a failure is the caller's one-line error (the first one is kept); afterwards
 * outages and recoveries go to `onStatus`, once each.
 */
export class LinkStatus {
  opened = false;
  firstError: Error | undefined;
  private readonly down = new Set<string>();

  constructor(private readonly onStatus?: (s: RedisStatus) => void) {}

  /** Whether a connection that failed should keep trying (once open) or give up (at start). */
  retryDelay(retries: number, cause: Error): number | Error {
    return this.opened ? Math.min(100 * 2 ** retries, 2_000) : cause;
  }

  /** An error that says why a connection at start failed (kept only until open). */
  early(e: Error): void {
    if (!this.opened) this.firstError ??= e;
  }

  lost(node: string, e: Error): void {
    if (!this.opened) {
      this.early(e);
      return;
    }
    if (this.down.has(node)) return;
    this.down.add(node);
    if (this.down.size === 1) this.onStatus?.({ state: 'down', reason: e.message || e.constructor.name });
  }

  back(node: string): void {
    if (!this.down.delete(node) || this.down.size > 0) return;
    this.onStatus?.({ state: 'up' });
  }

  /** Resolves once connected; a failure, or no answer within the timeout, rejects with the first error seen. */
  async within<T>(connecting: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        connecting,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(this.firstError ?? new Error('no answer')), CONNECT_TIMEOUT_MS);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Connects to the Redis or the Redis Cluster `target` names. */
export async function connectRedis(target: RedisTarget, status: LinkStatus): Promise<RedisLink> {
  if (target.cluster) {
    const { connectCluster } = await import('./redis-cluster-link.js');
    return connectCluster(target.urls, status);
  }
  const { connectClient } = await import('./redis-client-link.js');
  return connectClient(target.urls[0]!, status);
}
