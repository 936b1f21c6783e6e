import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Prng } from '../sim/prng.js';
import { LossyProxy } from './lossy-proxy.js';
import { lines, rssKb, run, startReader, startServer, sleep, type Server } from './processes.js';

const root = mkdtempSync(join(tmpdir(), 'relay-hostile-'));

/** A socket of our own that counts the bytes the server sends back to it. */
async function attacker(): Promise<{ socket: Socket; received: () => number }> {
  const socket = createSocket('udp4');
  let bytes = 0;
  socket.on('message', (d) => (bytes += d.length));
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  return { socket, received: () => bytes };
}

const sendAll = async (socket: Socket, port: number, datagrams: Buffer[]): Promise<number> => {
  let bytes = 0;
  for (let i = 0; i < datagrams.length; i++) {
    socket.send(datagrams[i]!, port, '127.0.0.1');
    bytes += datagrams[i]!.length;
    if (i % 500 === 499) await new Promise((r) => setImmediate(r)); // let the sends go out
  }
  return bytes;
};

describe('a server facing spoofed, replayed and random datagrams', () => {
  let server: Server;
  let recorded: Buffer[] = [];
  before(async () => {
    server = await startServer(['--store', 'sqlite', '--data-dir', join(root, 'data')]);
    // A real writer and reader session, recorded on the way in.
    const proxy = new LossyProxy(server.port, { loss: 0, duplicate: 0, reorder: 0, reorderMs: 0 });
    proxy.record = true;
    const via = ['--port', String(await proxy.start())];
    const reader = await startReader(['-u', 'rec-r', ...via, '--format', 'raw', '--count', '300']);
    await run('run-writer', ['-u', 'rec-w', ...via], lines(1, 300));
    assert.equal((await reader.done).code, 0);
    await proxy.stop();
    recorded = proxy.recorded;
  });
  after(async () => {
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  });

  test('replaying every datagram of a real session from foreign addresses draws back no more bytes than were sent', async () => {
    assert.ok(recorded.length > 5, `${recorded.length} datagrams recorded`);
    for (let i = 0; i < 3; i++) {
      const a = await attacker();
      const sent = await sendAll(a.socket, server.port, recorded);
      await sleep(500);
      a.socket.close();
      assert.ok(a.received() <= sent, `address ${i + 1}: ${a.received()} bytes back for ${sent} sent`);
      // A server that answered nothing would pass the bound: it answers (cookies, unknown sessions), within it.
      assert.ok(a.received() > 0, `address ${i + 1}: the server answered nothing`);
    }
  });

  test('100,000 random and mutated datagrams: the server stays up, its memory bounded, and goes on serving', async (t) => {
    const rng = new Prng(7);
    const before = rssKb(server.proc.pid!);
    const sockets = await Promise.all([attacker(), attacker(), attacker(), attacker()]);
    let sent = 0;
    for (let batch = 0; batch < 100; batch++) {
      const datagrams: Buffer[] = [];
      for (let i = 0; i < 1000; i++) {
        if (rng.chance(0.5)) {
          const d = Buffer.alloc(rng.int(0, 1500));
          for (let k = 0; k < d.length; k++) d[k] = rng.int(0, 255);
          if (rng.chance(0.5) && d.length >= 4) d.set([0x55, 0x52, 0x02, rng.pick([1, 4, 0x10, 0x11, 0x20, 0x30, 0x32, 0x40])]);
          datagrams.push(d);
        } else {
          const d = Buffer.from(rng.pick(recorded));
          for (let k = rng.int(1, 4); k > 0; k--) d[rng.int(0, d.length - 1)] = rng.int(0, 255);
          datagrams.push(d);
        }
      }
      sent += await sendAll(rng.pick(sockets).socket, server.port, datagrams);
    }
    await sleep(1000);
    const afterRss = rssKb(server.proc.pid!);
    const back = sockets.reduce((n, s) => n + s.received(), 0);
    for (const s of sockets) s.socket.close();
    t.diagnostic(`server RSS ${Math.round(before / 1024)} MB before, ${Math.round(afterRss / 1024)} MB after; ${back} bytes answered to ${sent} sent`);
    assert.equal(server.proc.exitCode, null, 'still running');
    assert.ok(afterRss - before < 50 * 1024, `RSS grew ${Math.round((afterRss - before) / 1024)} MB`);
    assert.ok(back <= sent);
    const reader = await startReader(['-u', 'after-r', '--port', String(server.port), '--format', 'raw', '--count', '3']);
    const w = await run('run-writer', ['-u', 'after-w', '--port', String(server.port)], 'still\nworking\nfine\n');
    assert.equal(w.code, 0, w.stderr);
    assert.equal((await reader.done).stdout, 'still\nworking\nfine\n');
  });
});
