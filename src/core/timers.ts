/** The earliest of several optional deadlines. */
export const earliest = (...deadlines: (number | undefined)[]): number | undefined => {
  let min: number | undefined;
  for (const d of deadlines) if (d !== undefined && (min === undefined || d < min)) min = d;
  return min;
};

/** One deadline of a core: when it is due (undefined: not armed), and what happens then. */
export interface Timer {
  readonly name: string;
  at(): number | undefined;
  /** 'stop': the state it left makes the timers after it moot for this round. */
  fire(now: number): 'stop' | void;
}

/**
 * A core's deadlines as one table, so that what is armed and the next deadline are the same thing: the
 * driver sleeps until `next()`, and `fireDue` runs exactly the timers whose `at()` has come. Timers fire
 * in table order, each asked again after the one before it has fired (firing moves deadlines).
 */
export class TimerTable {
  constructor(private readonly timers: readonly Timer[]) {}

  next(): number | undefined {
    let min: number | undefined;
    for (const t of this.timers) {
      const at = t.at();
      if (at !== undefined && (min === undefined || at < min)) min = at;
    }
    return min;
  }

  fireDue(now: number): void {
    for (const t of this.timers) {
      const at = t.at();
      if (at !== undefined && now >= at && t.fire(now) === 'stop') return;
    }
  }

  /** The armed timers by name, for tests and diagnostics. */
  armed(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const t of this.timers) {
      const at = t.at();
      if (at !== undefined) out[t.name] = at;
    }
    return out;
  }
}
