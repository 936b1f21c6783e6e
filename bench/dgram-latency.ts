import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { arrivalLatencies, sendPaced } from './paced-lines.js';
import { waitForLine } from './relay.js';

const HOP = fileURLToPath(new URL('./dgram-hop.ts', import.meta.url));

/**
 * The floor for a Node relay's latency on this machine: the same stream as the relay's latency run
 * (lines 1 ms apart, each carrying its send time) through three bare Node processes, as many as ours
 * has: stdin → source → relay → print → stdout, a datagram per chunk, no reliability, no store.
 */
export async function dgramLatency(count: number, warmup: number, basePort: number): Promise<number[]> {
  const hops: ChildProcess[] = [];
  try {
    const print = spawn(process.execPath, ['--import', 'tsx', HOP, 'print', String(basePort + 2)], { stdio: ['ignore', 'pipe', 'pipe'] });
    hops.push(print);
    const latencies = arrivalLatencies(print.stdout);
    await waitForLine(print.stderr, /ready/);
    for (const [role, from, to] of [['relay', 1, 2], ['source', 0, 1]] as const) {
      const p = spawn(process.execPath, ['--import', 'tsx', HOP, role, String(basePort + from), String(basePort + to)], {
        stdio: [role === 'source' ? 'pipe' : 'ignore', 'pipe', 'inherit'],
      });
      hops.push(p);
      await waitForLine(p.stdout!, /ready/);
    }
    const source = hops[2]!;
    await sendPaced(source.stdin!, count + warmup);
    source.stdin!.end();
    const deadline = Date.now() + 5_000;
    while (latencies.length < count + warmup && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return latencies.slice(warmup);
  } finally {
    for (const p of hops) p.kill();
    await Promise.all(hops.map((p) => (p.exitCode === null && p.signalCode === null ? once(p, 'exit') : undefined)));
  }
}
