import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { StreamWriter } from '../../src/io/stream-writer.js';

test('a stream whose peer stops reading: what waits to be sent stays within its bound, and frames past it are refused', async () => {
  const server = createServer((s) => s.pause()); // accepts, then reads nothing
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const socket: Socket = connect({ host: '127.0.0.1', port: (server.address() as { port: number }).port });
  await once(socket, 'connect');
  const bound = 256 * 1024;
  const out = new StreamWriter(socket, bound);
  const frame = Buffer.alloc(64 * 1024, 1);
  let written = 0;
  let refused = 0;
  const deadline = Date.now() + 10_000;
  // Until the kernel's buffers on both sides are full and frames are refused (bounded in count and time).
  for (let i = 0; i < 4_000 && refused < 50 && Date.now() < deadline; i++) {
    if (out.write(frame)) written++;
    else refused++;
    assert.ok(socket.writableLength <= bound, `${socket.writableLength} bytes wait, over ${bound}`);
    await new Promise((r) => setImmediate(r));
  }
  assert.ok(refused >= 50, `refused ${refused} after ${written} written`);
  assert.ok(written * frame.length < 64 * 1024 * 1024, 'what was accepted is what the kernel buffers hold, and the bound');
  socket.destroy();
  assert.equal(out.write(frame), false, 'a closed stream takes nothing');
  server.close();
});

test('holding reading: a stream whose peer does not take what is written is not read from, until what waited has gone', async () => {
  let peer: Socket | undefined;
  const server = createServer((s) => {
    peer = s;
    s.pause(); // reads nothing, for now
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const socket: Socket = connect({ host: '127.0.0.1', port: (server.address() as { port: number }).port });
  await once(socket, 'connect');
  socket.on('data', () => {});
  const out = new StreamWriter(socket, 256 * 1024, true);
  const frame = Buffer.alloc(64 * 1024, 1);
  const deadline = Date.now() + 10_000;
  while (out.write(frame) && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  assert.ok(socket.isPaused(), 'refused a frame: reading is held');
  peer!.resume(); // the peer reads again: what waited goes, and reading comes back
  await once(socket, 'drain');
  await new Promise((r) => setImmediate(r));
  assert.ok(!socket.isPaused(), 'reading again once what waited has gone');
  socket.destroy();
  peer!.destroy();
  server.close();
});
