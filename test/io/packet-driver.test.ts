import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import type { Address, Transmit } from '../../src/core/address.js';
import type { PacketTransport, SansIoCore } from '../../src/core/sans-io.js';
import { PacketDriver } from '../../src/io/packet-driver.js';

const to = { address: '127.0.0.1', port: 9 };

/** A transport that records what is sent, in order. */
class FakeTransport extends EventEmitter implements PacketTransport {
  sent: string[] = [];
  send(t: Transmit): void {
    this.sent.push(t.data.toString());
  }
  listen(onPacket: (data: Buffer, from: Address) => void): void {
    this.on('message', onPacket);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A core that answers a datagram with an acknowledgement (deferrable) and, once its store read is back, a reply. */
class AckThenReadCore implements SansIoCore {
  queue: Transmit[] = [];
  readDue = false;
  handleDatagram(): void {
    this.queue.push({ to, data: Buffer.from('ack'), deferrable: true });
    this.readDue = true;
  }
  handleTimeout(): void {}
  pollTransmit(): Transmit | undefined {
    return this.queue.shift();
  }
  nextDeadline(): number | undefined {
    return undefined;
  }
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

test('a deferrable datagram goes after the replies whose store results come back in the same turn', async () => {
  const socket = new FakeTransport();
  const core = new AckThenReadCore();
  const driver: PacketDriver = new PacketDriver(socket, core, () => {
    if (!core.readDue) return;
    core.readDue = false;
    // A store read, as the server runtime runs it: its result comes back as a promise.
    void Promise.resolve()
      .then(() => undefined)
      .then(() => {
        core.queue.push({ to, data: Buffer.from('reply') });
        driver.pump();
      });
  });
  socket.emit('message', Buffer.from('data'), to);
  assert.deepEqual(socket.sent, [], 'nothing goes before the read is back');
  await turn();
  await turn();
  assert.deepEqual(socket.sent, ['reply', 'ack']);
});

test('stopping sends what was deferred first', () => {
  const socket = new FakeTransport();
  const core = new AckThenReadCore();
  const driver = new PacketDriver(socket, core, () => undefined);
  socket.emit('message', Buffer.from('data'), to);
  driver.stop();
  assert.deepEqual(socket.sent, ['ack']);
  socket.emit('message', Buffer.from('data'), to);
  assert.deepEqual(socket.sent, ['ack'], 'a stopped driver takes nothing more');
});
