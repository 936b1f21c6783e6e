/**
 * A peer: a UDP address, or a TCP stream standing in for one. The core treats it as opaque apart from
 * its key, and sends back to the address it heard from; the io side knows how to reach it.
 */
export interface Address {
  address: string;
  port: number;
  /** Reached over a TCP stream rather than as UDP datagrams. */
  transport?: 'tcp';
  /**
   * A server's peer over TCP: the link the client named when it connected. It outlives one connection,
   * so a client that reconnects is still the same peer (and keeps its session).
   */
  link?: string;
}

export const addressKey = (a: Address): string =>
  a.transport === 'tcp' ? `tcp|${a.address}|${a.link ?? a.port}` : `${a.address}|${a.port}`;

export const formatAddress = (a: Address): string =>
  a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;

/** How a person names an address together with its transport: `tcp://host:port`, or `host:port` for UDP. */
export const formatEndpoint = (a: Address): string => (a.transport === 'tcp' ? `tcp://${formatAddress(a)}` : formatAddress(a));

export interface Transmit {
  to: Address;
  data: Buffer;
  /** May go after what is being answered meanwhile (an acknowledgement, behind a reader's reply). */
  deferrable?: true;
}

/** Loopback peers share the host: no path MTU to respect, so datagrams may be large. */
export const isLoopback = (a: Address): boolean =>
  a.address.startsWith('127.') || a.address === '::1' || a.address.startsWith('::ffff:127.');

/** Peers that take large packets: loopback, and any TCP stream (the stream cuts them to the path). */
export const takesLargePackets = (a: Address): boolean => a.transport === 'tcp' || isLoopback(a);
