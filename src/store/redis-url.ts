import { StoreOpenError } from './store-errors.js';

export const DEFAULT_PREFIX = 'relay';

/** Where the relay's keys are: one Redis, or a Redis Cluster reached through any of its nodes. */
export interface RedisTarget {
  cluster: boolean;
  /** node-redis URLs: the Redis, or the cluster's seed nodes. */
  urls: string[];
  prefix: string;
  /** For messages: hosts without credentials. */
  where: string;
}

const PREFIX = /^[A-Za-z0-9_.-]{1,64}$/;
const CLUSTER = /^(rediss?)\+cluster:\/\/(?:([^@/?]*)@)?([^/?]*)\/?(?:\?(.*))?$/;

/**
 * `redis://[user:password@]host:port[/db][?prefix=NAME]`, or a cluster:
 * `redis+cluster://[user:password@]host:port[,host:port…][?prefix=NAME]` (any of its nodes; the others are
 * found from them). Our `prefix` parameter comes off; the rest is node-redis's URL.
 */
export function parseRedisSpec(spec: string): RedisTarget {
  const cluster = CLUSTER.exec(spec);
  if (cluster) return clusterTarget(spec, cluster);
  let u: URL;
  try {
    u = new URL(spec);
  } catch {
    throw new StoreOpenError(`invalid redis URL '${spec}'`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new StoreOpenError(`invalid redis URL '${spec}': expected redis://host:port[/db]`);
  const prefix = prefixOf(u.searchParams);
  u.searchParams.delete('prefix');
  return { cluster: false, urls: [u.toString()], prefix, where: describe(u) };
}

function clusterTarget(spec: string, [, scheme, credentials, hosts, query]: RegExpExecArray): RedisTarget {
  const urls = hosts!.split(',').map((host) => {
    try {
      const u = new URL(`${scheme}://${credentials ? `${credentials}@` : ''}${host}`);
      if (!u.port) throw new Error('no port');
      return u;
    } catch {
      throw new StoreOpenError(`invalid redis cluster URL '${spec}': expected redis+cluster://host:port[,host:port…]`);
    }
  });
  const prefix = prefixOf(new URLSearchParams(query ?? ''));
  return { cluster: true, urls: urls.map((u) => u.toString()), prefix, where: `cluster ${urls.map((u) => u.host).join(',')}` };
}

function prefixOf(params: URLSearchParams): string {
  const prefix = params.get('prefix') ?? DEFAULT_PREFIX;
  // A topic's keys take the server's prefix, ':' and the topic (RedisStore.openTopic): ':' is in no prefix given.
  if (!PREFIX.test(prefix)) throw new StoreOpenError(`invalid prefix '${prefix}' in the redis URL: letters, digits, _ . - (up to 64)`);
  return prefix;
}

/** The URL without its password, for messages. */
function describe(u: URL): string {
  return `${u.host}${u.pathname === '/' ? '' : u.pathname}`;
}

/** Whether `spec` names a redis store (one Redis or a cluster). */
export const isRedisSpec = (spec: string): boolean => /^rediss?(\+cluster)?:\/\//.test(spec);
