import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCommand, freePort } from '../e2e/system-tools.js';

/** A Redis Cluster of the tests' own: masters on free loopback ports, no replicas, an append-only file each. */
export interface RedisCluster {
  ports: number[];
  /** redis+cluster://127.0.0.1:P1,…, with `?prefix=` added for keys of their own. */
  url(prefix?: string): string;
  /** Kills master `i` (SIGKILL: as a crash). */
  kill(i: number): Promise<void>;
  /** Starts master `i` again on its port, with its append-only file and its cluster configuration. */
  restart(i: number): Promise<void>;
  /** The keys a master holds that match `pattern`. */
  keys(i: number, pattern: string): string[];
  stop(): Promise<void>;
}

const ask = (port: number, line: string): Promise<string> =>
  new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => s.write(`${line}\r\n`));
    s.once('data', (d) => {
      s.destroy();
      resolve(d.toString());
    });
    s.once('error', () => resolve(''));
  });

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Every master answers and says the cluster is whole. */
async function untilOk(ports: number[], ms = 20_000): Promise<void> {
  const deadline = performance.now() + ms;
  for (;;) {
    const infos = await Promise.all(ports.map((p) => ask(p, 'CLUSTER INFO')));
    if (infos.every((i) => i.includes('cluster_state:ok'))) return;
    if (performance.now() > deadline) throw new Error(`the redis cluster is not ok: ${infos.map((i) => i.split('\r\n')[1]).join(' / ')}`);
    await sleep(50);
  }
}

/**
 * `cluster-require-full-coverage no`: while a master is down, topics on the others go on (the default
 * stops the whole cluster). `appendfsync`: 'always' (every write on disk before Redis answers) or
 * 'everysec' (Redis's usual setting with an append-only file).
 */
export async function startRedisCluster(masters = 3, appendfsync: 'always' | 'everysec' = 'always'): Promise<RedisCluster> {
  ensureCommand('redis-server', 'redis-server');
  const dir = mkdtempSync(join(tmpdir(), 'relay-cluster-'));
  const ports: number[] = [];
  for (let i = 0; i < masters; i++) ports.push(await freePort());
  const procs: (ChildProcess | undefined)[] = [];
  const launch = async (i: number): Promise<void> => {
    const home = join(dir, String(ports[i]));
    mkdirSync(home, { recursive: true });
    const proc = spawn(
      'redis-server',
      [
        '--port', String(ports[i]), '--bind', '127.0.0.1', '--dir', home, '--save', '', '--protected-mode', 'no',
        '--appendonly', 'yes', '--appendfsync', appendfsync,
        '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '1000',
        '--cluster-require-full-coverage', 'no',
      ],
      { stdio: 'ignore' },
    );
    procs[i] = proc;
    for (let k = 0; k < 200; k++) {
      if ((await ask(ports[i]!, 'PING')).startsWith('+PONG')) return;
      if (proc.exitCode !== null) break;
      await sleep(25);
    }
    throw new Error(`redis-server did not start on port ${ports[i]}`);
  };
  const kill = async (i: number): Promise<void> => {
    const proc = procs[i];
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = once(proc, 'exit');
    proc.kill('SIGKILL');
    await exited;
  };
  await Promise.all(ports.map((_, i) => launch(i)));
  execFileSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-yes'], { stdio: 'ignore' });
  await untilOk(ports);
  return {
    ports,
    url: (prefix) => `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}${prefix ? `?prefix=${prefix}` : ''}`,
    kill,
    restart: async (i) => {
      await launch(i);
      await untilOk(ports);
    },
    keys: (i, pattern) => execFileSync('redis-cli', ['-p', String(ports[i]), '--scan', '--pattern', pattern], { encoding: 'utf8' }).split('\n').filter(Boolean),
    stop: async () => {
      await Promise.all(ports.map((_, i) => kill(i)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
