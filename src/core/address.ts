/** A UDP peer. The core treats it as opaque apart from its key. */
export interface Address {
  address: string;
  port: number;
}

export const addressKey = (a: Address): string => `${a.address}|${a.port}`;

export const formatAddress = (a: Address): string =>
  a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;

export interface Transmit {
  to: Address;
  data: Buffer;
  /** May go after what is being answered meanwhile (an acknowledgement, behind a reader's reply). */
  deferrable?: true;
}

/** Loopback peers share the host: no path MTU to respect, so datagrams may be large. */
export const isLoopback = (a: Address): boolean =>
  a.address.startsWith('127.') || a.address === '::1' || a.address.startsWith('::ffff:127.');
