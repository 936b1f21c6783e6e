/**
 * Names held across servers that share a store. A server keeps its own sessions' names in memory; with
 * several servers on one store, each name a session holds is also claimed in the store, for the session
 * timeout, and the claim is renewed while the session lives. A claim names its holder as the client's
 * address and the server: the same client moving to another server (same address) may claim its name
 * again; another address may not while the claim lives, unless it proved the user's secret
 * (authenticated mode), and then the server that held it learns at its next renewal that its session
 * was taken over.
 */
export interface NameClaim {
  /** role:name, as the server keys its sessions. */
  key: string;
  /** clientAddress|serverToken */
  holder: string;
}

export class NameClaims {
  private readonly held = new Map<string, string>();
  private renewAt: number | undefined;

  constructor(
    private readonly serverToken: string,
    readonly ttlMs: number,
  ) {}

  holder(addrKey: string): string {
    return `${addrKey}|${this.serverToken}`;
  }

  /** The store gave us `key`; renew it while the session lives. */
  claimed(key: string, holder: string, now: number): void {
    this.held.set(key, holder);
    this.renewAt ??= now + this.renewEveryMs;
  }

  /** The session holding `key` ended: true if the claim is ours to give back. */
  release(key: string, holder: string): boolean {
    if (this.held.get(key) !== holder) return false;
    this.held.delete(key);
    if (this.held.size === 0) this.renewAt = undefined;
    return true;
  }

  get deadline(): number | undefined {
    return this.renewAt;
  }

  /** Claims due for renewal now (all of them, in one request), or none. */
  due(now: number): NameClaim[] {
    if (this.renewAt === undefined || now < this.renewAt) return [];
    // Renewals are planned only while a claim is held (release and lost end them).
    this.renewAt = now + this.renewEveryMs;
    return [...this.held].map(([key, holder]) => ({ key, holder }));
  }

  /** Renewals lost these (the claim expired and another client took the name, or a login took it over). */
  lost(keys: readonly string[]): void {
    for (const k of keys) this.held.delete(k);
    if (this.held.size === 0) this.renewAt = undefined;
  }

  /** Three renewals per lifetime: a claim outlives one lost or late renewal. */
  private get renewEveryMs(): number {
    return Math.max(1, Math.floor(this.ttlMs / 3));
  }
}
