import { execFileSync, spawnSync } from 'node:child_process';
import { once } from 'node:events';
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

/** A TCP port free on loopback just now (for a server of the tests' own: redis, mosquitto). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}
