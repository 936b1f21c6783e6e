import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { bin, startBenchServer, waitForLine, type BenchServer } from './relay.js';

export interface TopicsResult {
  linesPerSecond: number;
  outputMatches: boolean;
  /** CPU time the relay servers used (all of them), per 1,000 lines. */
  relayCpuMsPerKLine: number;
}

/** User and system CPU time of a process so far, in ms (Linux: /proc/PID/stat, in clock ticks of 10 ms). */
const cpuMs = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
};

const TOPICS = ['logs.web', 'logs.db', 'logs.api', 'chat.ops', 'events.billing', 'metrics.cpu'];

/**
 * `seq 1 N` into each of six topics at once, a writer and a reader per topic, spread over `servers` relay
 * servers on one store: aggregate lines/s from the writers' start to the last reader's last line.
 */
export async function topicsThroughput(n: number, servers: number, store: string): Promise<TopicsResult> {
  const relays: BenchServer[] = [];
  try {
    for (let i = 0; i < servers; i++) relays.push(await startBenchServer(['--store', store]));
    let input = '';
    for (let j = 1; j <= n; j++) input += `${j}\n`;
    const expected = createHash('sha256').update(input).digest('hex');
    const port = (i: number): string => String(relays[i % servers]!.port);
    const readers = TOPICS.map((t, i) => {
      const r = spawn(process.execPath, [bin('run-reader'), '-u', `bench-r${i}`, '--port', port(i), '--topic', t, '--format', 'raw', '--count', String(n), '--log-level', 'info'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const hash = createHash('sha256');
      r.stdout.on('data', (d: Buffer) => hash.update(d));
      return { r, hash, registered: waitForLine(r.stderr, /registered as/), exit: once(r, 'exit') };
    });
    await Promise.all(readers.map((x) => x.registered));
    const started = performance.now();
    const writers = TOPICS.map((t, i) => {
      const w = spawn(process.execPath, [bin('run-writer'), '-u', `bench-w${i}`, '--port', port(i), '--topic', t, '--log-level', 'warn'], { stdio: ['pipe', 'ignore', 'inherit'] });
      w.stdin.end(input);
      return once(w, 'exit');
    });
    const codes = await Promise.all([...readers.map((x) => x.exit), ...writers]);
    const seconds = (performance.now() - started) / 1000;
    if (codes.some(([code]) => code !== 0)) throw new Error(`exit codes ${codes.map(([c]) => String(c)).join(',')}`);
    const relayCpu = relays.reduce((sum, r) => sum + cpuMs(r.pid), 0);
    return {
      linesPerSecond: (TOPICS.length * n) / seconds,
      outputMatches: readers.every((x) => x.hash.digest('hex') === expected),
      relayCpuMsPerKLine: (relayCpu * 1000) / (TOPICS.length * n),
    };
  } finally {
    await Promise.all(relays.map((r) => r.stop()));
  }
}
