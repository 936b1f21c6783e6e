import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureCommand, freePort } from '../test/e2e/system-tools.js';
import { peakRssMb } from './fanout.js';
import { waitForLine } from './relay.js';

export type NatsMode = 'core' | 'js' | 'js-dedup';

const CLIENT = fileURLToPath(new URL('./nats-client.mjs', import.meta.url));

/** Installs nats-server from Debian's package when missing. */
export function ensureNats(): void {
  ensureCommand('nats-server', 'nats-server');
}

/**
 * `seq 1 N` through a NATS publisher → nats-server → subscriber (bench/nats-client.mjs), timed from the
 * publisher's start to the subscriber's last line, output checked equal to input. A fresh nats-server
 * per run, JetStream on a temporary directory (a file stream), as our server gets a fresh data directory.
 */
export async function natsThroughput(n: number, mode: NatsMode): Promise<{ linesPerSecond: number; outputMatches: boolean; serverRssMb: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-nats-'));
  const port = await freePort();
  const server = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    await waitForLine(server.stderr, /Server is ready/);
    const url = `127.0.0.1:${port}`;
    const subject = 'bench.lines';
    if (mode !== 'core') await makeStream(url, subject);
    const sub = spawn(process.execPath, [CLIENT, 'sub', url, mode, subject, String(n)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const got = createHash('sha256');
    sub.stdout.on('data', (d: Buffer) => got.update(d));
    const subExit = once(sub, 'exit');
    await waitForLine(sub.stderr, /ready/);
    const expected = createHash('sha256');
    const started = performance.now();
    const pub = spawn(process.execPath, [CLIENT, 'pub', url, mode, subject], { stdio: ['pipe', 'ignore', 'inherit'] });
    for (let i = 1; i <= n; i += 10_000) {
      let s = '';
      for (let j = i; j <= Math.min(n, i + 9_999); j++) s += `${j}\n`;
      expected.update(s);
      if (!pub.stdin.write(s)) await once(pub.stdin, 'drain');
    }
    pub.stdin.end();
    const timer = setTimeout(() => sub.kill(), 300_000);
    const [[subCode], [pubCode]] = await Promise.all([subExit, once(pub, 'exit')]);
    clearTimeout(timer);
    const seconds = (performance.now() - started) / 1000;
    if (subCode !== 0 || pubCode !== 0) throw new Error(`NATS ${mode}: publisher exit ${pubCode}, subscriber exit ${subCode}`);
    return { linesPerSecond: n / seconds, outputMatches: got.digest('hex') === expected.digest('hex'), serverRssMb: peakRssMb(server.pid!) };
  } finally {
    server.kill('SIGTERM');
    await once(server, 'exit').catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Makes the file stream the JetStream runs use (one subject, no limits, de-duplication window 2 min, NATS's default). */
async function makeStream(url: string, subject: string): Promise<void> {
  const p = spawn(process.execPath, [CLIENT, 'stream', url, 'js', subject], { stdio: ['ignore', 'ignore', 'inherit'] });
  const [code] = await once(p, 'exit');
  if (code !== 0) throw new Error(`nats-client stream exit ${code}`);
}
