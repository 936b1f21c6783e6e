import { execFileSync, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

/** True when `command` is on the PATH. */
export const have = (command: string): boolean => spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;

/**
 * Makes sure a Debian package's command is there, installing the package when it is missing (the
 * test set-up does its own installing, so a fresh machine needs nothing beforehand).
 */
export function ensureCommand(command: string, pkg: string): void {
  if (have(command)) return;
  const sudo = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
  const apt = (args: string[]): void => {
    execFileSync(sudo[0] ?? 'apt-get', [...sudo.slice(1), ...(sudo.length ? ['apt-get'] : []), ...args], {
      stdio: 'ignore',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      timeout: 240_000,
    });
  };
  try {
    apt(['install', '-y', '--no-install-recommends', pkg]);
  } catch {
    apt(['update']);
    apt(['install', '-y', '--no-install-recommends', pkg]);
  }
  if (!have(command)) throw new Error(`${command} is missing and installing ${pkg} did not provide it`);
}

// Ports the system hands out for port 0 and to clients' sockets (Linux's default range is 32768-60999).
// A test port is taken below it: a server stopped and started again on its port, or a port meant to stay
// dead, cannot be taken meanwhile by another test's server or client that asked for any free port.
const QUIET_PORTS = { from: 20_000, to: 32_000 };

// Each resolves false where the port is taken (the error handler is there before the bind is tried).
const bindsTcp = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });

const bindsUdp = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });

/**
 * A loopback port free for both UDP and TCP just now, outside the system's range for port 0: for a
 * server of the tests' own (redis, mosquitto), a relay server that is stopped and started again on its
 * port, or a port where nothing must answer.
 */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 1_000; tries++) {
    const port = QUIET_PORTS.from + Math.floor(Math.random() * (QUIET_PORTS.to - QUIET_PORTS.from));
    if ((await bindsUdp(port)) && (await bindsTcp(port))) return port;
  }
  throw new Error('no free loopback port below the ephemeral range');
}
