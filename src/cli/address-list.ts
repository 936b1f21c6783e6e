import { isIP } from 'node:net';
import type { Address } from '../core/address.js';
import { resolveAddress } from '../io/udp-socket.js';
import { usage } from './command.js';
import { ExitCode, UserError } from './exit-codes.js';

export type Transport = 'udp' | 'tcp';
export const TRANSPORTS: readonly Transport[] = ['udp', 'tcp'];

export interface HostPort {
  host: string;
  port: number;
  transport: Transport;
}

/** Servers a client may use, in order of preference. */
export const SERVERS_MAX = 16;

/**
 * `--address` as a list: `host[:port],host[:port]…`, where a port left out is `defaultPort`. IPv6
 * addresses take a port in brackets (`[::1]:4000`); a bare IPv6 address has none. An entry may name its
 * transport (`tcp://host:port`, `udp://host:port`); one that does not uses `transport`. Throws a one-line
 * message for anything else.
 */
export function parseAddressList(spec: string, defaultPort: number, transport: Transport = 'udp'): HostPort[] {
  const items = spec.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw new Error(`invalid --address '${spec}': an empty entry`);
  if (items.length > SERVERS_MAX) throw new Error(`invalid --address '${spec}': at most ${SERVERS_MAX} servers`);
  return items.map((entry) => {
    const scheme = /^([a-z0-9]+):\/\//i.exec(entry);
    if (!scheme) return parseOne(entry, defaultPort, spec, transport);
    const named = scheme[1]!.toLowerCase();
    if (named !== 'udp' && named !== 'tcp') throw new Error(`invalid --address '${spec}': unknown transport '${scheme[1]!}://' (udp:// or tcp://)`);
    return parseOne(entry.slice(scheme[0].length), defaultPort, spec, named);
  });
}

function parseOne(item: string, defaultPort: number, spec: string, transport: Transport): HostPort {
  const bad = (why: string): Error => new Error(`invalid --address '${spec}': ${why}`);
  let host = item;
  let port = defaultPort;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(item);
  if (bracketed) {
    host = bracketed[1]!;
    if (isIP(host) !== 6) throw bad(`'${host}' is not an IPv6 address`);
    if (bracketed[2] !== undefined) port = Number(bracketed[2]);
  } else if (isIP(item) === 6) {
    host = item;
  } else {
    const colon = item.lastIndexOf(':');
    if (colon >= 0) {
      host = item.slice(0, colon);
      const p = item.slice(colon + 1);
      if (!/^\d+$/.test(p)) throw bad(`bad port '${p}' in '${item}'`);
      port = Number(p);
    }
  }
  if (host === '') throw bad(`no host in '${item}'`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad(`port ${port} in '${item}' is not 1-65535`);
  return { host, port, transport };
}

/**
 * The servers of `--address`, resolved. One socket talks to all of them: when the list mixes IPv4 and
 * IPv6, IPv4 addresses are given in their IPv6-mapped form (`::ffff:10.0.0.5`) for a dual-stack socket.
 */
export async function resolveServers(spec: string, defaultPort: number, transport: Transport = 'udp'): Promise<Address[]> {
  let list: HostPort[];
  try {
    list = parseAddressList(spec, defaultPort, transport);
  } catch (e) {
    throw usage((e as Error).message);
  }
  const servers = await Promise.all(
    list.map(({ host, port, transport: via }) =>
      resolveAddress(host, port).then(
        (a): Address => (via === 'tcp' ? { ...a, transport: 'tcp' } : a),
        () => {
          throw new UserError(`cannot resolve server address '${host}'`, ExitCode.Unreachable);
        },
      ),
    ),
  );
  if (servers.some((s) => isIP(s.address) === 6)) {
    return servers.map((s) => (isIP(s.address) === 4 ? { ...s, address: `::ffff:${s.address}` } : s));
  }
  return servers;
}

/**
 * How the servers are named in messages: `server host:port` (`servers host:port, host:port`), and where a
 * client is: `host:port` (`one of host:port, host:port`). A server reached otherwise than by `transport`
 * (the command's --transport) is named with its own: `tcp://host:port`.
 */
export function describeServers(spec: string, defaultPort: number, transport: Transport = 'udp'): { name: string; are: string; where: string } {
  const list = parseAddressList(spec, defaultPort, transport).map(({ host, port, transport: via }) => {
    const at = isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
    return via === transport ? at : `${via}://${at}`;
  });
  return list.length === 1
    ? { name: `server ${list[0]!}`, are: 'is', where: list[0]! }
    : { name: `servers ${list.join(', ')}`, are: 'are', where: `one of ${list.join(', ')}` };
}
