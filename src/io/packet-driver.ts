import type { Transmit } from '../core/address.js';
import type { PacketTransport, SansIoCore } from '../core/sans-io.js';
import { now } from './clock.js';

/**
 * Drives one core over a transport with one timer: feeds it packets and timeouts, sends what it emits.
 * `afterInput` runs after every input, to take the core's other outputs (events, store requests).
 */
export class PacketDriver {
  private timer: NodeJS.Timeout | undefined;
  private armedAt: number | undefined;
  private stopped = false;
  private readonly deferred: Transmit[] = [];
  private deferredScheduled = false;

  constructor(
    private readonly transport: PacketTransport,
    private readonly core: SansIoCore,
    private readonly afterInput: () => void,
  ) {
    transport.listen(
      (data, from) => {
        if (this.stopped) return;
        this.core.handleDatagram(data, from, now());
        this.pump();
      },
      () => {
        if (this.stopped || !this.core.handlePathReset) return;
        this.core.handlePathReset(now());
        this.pump();
      },
    );
  }

  /** Sends what the core has queued, hands on its other outputs, and re-arms the timer. */
  pump(): void {
    if (this.stopped) return;
    this.afterInput();
    for (let t = this.core.pollTransmit(); t; t = this.core.pollTransmit()) {
      if (t.deferrable) this.deferred.push(t);
      else this.transport.send(t);
    }
    // Deferrable packets go at the end of this turn of the event loop, once the store results that are
    // due now (a reader's read, started with them) have been answered: a send costs tens of µs.
    if (this.deferred.length > 0 && !this.deferredScheduled) {
      this.deferredScheduled = true;
      setImmediate(() => this.sendDeferred());
    }
    this.arm();
  }

  /** Sends what waits, then takes nothing more. */
  stop(): void {
    this.sendDeferred();
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private sendDeferred(): void {
    this.deferredScheduled = false;
    if (this.stopped) return;
    for (const t of this.deferred.splice(0)) this.transport.send(t);
  }

  private arm(): void {
    const deadline = this.core.nextDeadline();
    if (deadline === undefined) return;
    if (this.timer && this.armedAt !== undefined && this.armedAt <= deadline) return;
    if (this.timer) clearTimeout(this.timer);
    this.armedAt = deadline;
    this.timer = setTimeout(() => this.fire(), Math.max(0, Math.ceil(deadline - now())));
  }

  private fire(): void {
    this.timer = undefined;
    this.armedAt = undefined;
    if (this.stopped) return;
    this.core.handleTimeout(now());
    this.pump();
  }
}
