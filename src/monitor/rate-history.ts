import type { ServerSnapshot } from '../core/server/server-snapshot.js';

/** Seconds of history kept: what the status page plots. */
export const HISTORY_SECONDS = 300;

interface Sample {
  at: number;
  stored: number;
  datagramsIn: number;
  writers: Map<string, number>;
}

/**
 * Rates from samples of the server's counters, one per second: lines/s now and over the last minute,
 * each writer's rate, and the last five minutes of lines/s for a plot.
 */
export class RateHistory {
  private readonly samples: Sample[] = [];

  sample(at: number, stats: { messagesStored: number; datagramsIn: number }, snapshot: ServerSnapshot): void {
    const writers = new Map(snapshot.writers.map((w) => [w.name, w.stored]));
    this.samples.push({ at, stored: stats.messagesStored, datagramsIn: stats.datagramsIn, writers });
    if (this.samples.length > HISTORY_SECONDS + 1) this.samples.shift();
  }

  /** Lines stored per second over the last `seconds` (as far back as there are samples). */
  linesPerSecond(seconds = 1): number {
    return this.rate(seconds, (s) => s.stored);
  }

  datagramsPerSecond(seconds = 1): number {
    return this.rate(seconds, (s) => s.datagramsIn);
  }

  /** A writer's lines per second over the last few seconds (0 for one not sampled twice yet). */
  writerRate(name: string, seconds = 3): number {
    return this.rate(seconds, (s) => s.writers.get(name));
  }

  /** Lines/s of each second of the history, oldest first. */
  series(): number[] {
    const out: number[] = [];
    for (let i = 1; i < this.samples.length; i++) out.push(perSecond(this.samples[i - 1]!, this.samples[i]!, (s) => s.stored) ?? 0);
    return out;
  }

  private rate(seconds: number, figure: (s: Sample) => number | undefined): number {
    const last = this.samples.at(-1);
    if (!last) return 0;
    const from = this.samples[Math.max(0, this.samples.length - 1 - seconds)]!;
    return perSecond(from, last, figure) ?? 0;
  }
}

function perSecond(a: Sample, b: Sample, figure: (s: Sample) => number | undefined): number | undefined {
  const x = figure(a);
  const y = figure(b);
  if (x === undefined || y === undefined || b.at <= a.at) return undefined;
  return Math.max(0, ((y - x) * 1000) / (b.at - a.at));
}
