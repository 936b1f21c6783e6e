import { StoreOpenError } from './store-errors.js';

export const DEFAULT_PREFIX = 'relay';

/** Our `prefix` query parameter comes off; the rest is node-redis's URL. */
export function parseRedisUrl(spec: string): { url: string; prefix: string } {
  let u: URL;
  try {
    u = new URL(spec);
  } catch {
    throw new StoreOpenError(`invalid redis URL '${spec}'`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new StoreOpenError(`invalid redis URL '${spec}': expected redis://host:port[/db]`);
  const prefix = u.searchParams.get('prefix') ?? DEFAULT_PREFIX;
  // A topic's keys take the server's prefix, ':' and the topic (store/open-store.ts): ':' is in no prefix given.
  if (!/^[A-Za-z0-9_.-]{1,64}(:[A-Za-z0-9_.-]{1,64})?$/.test(prefix)) throw new StoreOpenError(`invalid prefix '${prefix}' in the redis URL: letters, digits, _ . - (up to 64)`);
  u.searchParams.delete('prefix');
  return { url: u.toString(), prefix };
}

/** The URL without its password, for messages. */
export function describe(url: string): string {
  const u = new URL(url);
  u.password = '';
  u.username = '';
  return `${u.host}${u.pathname === '/' ? '' : u.pathname}`;
}
