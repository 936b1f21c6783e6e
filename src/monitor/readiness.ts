/** Whether the server takes work, and if not, why: what /readyz answers. */
export class Readiness {
  storeOpen = false;
  /** The store answers (a redis store can be cut off and come back). */
  storeReachable = true;
  /** Its sockets are bound: clients can reach it (after the store opens). */
  listening = false;
  draining = false;

  get storeUp(): boolean {
    return this.storeOpen && this.storeReachable;
  }

  get ready(): boolean {
    return this.storeUp && this.listening && !this.draining;
  }

  /** Why the server is not ready; undefined when it is. */
  get reason(): string | undefined {
    if (this.draining) return 'stopping';
    if (!this.storeOpen) return 'the store is not open yet';
    if (!this.storeReachable) return 'the store cannot be reached';
    if (!this.listening) return 'not listening yet';
    return undefined;
  }
}
