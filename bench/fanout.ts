import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bin, startBenchServer } from './relay.js';

const LOAD = fileURLToPath(new URL('./load-readers.ts', import.meta.url));

/** CPU seconds a process has used (user + system). */
export const cpuSeconds = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};
export const rssMb = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
/**
 * The part of RSS that is the process's own memory (anonymous pages: V8's heap, malloc's, SQLite's cache),
 * as against the pages of files mapped in (mostly the node binary's code, the same in every Node process).
 */
export const anonMb = (pid: number): number => Number(/RssAnon:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
/** The most a process has held in memory since it started (the kernel's high-water mark of its RSS). */
export const peakRssMb = (pid: number): number => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

const startLoad = (port: number, count: number, delayMs: number, expected: number): { proc: ChildProcess; said: (p: RegExp, ms: number) => Promise<string> } => {
  const proc = spawn(process.execPath, ['--import', 'tsx', LOAD, String(port), String(count), String(delayMs), String(expected)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const said = async (p: RegExp, ms: number): Promise<string> => {
    const deadline = performance.now() + ms;
    for (;;) {
      const m = p.exec(out);
      if (m) return m[0];
      if (performance.now() > deadline) throw new Error(`load process never said ${p}: ${out.slice(-200)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { proc, said };
};

export interface FanoutResult {
  readers: number;
  messages: number;
  allReceived: boolean;
  /** From the writer's first line to the last reader's last message. */
  seconds: number;
  serverCpuPercent: number;
  serverRssMb: number;
  serverPeakRssMb: number;
  /** CPU of the one process that runs every reader session. */
  loadCpuPercent: number;
}

/** One writer at `rate` lines/s for `seconds`; `readers` sessions with --delay `delayMs` in one load process. */
export async function fanout(readers: number, delayMs: number, rate: number, seconds: number): Promise<FanoutResult> {
  const server = await startBenchServer(['--store', 'sqlite', '--handshake-rate', '0']);
  const load = startLoad(server.port, readers, delayMs, rate * seconds);
  try {
    await load.said(/registered/, 120_000);
    const writer = spawn(process.execPath, [bin('run-writer'), '-u', 'fan-w', '--port', String(server.port), '--log-level', 'warn'], {
      stdio: ['pipe', 'ignore', 'inherit'],
    });
    const cpu0 = cpuSeconds(server.pid);
    const loadCpu0 = cpuSeconds(load.proc.pid!);
    const t0 = performance.now();
    let sent = 0;
    // Paced in 10 ms steps: `rate` lines per second, evenly.
    while (sent < rate * seconds) {
      const due = Math.min(rate * seconds, Math.floor(((performance.now() - t0) / 1000) * rate));
      let s = '';
      for (; sent < due; sent++) s += `message ${sent + 1}\n`;
      if (s) writer.stdin.write(s);
      await new Promise((r) => setTimeout(r, 10));
    }
    writer.stdin.end();
    const done = await load.said(/done .*/, seconds * 1000 + 120_000).catch(() => undefined);
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = cpuSeconds(server.pid) - cpu0;
    const loadCpu = cpuSeconds(load.proc.pid!) - loadCpu0;
    return {
      readers,
      messages: rate * seconds,
      allReceived: done !== undefined,
      seconds: elapsed,
      serverCpuPercent: (100 * cpu) / elapsed,
      serverRssMb: rssMb(server.pid),
      serverPeakRssMb: peakRssMb(server.pid),
      loadCpuPercent: (100 * loadCpu) / elapsed,
    };
  } finally {
    load.proc.kill('SIGTERM');
    await server.stop();
  }
}

/** Server RSS per idle registered reader session: RSS with `count` sessions minus RSS with none, over `count`. */
export async function idleSessionCost(count: number): Promise<{ sessions: number; before: number; after: number; perSessionKb: number }> {
  const server = await startBenchServer(['--store', 'sqlite', '--handshake-rate', '0']);
  await new Promise((r) => setTimeout(r, 500));
  const before = rssMb(server.pid);
  const load = startLoad(server.port, count, 600_000, 0);
  try {
    await load.said(/registered/, 300_000);
    await new Promise((r) => setTimeout(r, 2_000)); // positions and registry written
    const after = rssMb(server.pid);
    return { sessions: count, before, after, perSessionKb: ((after - before) * 1024) / count };
  } finally {
    load.proc.kill('SIGTERM');
    await server.stop();
  }
}
