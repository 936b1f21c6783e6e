import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { arrivalLatencies, sendPaced } from './paced-lines.js';
import { bin, startBenchServer, waitForLine } from './relay.js';

/**
 * Lines 1 ms apart, each carrying its send time, through writer → server → reader --delay 0.
 * The first `warmup` lines are sent the same way but not counted.
 */
export async function relayLatency(count: number, warmup: number, storeArgs: string[] = ['--store', 'sqlite'], clientArgs: string[] = []): Promise<number[]> {
  const server = await startBenchServer(storeArgs);
  try {
    const common = ['--port', String(server.port), '--log-level', 'info', ...clientArgs];
    const reader = spawn(process.execPath, [bin('run-reader'), '-u', 'lat-r', '--format', 'raw', '--delay', '0', '--count', String(count + warmup), ...common], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const latencies = arrivalLatencies(reader.stdout);
    await waitForLine(reader.stderr, /registered as/);
    const writer = spawn(process.execPath, [bin('run-writer'), '-u', 'lat-w', ...common], { stdio: ['pipe', 'ignore', 'pipe'] });
    await waitForLine(writer.stderr, /registered as/);
    await sendPaced(writer.stdin, count + warmup);
    writer.stdin.end();
    await Promise.all([once(writer, 'exit'), once(reader, 'exit')]);
    return latencies.slice(warmup);
  } finally {
    await server.stop();
  }
}

export const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};
