import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { rssMb } from './fanout.js';
import { bin, startBenchServer } from './relay.js';

/** Sends `from..to` as lines through one run-writer; resolves with the seconds it took. */
async function write(port: number, from: number, to: number): Promise<number> {
  const writer = spawn(process.execPath, [bin('run-writer'), '-u', 'grow-w', '--port', String(port), '--log-level', 'warn'], {
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  const started = performance.now();
  for (let i = from; i <= to; i += 10_000) {
    let s = '';
    for (let j = i; j <= Math.min(to, i + 9_999); j++) s += `log line ${j}\n`;
    if (!writer.stdin.write(s)) await once(writer.stdin, 'drain');
  }
  writer.stdin.end();
  const [code] = await once(writer, 'exit');
  if (code !== 0) throw new Error(`writer exit ${code}`);
  return (performance.now() - started) / 1000;
}

export interface GrowthPoint {
  logMessages: number;
  /** Lines/s of a 100,000-line writer run that ends at this log size. */
  appendLinesPerSecond: number;
  serverRssMb: number;
}

/** Server RSS and append throughput as the log grows to each of `sizes` (sqlite store). */
export async function logGrowth(sizes: number[], probe = 100_000): Promise<GrowthPoint[]> {
  const server = await startBenchServer(['--store', 'sqlite']);
  const points: GrowthPoint[] = [];
  try {
    let have = 0;
    for (const size of sizes) {
      if (size - probe > have) await write(server.port, have + 1, size - probe);
      const seconds = await write(server.port, size - probe + 1, size);
      have = size;
      points.push({ logMessages: size, appendLinesPerSecond: probe / seconds, serverRssMb: rssMb(server.pid) });
    }
    return points;
  } finally {
    await server.stop();
  }
}
