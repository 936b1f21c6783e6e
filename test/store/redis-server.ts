import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCommand, freePort } from '../e2e/system-tools.js';

/** A redis-server of the tests' own on a free loopback port (installed from Debian packages when missing). */
export interface RedisServer {
  port: number;
  /** redis://127.0.0.1:PORT, with `?prefix=` added for a log of its own. */
  url(prefix?: string): string;
  /** Kills it (SIGKILL: as a crash). */
  kill(): Promise<void>;
  /** Starts it again on the same port, with what it had stored (append-only file, fsync at every write). */
  restart(): Promise<void>;
  /** Freezes it (SIGSTOP): connections stay open, nothing is answered. */
  pause(): void;
  resume(): void;
  /** Sends one command (inline form) and returns the first line of the answer. */
  command(line: string): Promise<string>;
  stop(): Promise<void>;
}

const answers = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (d) => {
      s.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    s.once('error', () => resolve(false));
  });

/**
 * `appendfsync`: 'always' (the default here: every write on disk before Redis answers, so a restart keeps
 * all it acknowledged) or 'everysec' (Redis's usual setting with an append-only file).
 */
export async function startRedis(appendfsync: 'always' | 'everysec' = 'always'): Promise<RedisServer> {
  ensureCommand('redis-server', 'redis-server');
  const dir = mkdtempSync(join(tmpdir(), 'relay-redis-'));
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', appendfsync, '--protected-mode', 'no'],
      { stdio: 'ignore' },
    );
    for (let i = 0; i < 200; i++) {
      if (await answers(port)) return;
      if (proc.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`redis-server did not start on port ${port}`);
  };
  const kill = async (): Promise<void> => {
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = once(proc, 'exit');
    proc.kill('SIGKILL');
    await exited;
  };
  await launch();
  return {
    port,
    url: (prefix) => `redis://127.0.0.1:${port}${prefix ? `?prefix=${prefix}` : ''}`,
    kill,
    restart: launch,
    pause: () => proc?.kill('SIGSTOP'),
    resume: () => proc?.kill('SIGCONT'),
    command: (line) =>
      new Promise((resolve, reject) => {
        const s = connect(port, '127.0.0.1');
        s.once('connect', () => s.write(`${line}\r\n`));
        s.once('data', (d) => {
          s.destroy();
          resolve(d.toString().split('\r\n')[0]!);
        });
        s.once('error', reject);
      }),
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
