import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const HOP = fileURLToPath(new URL('./dgram-hop.ts', import.meta.url));

const startHop = async (args: string[]): Promise<ChildProcess> => {
  const p = spawn(process.execPath, ['--import', 'tsx', HOP, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => p.stdout!.once('data', () => resolve()));
  return p;
};

/**
 * The ceiling of a bare Node relay over two hops (sender → relay → receiver), no reliability: `seq 1 N`
 * sent as fast as the sender can, one line per datagram or packed into ~1,200-byte datagrams.
 * Lines/s counts what arrived (some may be lost: nothing resends).
 */
export async function dgramCeiling(n: number, packed: boolean, basePort: number): Promise<{ linesPerSecond: number; delivered: number }> {
  const sink = await startHop(['sink', String(basePort + 1)]);
  const relay = await startHop(['relay', String(basePort), String(basePort + 1)]);
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const started = performance.now();
  let batch: string[] = [];
  let bytes = 0;
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const data = Buffer.from(batch.join(''));
    batch = [];
    bytes = 0;
    await new Promise<void>((r) => sock.send(data, basePort, '127.0.0.1', () => r()));
  };
  for (let i = 1; i <= n; i++) {
    const line = `${i}\n`;
    batch.push(line);
    bytes += line.length;
    if (!packed || bytes >= 1_190) await flush();
  }
  await flush();
  await new Promise((r) => setTimeout(r, 300)); // let the last ones through
  sink.kill('SIGTERM');
  let out = '';
  sink.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await once(sink, 'exit');
  relay.kill('SIGTERM');
  sock.close();
  const lines = Number(out.trim().split(' ')[0]);
  const seconds = (performance.now() - started - 300) / 1000;
  return { linesPerSecond: lines / seconds, delivered: lines };
}
