import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { anonMb, peakRssMb, rssMb } from './fanout.js';
import { bin, startBenchServer } from './relay.js';

/** Sends `from..to` as lines through one run-writer; resolves with the seconds it took and the writer's peak RSS. */
async function write(port: number, from: number, to: number): Promise<{ seconds: number; writerPeakMb: number }> {
  const writer = spawn(process.execPath, [bin('run-writer'), '-u', 'grow-w', '--port', String(port), '--log-level', 'warn'], {
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  const started = performance.now();
  // The writer's high-water mark, read while it runs (its /proc entry goes with it).
  let writerPeakMb = 0;
  const sampler = setInterval(() => {
    try {
      writerPeakMb = peakRssMb(writer.pid!);
    } catch {
      // exited between two samples
    }
  }, 100);
  for (let i = from; i <= to; i += 10_000) {
    let s = '';
    for (let j = i; j <= Math.min(to, i + 9_999); j++) s += `log line ${j}\n`;
    if (!writer.stdin.write(s)) await once(writer.stdin, 'drain');
  }
  writer.stdin.end();
  const [code] = await once(writer, 'exit');
  clearInterval(sampler);
  if (code !== 0) throw new Error(`writer exit ${code}`);
  return { seconds: (performance.now() - started) / 1000, writerPeakMb };
}

export interface GrowthPoint {
  logMessages: number;
  /** Lines/s of a 100,000-line writer run that ends at this log size. */
  appendLinesPerSecond: number;
  serverRssMb: number;
  /** Of which its own memory (anonymous pages), not the node binary's mapped code. */
  serverAnonMb: number;
  /** The server's high-water mark so far. */
  serverPeakRssMb: number;
  writerPeakRssMb: number;
}

export interface Growth {
  points: GrowthPoint[];
  /** The server's RSS after `idleSeconds` with nothing to do, once the log holds the last size. */
  idleRssMb: number;
  idleAnonMb: number;
  idleSeconds: number;
  /** A fresh server with an empty log, 3 s after it started. */
  startRssMb: number;
  startAnonMb: number;
}

/**
 * Server RSS and append throughput as the log grows to each of `sizes` (sqlite store), then the server's
 * RSS after it has been idle for `idleSeconds` (V8 gives memory back only some while after the load ends).
 */
export async function logGrowth(sizes: number[], idleSeconds: number, probe = 100_000): Promise<Growth> {
  const server = await startBenchServer(['--store', 'sqlite']);
  const points: GrowthPoint[] = [];
  try {
    await new Promise((r) => setTimeout(r, 3_000));
    const startRssMb = rssMb(server.pid);
    const startAnonMb = anonMb(server.pid);
    let have = 0;
    for (const size of sizes) {
      if (size - probe > have) await write(server.port, have + 1, size - probe);
      const { seconds, writerPeakMb } = await write(server.port, size - probe + 1, size);
      have = size;
      points.push({
        logMessages: size,
        appendLinesPerSecond: probe / seconds,
        serverRssMb: rssMb(server.pid),
        serverAnonMb: anonMb(server.pid),
        serverPeakRssMb: peakRssMb(server.pid),
        writerPeakRssMb: writerPeakMb,
      });
    }
    await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    return { points, idleRssMb: rssMb(server.pid), idleAnonMb: anonMb(server.pid), idleSeconds, startRssMb, startAnonMb };
  } finally {
    await server.stop();
  }
}

/** What any Node process holds: a bare `node` doing nothing but wait, 3 s after it started. */
export async function bareNodeRss(): Promise<{ rssMb: number; anonMb: number }> {
  const node = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 3_000));
    return { rssMb: rssMb(node.pid!), anonMb: anonMb(node.pid!) };
  } finally {
    node.kill();
    await once(node, 'exit');
  }
}
