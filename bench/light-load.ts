import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { cpuSeconds } from './fanout.js';
import { bin, startBenchServer } from './relay.js';

export interface LightLoadResult {
  /** Server CPU per line, µs, while the log is young (a few thousand lines). */
  youngUs: number;
  /** The same once tens of thousands of small records are stored (every in-memory bound reached). */
  oldUs: number;
}

/**
 * Writes `count` lines at `perMs` lines per ms, in writes of a few lines: each line travels, and is stored,
 * nearly alone. `eager` checks the time at every turn of the event loop rather than every millisecond
 * (above one line per ms, waiting a millisecond would write lines in bunches).
 */
async function paced(stdin: Writable, count: number, perMs: number, eager = false): Promise<void> {
  const t0 = performance.now();
  for (let i = 0; i < count; ) {
    const due = Math.min(count, Math.floor((performance.now() - t0) * perMs));
    let s = '';
    for (; i < due; i++) s += `line ${i}\n`;
    if (s) stdin.write(s);
    await new Promise((r) => (eager ? setImmediate(r) : setTimeout(r, 1)));
  }
}

/**
 * A long-running server at light load: one writer at 1,000 lines/s, one line per datagram and per
 * record. Its CPU per line when the log is young, and again after 40,000 more lines: a cost that grows
 * with what the server has stored shows as a ratio above 1.
 */
export async function lightLoad(): Promise<LightLoadResult> {
  const server = await startBenchServer(['--store', 'sqlite']);
  const writer = spawn(process.execPath, [bin('run-writer'), '-u', 'light-w', '--port', String(server.port), '--log-level', 'warn'], {
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  try {
    const measure = async (): Promise<number> => {
      const c0 = cpuSeconds(server.pid);
      await paced(writer.stdin, 5_000, 1);
      await new Promise((r) => setTimeout(r, 200));
      return ((cpuSeconds(server.pid) - c0) / 5_000) * 1e6;
    };
    await paced(writer.stdin, 3_000, 1); // warm-up
    const youngUs = await measure();
    await paced(writer.stdin, 40_000, 4, true);
    await new Promise((r) => setTimeout(r, 500));
    const oldUs = await measure();
    writer.stdin.end();
    const [code] = await once(writer, 'exit');
    if (code !== 0) throw new Error(`writer exit ${code}`);
    return { youngUs, oldUs };
  } finally {
    writer.kill();
    await server.stop();
  }
}
