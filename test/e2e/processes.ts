import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test, type TestContext } from 'node:test';
import { freePort } from './system-tools.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const bin = (name: string): string => `${ROOT}bin/${name}.js`;

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface Running {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** stdout chunks with the time each arrived. */
  chunks: { at: number; data: string }[];
  done: Promise<Finished>;
}

let transport: 'udp' | 'tcp' = 'udp';

/** Runs every client started in this test file over `t` (servers serve both): one suite, both transports. */
export function useTransport(t: 'udp' | 'tcp'): void {
  transport = t;
}

export const clientTransport = (): 'udp' | 'tcp' => transport;

/**
 * A test of the store or of the server alone, not of how clients reach it: registered in the run over
 * UDP only, where a suite runs over both transports.
 */
export function onceOverUdp(name: string, fn: (t: TestContext) => Promise<void>): void {
  if (transport === 'udp') test(name, fn);
}

/** Said in a suite's title when its clients go over TCP. */
export const overTransport = (): string => (transport === 'tcp' ? ' (over TCP)' : '');

// The user's own config (its file, its known servers) is not the tests' business: each command gets an
// empty config directory of its own, removed when it exits (servers of other tests on a port it reused
// must not look like a changed key).
const freshConfigDir = (): string => mkdtempSync(join(tmpdir(), 'relay-config-'));

// Every command a test started and that still runs. A test that fails midway leaves its processes
// behind (a reader waiting for a server that will not come back); they are killed when the file's tests
// end, so that they neither keep the file from ending nor talk to another test's server later.
const running = new Set<ChildProcess>();
const killAll = (): void => {
  for (const proc of running) proc.kill('SIGKILL');
};
after(killAll);
process.on('exit', killAll);

/** Runs one of the commands as a user would, with RELAY_* variables cleared and no config file, unless given. */
export function start(
  name: 'run-server' | 'run-writer' | 'run-reader' | 'run-chat',
  args: string[],
  env: Record<string, string> = {},
  cwd?: string,
): Running {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RELAY_')));
  const started = performance.now();
  const via = name !== 'run-server' && transport === 'tcp' ? ['--transport', 'tcp'] : [];
  const config = env.XDG_CONFIG_HOME === undefined ? freshConfigDir() : undefined;
  const proc = spawn(process.execPath, [bin(name), ...args, ...via], {
    env: { ...clean, ...(config !== undefined && { XDG_CONFIG_HOME: config }), ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(cwd !== undefined && { cwd }),
  });
  running.add(proc);
  let out = '';
  let err = '';
  const chunks: { at: number; data: string }[] = [];
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    chunks.push({ at: performance.now(), data: d });
  });
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  proc.stdin!.on('error', () => {}); // a command that exits early closes its stdin
  const done = once(proc, 'close').then(([code, signal]) => {
    running.delete(proc);
    if (config !== undefined) rmSync(config, { recursive: true, force: true });
    return {
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
    stdout: out,
    stderr: err,
    ms: performance.now() - started,
    };
  });
  return { proc, stdout: () => out, stderr: () => err, chunks, done };
}

/** Runs a command to the end with `input` on stdin. */
export async function run(name: 'run-writer' | 'run-reader' | 'run-server' | 'run-chat', args: string[], input = '', env: Record<string, string> = {}): Promise<Finished> {
  const r = start(name, args, env);
  r.proc.stdin!.end(input);
  return r.done;
}

export interface Server extends Running {
  port: number;
  stop(): Promise<Finished>;
}

/** A server on a free loopback port; its port is read from its start-up log. */
export async function startServer(args: string[] = [], cwd?: string, env: Record<string, string> = {}): Promise<Server> {
  const r = start('run-server', ['--port', '0', '--store', 'memory', ...args], env, cwd);
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${r.stderr()}`)), 10_000);
    const check = (): void => {
      const m = /"port":(\d+)/.exec(r.stderr());
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    r.proc.stderr!.on('data', check);
    r.done.then(() => reject(new Error(`server exited: ${r.stderr()}`)), reject);
  });
  return {
    ...r,
    port,
    stop: async () => {
      r.proc.kill('SIGTERM');
      return r.done;
    },
  };
}

/**
 * A server for the tests of one describe block: started before them (then `ready`, if given, runs),
 * stopped after. `p` is filled with its `--port` option once it runs.
 */
export function serverForTests(args: string[] = [], ready?: (p: string[]) => Promise<void>): { p: string[] } {
  const shared = { p: [] as string[] };
  let server: Server | undefined;
  before(async () => {
    server = await startServer(args);
    shared.p.push('--port', String(server.port));
    await ready?.(shared.p);
  });
  after(async () => {
    await server?.stop();
  });
  return shared;
}

export const lines = (from: number, to: number): string => {
  let s = '';
  for (let i = from; i <= to; i++) s += `${i}\n`;
  return s;
};

export const jsonLines = (s: string): Record<string, unknown>[] =>
  s
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until a process has said something on stderr; fails fast if it exits or takes too long. */
export async function waitFor(r: Running, pattern: RegExp, ms = 15_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!pattern.test(r.stderr())) {
    if (r.proc.exitCode !== null || performance.now() > deadline) throw new Error(`never said ${pattern}: ${r.stderr()}`);
    await sleep(20);
  }
}

/** Starts a reader and waits until it is registered: lines written after that reach it. */
export async function startReader(args: string[], env: Record<string, string> = {}): Promise<Running> {
  const r = start('run-reader', ['--log-level', 'info', ...args], env);
  await waitFor(r, /registered as/);
  return r;
}

/** Resident memory of a process, in KB. */
export const rssKb = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

/** A port with nothing listening, that no other test's server or client takes meanwhile. */
export const deadPort = freePort;

/** A server that the test stops and starts again on the same port (see freePort). */
export async function startServerToRestart(args: string[] = []): Promise<Server> {
  return startServer(['--port', String(await freePort()), ...args]);
}
