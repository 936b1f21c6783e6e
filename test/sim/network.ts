import type { Address } from '../../src/core/address.js';
import { addressKey } from '../../src/core/address.js';
import type { Prng } from './prng.js';

export interface Faults {
  loss: number;
  duplicate: number;
  /** Chance that a datagram is held back long enough to arrive after later ones. */
  reorder: number;
  delayMs: number;
  jitterMs: number;
}

export const CLEAN: Faults = { loss: 0, duplicate: 0, reorder: 0, delayMs: 0.1, jitterMs: 0 };

/** A simulated datagram network: every send becomes zero, one or two deliveries at chosen times. */
export class SimNetwork {
  faults: Faults = CLEAN;
  /** Addresses cut off from everyone while a partition lasts. */
  partitioned = new Set<string>();
  sent = 0;
  dropped = 0;
  /** Per address, how many times its connection dropped: what was on the way before is lost. */
  private readonly cuts = new Map<string, number>();

  constructor(
    private readonly rng: Prng,
    private readonly schedule: (at: number, fn: () => void) => void,
    private readonly deliver: (to: Address, from: Address, data: Buffer) => void,
  ) {}

  send(now: number, from: Address, to: Address, data: Buffer): void {
    this.sent++;
    const f = this.faults;
    if (this.partitioned.has(addressKey(from)) || this.partitioned.has(addressKey(to)) || this.rng.chance(f.loss)) {
      this.dropped++;
      return;
    }
    const cutsAt = this.cutsOf(from) + this.cutsOf(to);
    const copies = this.rng.chance(f.duplicate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      let delay = f.delayMs + this.rng.next() * f.jitterMs;
      if (this.rng.chance(f.reorder)) delay += f.delayMs * 2 + this.rng.next() * 5;
      const copy = Buffer.from(data);
      this.schedule(now + delay, () => {
        if (this.partitioned.has(addressKey(from)) || this.partitioned.has(addressKey(to))) return;
        if (this.cutsOf(from) + this.cutsOf(to) !== cutsAt) return void this.dropped++;
        this.deliver(to, from, copy);
      });
    }
  }

  /** `a`'s connection drops (a TCP reset): everything on the way to or from it is lost. */
  cut(a: Address): void {
    this.cuts.set(addressKey(a), this.cutsOf(a) + 1);
  }

  private cutsOf(a: Address): number {
    return this.cuts.get(addressKey(a)) ?? 0;
  }
}
