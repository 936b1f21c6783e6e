import type { Address } from './address.js';

/**
 * The servers a client may use, in order, and the one in use. A client whose server stops answering
 * moves to the next (round the list), registers there, and carries on: the writer from its first
 * unconfirmed line, the reader from its position. Servers that share a store (redis) make that seamless.
 */
export class ServerList {
  private index = 0;
  /** When the client moved to the current server (or started). */
  since: number;

  constructor(
    private readonly servers: readonly Address[],
    now: number,
  ) {
    if (servers.length === 0) throw new Error('a client needs at least one server');
    this.since = now;
  }

  get current(): Address {
    return this.servers[this.index]!;
  }

  /** More than one server to choose from. */
  get canMove(): boolean {
    return this.servers.length > 1;
  }

  /**
   * A datagram from the server in use. The port and transport are what tell servers apart here (an answer
   * may come from another of the server's addresses); what a former server still sends is refused by
   * session id.
   */
  isCurrent(from: Address): boolean {
    return from.port === this.current.port && from.transport === this.current.transport;
  }

  /** Moves to the next server; returns the one left. */
  moveOn(now: number): Address {
    const left = this.current;
    this.index = (this.index + 1) % this.servers.length;
    this.since = now;
    return left;
  }
}
