/**
 * The latency stream: lines about 1 ms apart, each carrying its send time, and the time each took to
 * come out at the other end. Shared by every path the bench measures, so that all are timed alike.
 */

/**
 * Writes `count` lines about 1 ms apart, each its own send time (ms since the epoch, fractional).
 * Paced by timers, not by spinning: on a small machine a spinning sender would steal the CPU that the
 * programs being measured need, and each line carries the time it was really written anyway.
 */
export async function sendPaced(out: NodeJS.WritableStream, count: number): Promise<void> {
  const start = performance.now();
  for (let i = 0; i < count; ) {
    const due = start + i;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    out.write(`${(performance.timeOrigin + performance.now()).toFixed(3)}\n`);
    i++;
  }
}

/** The latency of each line that `stream` prints, in ms, as it arrives (the array fills as lines come). */
export function arrivalLatencies(stream: NodeJS.ReadableStream): number[] {
  const latencies: number[] = [];
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (d: string) => {
    const at = performance.timeOrigin + performance.now();
    const lines = (rest + d).split('\n');
    rest = lines.pop()!;
    for (const l of lines) latencies.push(at - Number(l));
  });
  return latencies;
}
