/** How often the line is redrawn, and how long a run goes before it shows (a short input shows nothing). */
const TICK_MS = 250;
const SHOW_AFTER_MS = 1_000;

export interface LineCounts {
  sent: number;
  confirmed: number;
}

/**
 * One line on a terminal's stderr saying how a long write goes: lines sent, lines confirmed, the rate;
 * redrawn a few times a second, and cleared at the end (or before a log line, which then stands alone).
 */
export class ProgressLine {
  private timer: NodeJS.Timeout | undefined;
  private shown = false;
  private last: { at: number; confirmed: number } | undefined;
  private rate = 0;

  constructor(
    private readonly out: { write(text: string): unknown },
    private readonly counts: () => LineCounts,
    private readonly clock: () => number = Date.now,
  ) {}

  start(): void {
    const started = this.clock();
    this.timer = setInterval(() => {
      if (this.clock() - started >= SHOW_AFTER_MS) this.draw();
    }, TICK_MS);
    this.timer.unref();
  }

  /** Takes the line off the screen (it comes back at the next tick while the run goes on). */
  clear(): void {
    if (!this.shown) return;
    this.out.write('\r\x1b[K');
    this.shown = false;
  }

  stop(): void {
    clearInterval(this.timer);
    this.clear();
  }

  /** The line as drawn now. */
  text(): string {
    const c = this.counts();
    const n = (v: number): string => Math.round(v).toLocaleString('en');
    return `sent ${n(c.sent)} lines, ${n(c.confirmed)} confirmed, ${n(this.rate)} lines/s`;
  }

  private draw(): void {
    const at = this.clock();
    const { confirmed } = this.counts();
    if (this.last && at > this.last.at) this.rate = ((confirmed - this.last.confirmed) * 1000) / (at - this.last.at);
    this.last = { at, confirmed };
    this.out.write(`\r${this.text()}\x1b[K`);
    this.shown = true;
  }
}
